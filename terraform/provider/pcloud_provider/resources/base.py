"""What every pcloud resource shares: one create/read/update/delete/import flow, error reporting, tags,
and adoption.

A resource implements small steps and the base class turns them into Terraform's operations:

- `_create(planned)` asks the cloud for the object, carrying its tags from the start, and returns its id
  without waiting;
- `_await(object_id)` waits until a new object, or an adopted one in whatever live state, can be configured;
- `_read(object_id, known)` reports the object as state, or None when it no longer exists (Terraform then
  drops it from state and plans to create it again); `known` supplies what the cloud never reports back,
  such as a password;
- `_converge(object_id, current, planned)` changes what differs between the object as the cloud reports it
  now and the planned state; create and update both end with it, so each setting is written in one place;
- `_delete(current)` removes the object, and succeeds when it is already gone;
- `_identity(state)` and `_find(planned, workspace)` name the object within a workspace and look for live
  objects of that workspace with that identity (see adoption below).

Tags: the provider's `default_tags` go on every object it creates or updates, under the resource's own
`tags`. `tags` in state holds the resource's own tags only (default keys are left out unless the resource
sets them itself), so configurations never see the defaults as drift; `tags_all` holds every tag, so a
change of `default_tags` plans an in-place update of every object.

Adoption: a worker can die after the cloud made an object and before Terraform wrote it to state. When
`default_tags` holds `portal:workspace`, create first looks for a live object carrying the same workspace tag
and the same identity and, if there is one, takes it over and converges it to the plan instead of making a
second one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from tf.iface import (
    Config,
    CreateContext,
    DeleteContext,
    ImportContext,
    PlanContext,
    ReadContext,
    Resource,
    State,
    UpdateContext,
    UpgradeContext,
)
from tf.schema import Attribute, Schema
from tf.types import Map, String, Unknown
from tf.utils import Diagnostics

from pcloud_provider.inflight import changes_the_cloud

if TYPE_CHECKING:
    from pcloud_provider.provider import PcloudProvider

T = TypeVar("T")

# Error codes meaning "no such thing": the object itself, or an optional part of it (a bucket's tags).
_ABSENT_CODES = frozenset(
    {
        "404",
        "NoSuchBucket",
        "NoSuchTagSet",
        "NoSuchPublicAccessBlockConfiguration",
        "ServerSideEncryptionConfigurationNotFoundError",
        "DBInstanceNotFound",
        "DBInstanceNotFoundFault",
    }
)

# Error codes meaning "that name is taken", for objects whose name must be unique.
_TAKEN_CODES = frozenset(
    {"BucketAlreadyExists", "BucketAlreadyOwnedByYou", "DBInstanceAlreadyExists", "InvalidGroup.Duplicate"}
)

# The default tag that names the portal workspace, and so turns adoption on.
WORKSPACE_TAG = "portal:workspace"

# Stored with each object's state. A schema change that old state does not fit bumps it and adds to `upgrade`.
# Without an explicit version the tf framework "upgrades" every state it is given, with a warning each time.
# 1: `tags_all` added.
SCHEMA_VERSION = 1

# Waits are long enough for a real cloud (a database takes minutes); a local cloud answers on the first poll.
WAIT_DELAY_SECONDS = 5
WAIT_TIMEOUT_SECONDS = 1800


class CloudError(Exception):
    """A problem the provider detected itself, reported to Terraform like an error from the cloud."""


def given(value: Any) -> bool:
    """True when a configuration value is set and known at plan time."""
    return value is not None and value is not Unknown


def known_blocks(config: Config, name: str) -> list[dict[str, Any]]:
    """The nested blocks of a configuration; none while a `dynamic` block's collection is still unknown."""
    value = config.get(name)
    return value if given(value) else []


def check_whole(diagnostics: Diagnostics, config: Config, attribute: str, low: int, high: int) -> None:
    """Report a number argument that is not a whole number from `low` to `high`."""
    value = config.get(attribute)
    if given(value) and (value != int(value) or not low <= value <= high):
        diagnostics.add_error(f"{attribute} must be a whole number from {low} to {high}", path=[attribute])


