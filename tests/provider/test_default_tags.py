"""The provider's `default_tags` with the real terraform binary and the local cloud.

Every object (and every subnet) carries the default tags under the resource's own tags, while `tags` in state
keeps only the resource's own, so a plan after apply is empty. Changing `default_tags` alone plans an
in-place update of every resource (through `tags_all`) that rewrites the cloud's tags.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from tests.provider.cloud import REGION, ZONE_A, Cloud, tags
from tests.provider.workspace import Plan, Workspace

WORKSPACE = "5b0e8c3e-2f57-4a43-9d5e-4b1f0a6c7d10"
FIRST_DEFAULTS = {"portal:workspace": WORKSPACE, "portal:agency": "edu", "portal:retired": "yes"}
# One value changes, one key goes, one comes.
SECOND_DEFAULTS = {"portal:workspace": WORKSPACE, "portal:agency": "rst", "portal:cost-centre": "42"}
# The resources' own tags: one of them clashes with a default key and must win.
OWN_TAGS = {"owner": "jyt", "portal:agency": "own"}

ADDRESSES = (
    "pcloud_network.this",
    "pcloud_security_group.this",
    "pcloud_instance.this",
    "pcloud_volume.this",
    "pcloud_bucket.this",
    "pcloud_database.this",
)
# The network sets no tags of its own: its `tags` stay null.
UNTAGGED = "pcloud_network.this"
# Resources whose `name` is kept as the Name tag.
NAMED = ("pcloud_network.this", "pcloud_instance.this", "pcloud_volume.this")

CONFIGURATION = f"""
resource "pcloud_network" "this" {{
  cidr_block = "10.50.0.0/16"
  name       = "tagged-net"
  subnet {{
    name       = "app"
    cidr_block = "10.50.1.0/24"
    zone       = "{ZONE_A}"
  }}
}}

resource "pcloud_security_group" "this" {{
  name       = "tagged-web"
  network_id = pcloud_network.this.id
  tags       = local.own_tags
}}

resource "pcloud_instance" "this" {{
  name          = "tagged-app"
  image         = "ami-04681a1dbd79675a5"
  instance_type = "t3.micro"
  subnet_id     = pcloud_network.this.subnet_ids["app"]
  tags          = local.own_tags
}}

resource "pcloud_volume" "this" {{
  name = "tagged-data"
  zone = "{ZONE_A}"
  size = 8
  tags = local.own_tags
}}

resource "pcloud_bucket" "this" {{
  name = "edu-tagged-files"
  tags = local.own_tags
}}

resource "pcloud_database" "this" {{
  identifier        = "edu-tagged-db"
  engine            = "postgres"
  instance_class    = "db.t3.micro"
  allocated_storage = 20
  username          = "portal"
  password          = "tagged-password"
  tags              = local.own_tags
}}

