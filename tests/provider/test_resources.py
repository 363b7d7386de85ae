"""Resource logic in-process, without a cloud: configuration checks, plan adjustments, default tags, how the
shared create/read flow reports cloud errors, and how create adopts an object left by a lost apply."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pcloud_provider.provider import PcloudProvider
from pcloud_provider.resources.base import WORKSPACE_TAG, CloudResource, absent, tags_state
from pcloud_provider.resources.bucket import Bucket
from pcloud_provider.resources.database import Database
from pcloud_provider.resources.instance import Instance
from pcloud_provider.resources.network import Network
from pcloud_provider.resources.security_group import SecurityGroup
from pcloud_provider.resources.volume import Volume
from tf.iface import CreateContext, DeleteContext, PlanContext, ReadContext, State
from tf.schema import Attribute, Schema
from tf.types import String, Unknown
from tf.utils import Diagnostics


def cloud_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} from the cloud"}}, "Operation")


def problems(resource_class: type[CloudResource], config: dict[str, Any]) -> list[str]:
    diagnostics = Diagnostics()
    resource_class(PcloudProvider()).validate(diagnostics, f"pcloud_{resource_class.TYPE}", config)
    return [diagnostic.summary for diagnostic in diagnostics.diagnostics]


def rule(port: Any, to_port: Any = None, protocol: str = "tcp") -> dict[str, Any]:
    return {"protocol": protocol, "port": port, "to_port": to_port, "cidr_blocks": ["10.0.0.0/8"]}


def subnet(name: str, cidr: str, zone: str = "cn-north-1a") -> dict[str, Any]:
    return {"name": name, "cidr_block": cidr, "zone": zone}


# --- configuration checks -----------------------------------------------------------------------------------


def test_two_subnets_may_not_share_a_name() -> None:
    config = {"subnet": [subnet("app", "10.0.1.0/24"), subnet("app", "10.0.2.0/24")]}

    assert problems(Network, config) == ['Two subnets are named "app"']


def test_blocks_from_a_dynamic_block_not_yet_known_pass_the_checks() -> None:
    assert problems(Network, {"subnet": Unknown}) == []
    assert problems(SecurityGroup, {"ingress": Unknown}) == []


def test_ingress_rules_for_the_same_ports_must_be_one_block() -> None:
    config = {"ingress": [rule(443), rule(443), rule(8000, 8080)]}

    assert problems(SecurityGroup, config) == [
        "Two ingress blocks for tcp port 443; list all their CIDR blocks in one"
    ]


@pytest.mark.parametrize(
    ("ingress", "problem"),
    [
        (rule(22, protocol="icmp"), 'Protocol "icmp" is not one of tcp, udp'),
        (rule(70000), "Port 70000 is not a whole number from 0 to 65535"),
        (rule(8080, 8000), "to_port 8000 is below port 8080"),
        (rule(443, 443), "to_port equals port 443; leave to_port unset for a single port"),
    ],
)
def test_ingress_rules_are_checked(ingress: dict[str, Any], problem: str) -> None:
    assert problems(SecurityGroup, {"ingress": [ingress]}) == [problem]


def test_the_name_tag_is_set_through_name() -> None:
    assert problems(Instance, {"tags": {"Name": "web"}}) == ['Set the "Name" tag through the `name` argument']


def test_a_security_group_may_carry_a_name_tag_of_its_own() -> None:
    assert problems(SecurityGroup, {"tags": {"Name": "web"}}) == []


def test_a_volume_device_needs_an_instance_but_the_instance_may_be_unknown_yet() -> None:
    assert problems(Volume, {"size": 10, "instance_id": None, "device_name": "/dev/sdf"}) == [
        "Set instance_id and device_name together"
    ]
    assert problems(Volume, {"size": 10, "instance_id": Unknown, "device_name": "/dev/sdf"}) == []


def test_bucket_encryption_is_one_of_the_offered_kinds() -> None:
    assert problems(Bucket, {"encryption": "DES"}) == ['Encryption "DES" is not one of none, AES256, aws:kms']


def test_database_settings_are_checked() -> None:
    config = {"password": "short", "allocated_storage": 20.5, "backup_retention": 40}

    assert problems(Database, config) == [
        "The password needs at least 8 characters",
        "allocated_storage must be a whole number from 1 to 65536",
        "backup_retention must be a whole number from 0 to 35",
    ]


# --- plan adjustments ---------------------------------------------------------------------------------------


def plan(
    resource: CloudResource, current: State, planned: State, changed: set[str]
) -> tuple[State, Diagnostics]:
    diagnostics = Diagnostics()
    result = resource.plan(PlanContext(diagnostics, resource.TYPE, changed_fields=changed), current, planned)
    return result, diagnostics


def test_network_plan_keeps_the_ids_of_subnets_that_stay_and_leaves_new_ones_unknown() -> None:
    current = {
        "subnet": [subnet("app", "10.0.1.0/24"), subnet("db", "10.0.2.0/24")],
        "subnet_ids": {"app": "subnet-app", "db": "subnet-db"},
    }
    planned = {
        "subnet": [subnet("app", "10.0.1.0/24"), subnet("db", "10.0.3.0/24"), subnet("web", "10.0.4.0/24")],
        "subnet_ids": current["subnet_ids"],
    }

    result, _ = plan(Network(PcloudProvider()), current, planned, set())

    assert result["subnet_ids"] == {"app": "subnet-app", "db": Unknown, "web": Unknown}


def test_resizing_an_instance_leaves_its_state_unknown_until_applied() -> None:
    current = {"instance_type": "t3.micro", "state": "running"}

    resized, _ = plan(
        Instance(PcloudProvider()), current, {**current, "instance_type": "t3.large"}, {"instance_type"}
    )
    tagged, _ = plan(Instance(PcloudProvider()), current, dict(current), {"tags"})

    assert resized["state"] is Unknown
    assert tagged["state"] == "running"


@pytest.mark.parametrize(("resource_class", "attribute"), [(Volume, "size"), (Database, "allocated_storage")])
def test_storage_cannot_shrink(resource_class: type[CloudResource], attribute: str) -> None:
    _, diagnostics = plan(resource_class(PcloudProvider()), {attribute: 20}, {attribute: 10}, {attribute})

    assert diagnostics.has_errors()
    assert diagnostics.diagnostics[0].path == [attribute]


# --- the shared flow ----------------------------------------------------------------------------------------


class HalfWorkingResource(CloudResource):
    """Creates its object, then fails to configure it, as a cloud might under throttling."""

    TYPE = "half_working"

    def _create(self, planned: State) -> str:
        return "obj-1"

    def _read(self, object_id: str, known: State) -> State | None:
        return {"id": object_id}

    def _converge(self, object_id: str, current: State, planned: State) -> None:
        raise cloud_error("Throttling")


def test_create_that_fails_after_making_the_object_still_returns_it() -> None:
    diagnostics = Diagnostics()

    state = HalfWorkingResource(PcloudProvider()).create(
        CreateContext(diagnostics, "pcloud_half_working"), {}
    )

    # Terraform records the object as tainted and replaces it, rather than losing track of it.
    assert state == {"id": "obj-1"}
    assert [(d.summary, d.detail) for d in diagnostics.diagnostics] == [
        (
            "Could not create pcloud_half_working",
            "An error occurred (Throttling) when calling the Operation operation: Throttling from the cloud",
        )
    ]


def test_read_that_cannot_reach_the_cloud_keeps_the_state() -> None:
    class Unreachable(HalfWorkingResource):
        def _read(self, object_id: str, known: State) -> State | None:
            raise cloud_error("RequestLimitExceeded")

    diagnostics = Diagnostics()
    current = {"id": "obj-1"}

    assert (
        Unreachable(PcloudProvider()).read(ReadContext(diagnostics, "pcloud_half_working"), current)
        == current
    )
    assert diagnostics.has_errors()


def test_programming_errors_are_not_dressed_up_as_cloud_errors() -> None:
    class Broken(HalfWorkingResource):
        def _converge(self, object_id: str, current: State, planned: State) -> None:
            raise KeyError("subnet")

    with pytest.raises(KeyError):
        Broken(PcloudProvider()).create(CreateContext(Diagnostics(), "pcloud_half_working"), {})


@pytest.mark.parametrize("code", ["InvalidInstanceID.NotFound", "NoSuchBucket", "DBInstanceNotFound", "404"])
def test_absent_turns_not_found_answers_into_none(code: str) -> None:
    def lookup() -> None:
        raise cloud_error(code)

    assert absent(lookup) is None


def test_absent_lets_other_errors_through() -> None:
    def lookup() -> None:
        raise cloud_error("UnauthorizedOperation")

    with pytest.raises(ClientError):
        absent(lookup)


# --- default tags -------------------------------------------------------------------------------------------

DEFAULTS = {WORKSPACE_TAG: "w1", "portal:agency": "edu"}


def test_state_tags_leave_out_default_keys_unless_the_resource_sets_them() -> None:
    cloud_tags = {WORKSPACE_TAG: "w1", "portal:agency": "own", "owner": "jyt"}

    reported = tags_state(cloud_tags, DEFAULTS, {"tags": {"portal:agency": "own", "owner": "jyt"}})

    assert reported == {"tags": {"portal:agency": "own", "owner": "jyt"}, "tags_all": cloud_tags}


def test_state_tags_stay_null_when_only_default_tags_are_on_the_object() -> None:
    assert tags_state(DEFAULTS, DEFAULTS, {"tags": None}) == {"tags": None, "tags_all": DEFAULTS}
    assert tags_state(DEFAULTS, DEFAULTS, {})["tags"] is None  # import


def test_a_key_dropped_from_default_tags_does_not_become_a_resource_tag() -> None:
    known = {"tags": {"owner": "jyt"}, "tags_all": {"portal:retired": "yes", "owner": "jyt"}}

    reported = tags_state({"portal:retired": "yes", "owner": "jyt"}, {}, known)

    assert reported["tags"] == {"owner": "jyt"}


def test_a_tag_added_outside_terraform_shows_as_drift_in_tags() -> None:
    known = {"tags": {"owner": "jyt"}, "tags_all": {**DEFAULTS, "owner": "jyt"}}

    reported = tags_state({**DEFAULTS, "owner": "jyt", "manual": "x"}, DEFAULTS, known)

    assert reported["tags"] == {"owner": "jyt", "manual": "x"}


def test_plan_merges_default_tags_under_the_resources_own_into_tags_all() -> None:
    provider = PcloudProvider()
    provider.default_tags = DEFAULTS
    planned = {"tags": {"portal:agency": "own"}}

    result, _ = plan(Bucket(provider), dict(planned), planned, set())

    assert result["tags_all"] == {WORKSPACE_TAG: "w1", "portal:agency": "own"}


def test_tags_all_is_unknown_while_the_default_tags_are() -> None:
    provider = PcloudProvider()
    provider.default_tags = Unknown

    result, _ = plan(Bucket(provider), {"tags": None}, {"tags": None}, set())

    assert result["tags_all"] is Unknown


# --- adoption -----------------------------------------------------------------------------------------------


class Thing(CloudResource):
    """A resource over a dictionary standing in for the cloud: objects by id, each with a name and a zone."""

    TYPE = "thing"
    SCHEMA = Schema(
        attributes=[
            Attribute("id", String(), computed=True),
            Attribute("name", String(), optional=True),
            Attribute("zone", String(), required=True, requires_replace=True),
        ]
    )

    def __init__(self, provider: PcloudProvider, objects: dict[str, dict[str, Any]]) -> None:
        super().__init__(provider)
        self.objects = objects

    def _create(self, planned: State) -> str:
        object_id = f"thing-{len(self.objects) + 1}"
        self.objects[object_id] = {"name": planned["name"], "zone": planned["zone"], "workspace": "w1"}
        return object_id

    def _identity(self, state: State) -> str | None:
        return f'name "{state["name"]}"' if state["name"] else None

    def _find(self, planned: State, workspace: str) -> list[str]:
        return [
            object_id
            for object_id, found in sorted(self.objects.items())
            if (found["name"], found["workspace"]) == (planned["name"], workspace)
        ]

    def _read(self, object_id: str, known: State) -> State | None:
        found = self.objects.get(object_id)
        return None if found is None else {"id": object_id, "name": found["name"], "zone": found["zone"]}

    def _converge(self, object_id: str, current: State, planned: State) -> None:
        pass

    def _delete(self, current: State) -> None:
        self.objects.pop(current["id"], None)


def provider_with(default_tags: dict[str, str]) -> PcloudProvider:
    provider = PcloudProvider()
    provider.default_tags = default_tags
    return provider


def create_thing(
    provider: PcloudProvider, objects: dict[str, dict[str, Any]], name: str | None = "web", zone: str = "a"
) -> tuple[State | None, Diagnostics]:
    diagnostics = Diagnostics()
    planned = {"id": Unknown, "name": name, "zone": zone}
    return Thing(provider, objects).create(CreateContext(diagnostics, "pcloud_thing"), planned), diagnostics


LEFT_BEHIND = {"thing-1": {"name": "web", "zone": "a", "workspace": "w1"}}


def test_create_adopts_the_live_object_of_its_workspace_and_name() -> None:
    objects = dict(LEFT_BEHIND)

    state, diagnostics = create_thing(provider_with(DEFAULTS), objects)

    assert state == {"id": "thing-1", "name": "web", "zone": "a"}
    assert list(objects) == ["thing-1"]
    assert not diagnostics.diagnostics


def test_without_the_workspace_default_tag_create_never_looks() -> None:
    objects = dict(LEFT_BEHIND)

    state, _ = create_thing(provider_with({"portal:agency": "edu"}), objects)

    assert state["id"] == "thing-2"


def test_an_object_of_another_workspace_is_not_adopted() -> None:
    objects = dict(LEFT_BEHIND)

    state, _ = create_thing(provider_with({WORKSPACE_TAG: "w2"}), objects)

    assert state["id"] == "thing-2"


def test_two_resources_with_one_identity_in_one_apply_get_one_object_each() -> None:
    provider, objects = provider_with(DEFAULTS), {}

    first, _ = create_thing(provider, objects)
    second, _ = create_thing(provider, objects)

    assert (first["id"], second["id"]) == ("thing-1", "thing-2")


def test_an_object_that_differs_in_what_forces_a_new_one_is_refused_not_duplicated() -> None:
    objects = dict(LEFT_BEHIND)

    state, diagnostics = create_thing(provider_with(DEFAULTS), objects, zone="b")

    assert state is None
    assert list(objects) == ["thing-1"]
    assert "thing-1 (zone is 'a', not 'b')" in diagnostics.diagnostics[0].detail


def test_an_unnamed_object_is_created_with_a_warning_that_it_cannot_be_adopted() -> None:
    objects = dict(LEFT_BEHIND)

    state, diagnostics = create_thing(provider_with(DEFAULTS), objects, name=None)

    assert state["id"] == "thing-2"
    assert [d.summary for d in diagnostics.diagnostics] == [
        "pcloud_thing has no name, so it cannot be adopted"
    ]


def test_an_object_adopted_by_another_resource_in_this_apply_is_not_deleted() -> None:
    provider, objects = provider_with(DEFAULTS), dict(LEFT_BEHIND)
    create_thing(provider, objects)  # a resource under a new address takes the object over
    diagnostics = Diagnostics()

    Thing(provider, objects).delete(DeleteContext(diagnostics, "pcloud_thing"), {"id": "thing-1"})

    assert "thing-1" in objects
    assert [d.summary for d in diagnostics.diagnostics] == ["Kept pcloud_thing thing-1"]


def test_an_object_being_deleted_in_this_apply_is_not_adopted() -> None:
    provider, objects = provider_with(DEFAULTS), dict(LEFT_BEHIND)

    class SlowToDelete(Thing):
        def _delete(self, current: State) -> None:
            pass  # still listed while the cloud deletes it

    SlowToDelete(provider, objects).delete(DeleteContext(Diagnostics(), "pcloud_thing"), {"id": "thing-1"})
    state, _ = create_thing(provider, objects)

    assert state["id"] == "thing-2"


def test_a_create_in_flight_is_not_adopted_by_a_parallel_resource_with_the_same_identity() -> None:
    provider, objects = provider_with(DEFAULTS), {}
    in_flight = threading.Event()

    class SlowToCreate(Thing):
        def _create(self, planned: State) -> str:
            object_id = super()._create(planned)  # visible in the cloud before the call returns
            in_flight.set()
            time.sleep(0.2)
            return object_id

    results: list[State | None] = []

    def create_first() -> None:
        planned = {"id": Unknown, "name": "web", "zone": "a"}
        results.append(
            SlowToCreate(provider, objects).create(CreateContext(Diagnostics(), "pcloud_thing"), planned)
        )

    first = threading.Thread(target=create_first)
    first.start()
    in_flight.wait(5)
    second, _ = create_thing(provider, objects)
    first.join()

    assert sorted([results[0]["id"], second["id"]]) == ["thing-1", "thing-2"]