def _error_code(exc: Exception) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "")


def absent(call: Callable[[], T], also: Collection[str] = ()) -> T | None:
    """Run a cloud call; None when the cloud answers that the thing asked for does not exist (or with one of
    the error codes in `also`)."""
    try:
        return call()
    except Exception as exc:
        code = _error_code(exc)
        if code in _ABSENT_CODES or code.endswith(".NotFound") or code in also:
            return None
        raise


@contextmanager
def unique(what: str) -> Iterator[None]:
    """Turn the cloud's "name already taken" answer to a create call into an error that says what to do."""
    try:
        yield
    except Exception as exc:
        if _error_code(exc) not in _TAKEN_CODES:
            raise
        raise CloudError(
            f"{what} already exists and is not in this configuration's state. If it belongs here, "
            f"bring it in with `terraform import`; otherwise choose another name. ({exc})"
        ) from exc


def _is_cloud_error(exc: Exception) -> bool:
    if isinstance(exc, CloudError):
        return True
    # botocore is loaded by now: only a client can have raised its errors.
    from botocore.exceptions import BotoCoreError, ClientError

    return isinstance(exc, BotoCoreError | ClientError)


@contextmanager
def reported(diagnostics: Diagnostics, summary: str) -> Iterator[None]:
    """Turn a cloud error inside the block into a Terraform error diagnostic; let programming errors raise."""
    try:
        yield
    except Exception as exc:
        if not _is_cloud_error(exc):
            raise
        diagnostics.add_error(summary, str(exc))