locals {{
  own_tags = {{ {", ".join(f'"{key}" = "{value}"' for key, value in OWN_TAGS.items())} }}
}}
"""


@dataclass
class Stage:
    plan: Plan | None  # what the stage planned, where a test looks at it
    state: dict[str, dict[str, Any]]
    replan: Plan


def hcl_map(values: dict[str, str]) -> str:
    return "{ " + ", ".join(f'"{key}" = "{value}"' for key, value in values.items()) + " }"


def write(workspace: Workspace, cloud: Cloud, default_tags: dict[str, str]) -> None:
    provider = (
        f'  endpoint = "{cloud.endpoint}"\n  region = "{REGION}"\n  default_tags = {hcl_map(default_tags)}'
    )
    workspace.write(CONFIGURATION, provider=provider)


def apply_stage(workspace: Workspace) -> Stage:
    plan = workspace.plan()
    workspace.apply_plan()
    return Stage(plan=plan, state=workspace.state(), replan=workspace.plan())


def cloud_tags(cloud: Cloud, address: str, state: dict[str, Any]) -> dict[str, str]:
    """The tags the cloud holds on the object behind `address`."""
    object_id = state["id"]
    if address == "pcloud_network.this":
        return tags(cloud.vpc(object_id))
    if address == "pcloud_security_group.this":
        return tags(cloud.security_group(object_id))
    if address == "pcloud_instance.this":
        return tags(cloud.instance(object_id))
    if address == "pcloud_volume.this":
        return tags(cloud.volume(object_id))
    if address == "pcloud_bucket.this":
        return tags(cloud.s3.get_bucket_tagging(Bucket=object_id), "TagSet")
    return tags(cloud.database(object_id), "TagList")


def expected_cloud_tags(address: str, state: dict[str, Any], default_tags: dict[str, str]) -> dict[str, str]:
    own = {} if address == UNTAGGED else OWN_TAGS
    name = {"Name": state["name"]} if address in NAMED else {}
    return {**default_tags, **own, **name}


@pytest.fixture(scope="module")
def tagged(workspace: Workspace, cloud: Cloud) -> Stage:
    write(workspace, cloud, FIRST_DEFAULTS)
    workspace.init()
    workspace.apply()
    return Stage(plan=None, state=workspace.state(), replan=workspace.plan())


@pytest.fixture(scope="module")
def retagged(tagged: Stage, workspace: Workspace, cloud: Cloud) -> Stage:
    write(workspace, cloud, SECOND_DEFAULTS)
    return apply_stage(workspace)


@pytest.fixture(scope="module")
def from_old_state(retagged: Stage, workspace: Workspace) -> Plan:
    """Rewrite the state as provider 1.0.0 before default_tags wrote it (schema version 0, no `tags_all`), then
    plan."""
    path = workspace.directory / "terraform.tfstate"
    state = json.loads(path.read_text())
    for resource in state["resources"]:
        for instance in resource["instances"]:
            instance["schema_version"] = 0
            del instance["attributes"]["tags_all"]
    path.write_text(json.dumps(state))
    return workspace.plan()


def test_every_object_carries_the_default_tags_under_its_own(tagged: Stage, cloud: Cloud) -> None:
    assert {address: cloud_tags(cloud, address, tagged.state[address]) for address in ADDRESSES} == {
        address: expected_cloud_tags(address, tagged.state[address], FIRST_DEFAULTS) for address in ADDRESSES
    }


def test_subnets_carry_the_default_tags(tagged: Stage, cloud: Cloud) -> None:
    (subnet,) = cloud.subnets(tagged.state[UNTAGGED]["id"]).values()

    assert tags(subnet) == {**FIRST_DEFAULTS, "Name": "app"}


def test_state_tags_hold_only_the_resources_own_tags(tagged: Stage) -> None:
    assert {address: tagged.state[address]["tags"] for address in ADDRESSES} == {
        address: None if address == UNTAGGED else OWN_TAGS for address in ADDRESSES
    }
    assert tagged.state["pcloud_bucket.this"]["tags_all"] == {**FIRST_DEFAULTS, **OWN_TAGS}


def test_default_tags_show_no_diff_after_apply(tagged: Stage) -> None:
    assert tagged.replan.actions == {}


def changed_attributes(plan: Plan, address: str) -> set[str]:
    change = plan.changes[address]
    changed = {key for key, value in change["after"].items() if change["before"].get(key) != value}
    return changed | {key for key, unknown in change["after_unknown"].items() if unknown is True}


def test_changing_default_tags_alone_updates_every_object_in_place(retagged: Stage, tagged: Stage) -> None:
    assert retagged.plan.actions == {address: ["update"] for address in ADDRESSES}
    # Not `tags`: a key dropped from default_tags does not turn into one of the resource's own tags.
    assert {address: changed_attributes(retagged.plan, address) for address in ADDRESSES} == {
        address: {"tags_all"} for address in ADDRESSES
    }
    assert {address: retagged.state[address]["id"] for address in ADDRESSES} == {
        address: tagged.state[address]["id"] for address in ADDRESSES
    }
    assert retagged.replan.actions == {}


def test_changed_default_tags_reach_the_cloud(retagged: Stage, cloud: Cloud) -> None:
    assert {address: cloud_tags(cloud, address, retagged.state[address]) for address in ADDRESSES} == {
        address: expected_cloud_tags(address, retagged.state[address], SECOND_DEFAULTS)
        for address in ADDRESSES
    }


def test_subnets_get_added_and_changed_default_tags(retagged: Stage, cloud: Cloud) -> None:
    (subnet,) = cloud.subnets(retagged.state[UNTAGGED]["id"]).values()

    # Subnet tags are not authoritative: a key dropped from default_tags stays on an existing subnet.
    assert tags(subnet) == {**FIRST_DEFAULTS, **SECOND_DEFAULTS, "Name": "app"}


def test_state_from_before_tags_all_is_upgraded_and_plans_no_change(from_old_state: Plan) -> None:
    assert from_old_state.actions == {}