def wait(client: Any, waiter_name: str, **params: Any) -> None:
    """Block on a boto3 waiter with the provider's delay and timeout."""
    client.get_waiter(waiter_name).wait(
        **params,
        WaiterConfig={"Delay": WAIT_DELAY_SECONDS, "MaxAttempts": WAIT_TIMEOUT_SECONDS // WAIT_DELAY_SECONDS},
    )


def poll(done: Callable[[], bool], what: str) -> None:
    """Wait until `done()` is true, for cloud changes that have no boto3 waiter."""
    deadline = time.monotonic() + WAIT_TIMEOUT_SECONDS
    while not done():
        if time.monotonic() > deadline:
            raise CloudError(f"Timed out after {WAIT_TIMEOUT_SECONDS} s waiting for {what}.")
        time.sleep(WAIT_DELAY_SECONDS)


def tag_dict(tag_list: list[dict[str, str]] | None) -> dict[str, str]:
    """AWS's [{"Key": k, "Value": v}] as {k: v}."""
    return {tag["Key"]: tag["Value"] for tag in tag_list or []}


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """{k: v} as AWS's [{"Key": k, "Value": v}]."""
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


def tags_state(cloud_tags: dict[str, str], default_tags: dict[str, str], known: State) -> dict[str, Any]:
    """`tags` and `tags_all` to report for an object carrying `cloud_tags`.

    `tags` leaves out the default tags' keys unless the resource sets that key itself, and stays null while
    nothing is left and the configuration sets none, so an unset argument shows no diff. Keys that were
    default tags when `known` was written stay out too: one dropped from default_tags is still on the object
    until the next apply removes it. `tags_all` is every tag; it differs from the plan when the default tags
    change or drift.
    """
    configured = known.get("tags") or {}
    earlier = known.get("tags_all")
    earlier_defaults = set(earlier) - set(configured) if given(earlier) and earlier else set()
    hidden = (set(default_tags) | earlier_defaults) - set(configured)
    own = {key: value for key, value in cloud_tags.items() if key not in hidden}
    return {"tags": None if not own and known.get("tags") is None else own, "tags_all": dict(cloud_tags)}


def update_tags(
    current: dict[str, str],
    wanted: dict[str, str],
    *,
    put: Callable[[dict[str, str]], None],
    remove: Callable[[list[str]], None],
) -> None:
    """Write the tags that differ and remove the stale ones, through the service's own tag calls."""
    stale = sorted(set(current) - set(wanted))
    changed = {key: value for key, value in wanted.items() if current.get(key) != value}
    if stale:
        remove(stale)
    if changed:
        put(changed)


def tags_attributes() -> list[Attribute]:
    return [
        Attribute(
            "tags",
            Map(String()),
            optional=True,
            description="Tags on the cloud object; they win over the provider's default_tags.",
        ),
        Attribute(
            "tags_all",
            Map(String()),
            computed=True,
            description="Every tag on the cloud object: the provider's default_tags merged with tags.",
        ),
    ]


class CloudResource(Resource):
    """A Terraform resource backed by one cloud object with an id; see the module docstring."""

    TYPE: ClassVar[str]
    SCHEMA: ClassVar[Schema]
    # Arguments the cloud never reports back, and the value an imported object starts with.
    IMPORT_DEFAULTS: ClassVar[State] = {}

    def __init__(self, provider: PcloudProvider) -> None:
        self.provider = provider

    @classmethod
    def get_name(cls) -> str:
        return cls.TYPE

    @classmethod
    def get_schema(cls) -> Schema:
        return cls.SCHEMA

    def validate(self, diags: Diagnostics, type_name: str, config: Config) -> None:
        super().validate(diags, type_name, config)
        if not diags.has_errors():
            self._check(diags, config)

    def _check(self, diagnostics: Diagnostics, config: Config) -> None:
        """Resource-specific configuration checks; values may still be unknown here."""

    def _create(self, planned: State) -> str:
        raise NotImplementedError

    def _await(self, object_id: str, new: bool) -> None:
        """Wait until the object, `new` or adopted in any live state, can be configured; by default at once."""

    def _identity(self, state: State) -> str | None:
        """What names the object within a workspace, e.g. 'Name "web"'; None when the state names nothing."""
        return None

    def _find(self, planned: State, workspace: str) -> list[str]:
        """Ids of live objects that carry the workspace tag `workspace` and the planned identity."""
        return []

    def _read(self, object_id: str, known: State) -> State | None:
        raise NotImplementedError

    def _converge(self, object_id: str, current: State, planned: State) -> None:
        raise NotImplementedError

    def _delete(self, current: State) -> None:
        raise NotImplementedError

    def _read_existing(self, object_id: str, known: State) -> State:
        state = self._read(object_id, known)
        if state is None:
            raise CloudError(
                f"{self.TYPE} {object_id} disappeared from the cloud while Terraform was changing it."
            )
        return state

    def _plan(self, ctx: PlanContext, current: State, planned: State) -> State:
        """Resource-specific plan adjustments for an update (Terraform plans a create without asking)."""
        return planned

    def plan(self, ctx: PlanContext, current: State | None, planned: State) -> State:
        planned["tags_all"] = self._planned_tags_all(planned.get("tags"))
        return self._plan(ctx, current, planned)

    def _planned_tags_all(self, tags: Any) -> Any:
        defaults = self.provider.default_tags
        if not given(defaults) or tags is Unknown or not all(given(value) for value in (tags or {}).values()):
            return Unknown
        return {**defaults, **(tags or {})}

    def _wanted_tags(self, planned: State) -> dict[str, str]:
        """The tags the object should carry: the provider's default tags, then the resource's own."""
        return {**self.provider.applied_default_tags(), **(planned["tags"] or {})}

    def _tags_state(self, cloud_tags: dict[str, str], known: State) -> dict[str, Any]:
        defaults = self.provider.default_tags
        return tags_state(cloud_tags, defaults if given(defaults) else {}, known)

    @changes_the_cloud
    def create(self, ctx: CreateContext, planned: State) -> State | None:
        object_id: str | None = None
        with reported(ctx.diagnostics, f"Could not create {ctx.type_name}"):
            object_id, new = self._adopt_or_create(ctx, planned)
            self._await(object_id, new)
            self._converge(object_id, self._read_existing(object_id, planned), planned)
            return self._read_existing(object_id, planned)
        if object_id is None:
            return None
        # The object exists but is not fully set up. Returning it lets Terraform record it as tainted and
        # replace it on the next apply, instead of leaving it orphaned in the cloud.
        with reported(ctx.diagnostics, f"Could not read {ctx.type_name} {object_id}"):
            return self._read(object_id, planned)
        return None

    def _adopt_or_create(self, ctx: CreateContext, planned: State) -> tuple[str, bool]:
        """(id, new) of the object this resource gets: a live one of its workspace with its identity, or a new one."""
        claims = self.provider.claims
        workspace = self.provider.applied_default_tags().get(WORKSPACE_TAG)
        identity = self._identity(planned) if workspace is not None else None
        if identity is None:
            if workspace is not None:
                ctx.diagnostics.add_warning(
                    f"{ctx.type_name} has no name, so it cannot be adopted",
                    "With default_tags portal:workspace set, a create retried after its state was lost finds "
                    "the object it made before by name. Give this resource a `name`, unique in the workspace.",
                )
            object_id = self._create(planned)
            claims.created(self.TYPE, object_id)
            return object_id, True
        with claims.identity(self.TYPE, identity):
            refused: list[str] = []
            for candidate in self._find(planned, workspace):
                found = self._read(candidate, planned) if claims.available(self.TYPE, candidate) else None
                if found is None:
                    continue
                differences = self._fixed_differences(found, planned)
                if differences:
                    refused.append(f"{candidate} ({differences})")
                elif claims.adopt(self.TYPE, candidate):
                    return candidate, False
            if refused:
                raise CloudError(
                    f"Found {self.TYPE} {', '.join(refused)} carrying {WORKSPACE_TAG} {workspace!r} and "
                    f"{identity}, as this resource would, but differing in what only a new object can "
                    "change. It may be left from an apply whose state was lost: bring it in with "
                    "`terraform import`, or delete it, then apply again. (A create_before_destroy "
                    "replacement needs a new name.)"
                )
            object_id = self._create(planned)
            claims.created(self.TYPE, object_id)
            return object_id, True

    def _fixed_differences(self, found: State, planned: State) -> str:
        """What differs between the object and the plan in arguments that only a new object can change."""
        return ", ".join(
            f"{attribute.name} is {found[attribute.name]!r}, not {planned[attribute.name]!r}"
            for attribute in self.SCHEMA.attributes
            if attribute.requires_replace
            and given(planned[attribute.name])
            and found[attribute.name] != planned[attribute.name]
        )

    def read(self, ctx: ReadContext, current: State) -> State | None:
        with reported(ctx.diagnostics, f"Could not read {ctx.type_name} {current['id']}"):
            return self._read(current["id"], current)
        # Never drop an object from state because the cloud could not be asked; Terraform stops on the error.
        return current

    @changes_the_cloud
    def update(self, ctx: UpdateContext, current: State, planned: State) -> State | None:
        object_id = current["id"]
        with reported(ctx.diagnostics, f"Could not update {ctx.type_name} {object_id}"):
            self._converge(object_id, self._read_existing(object_id, current), planned)
            return self._read_existing(object_id, planned)
        # Keep the prior state; the next refresh reports whatever part of the change did happen.
        return current

    @changes_the_cloud
    def delete(self, ctx: DeleteContext, current: State) -> None:
        with reported(ctx.diagnostics, f"Could not delete {ctx.type_name} {current['id']}"):
            if not self.provider.claims.start_delete(self.TYPE, current["id"]):
                ctx.diagnostics.add_warning(
                    f"Kept {ctx.type_name} {current['id']}",
                    "Another resource of this configuration adopted it in this apply (same workspace and "
                    "identity), so it now belongs to that resource and is not deleted.",
                )
                return
            self._delete(current)

    def upgrade(self, ctx: UpgradeContext, version: int, old: State) -> State | None:
        """Make state written under an older schema version fit this one; the next read fills in the rest."""
        if version < 1:
            old.setdefault("tags_all", None)
        return old

    def import_(self, ctx: ImportContext, id: str) -> State | None:
        with reported(ctx.diagnostics, f"Could not import {ctx.type_name} {id}"):
            state = self._read(id, dict(self.IMPORT_DEFAULTS))
            if state is None:
                ctx.diagnostics.add_error(
                    f"Cannot import {ctx.type_name}: the cloud has no object with id {id!r}"
                )
            return state
        return None
