"""Writes of the portal app: the audit trail, agencies and their members, role grants, API tokens."""
import datetime
import json
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from . import audit_chain
from .audit import current_ip
from .choices import ADMIN_ROLES, AuditOutcome, Role
from .errors import DomainError, PermissionDenied
from .identity import DirectoryGrant
from .models import Agency, AuditEvent, User
from .permissions import agency_group, cloud_group
from .roles import AGENCY_SCOPED, CLOUD_SCOPED, STAFF_ROLES, is_directory_managed
from .separation import break_glass_making, role_of_group, roles_check, roles_held

logger = logging.getLogger(__name__)

# Any constant works; it names the advisory lock that keeps the hash chain a chain under concurrent writers.
AUDIT_CHAIN_LOCK = 7_311_042
# The event audit_purge leaves in the chain; the newest one says where the chain now starts.
AUDIT_PURGE_ACTION = "audit.purge"


@transaction.atomic
def audit_record(
    *,
    actor: User | None,
    action: str,
    obj: Model | None = None,
    agency: Agency | None = None,
    outcome: str = AuditOutcome.SUCCESS,
    details: dict | None = None,
    actor_username: str = "",
    source_ip: str | None = None,
) -> AuditEvent:
    """Append one event to the trail, chained to the one before it, in the caller's transaction."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [AUDIT_CHAIN_LOCK])
    # SQLite runs every write transaction IMMEDIATE (see settings), so writers are serial there already.
    previous = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or ""
    if agency is None and obj is not None:
        agency = getattr(obj, "agency", None) if not isinstance(obj, Agency) else obj
    event = AuditEvent(
        occurred_at=timezone.now(),
        actor=actor if actor is not None and actor.pk else None,
        actor_username=(actor.get_username() if actor is not None and actor.pk else actor_username),
        source_ip=source_ip or current_ip.get(),
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:255] if obj is not None else "",
        agency=agency if isinstance(agency, Agency) else None,
        outcome=outcome,
        # Stored JSON is what verification reads back, so hash exactly that.
        details=json.loads(json.dumps(details or {}, cls=DjangoJSONEncoder)),
        prev_hash=previous,
        key_id=audit_chain.current_key_id(),
    )
    event.hash = event.compute_hash()
    event.save()
    return event


class AuditChainBroken(Exception):
    """The trail does not verify; the message names the first broken link."""


@dataclass
class AuditVerification:
    """What audit_verify found. `count` is the chain's length since its very first event (purged ones
    included), the number a checkpoint records; `problem` is empty when everything held."""

    checked: int = 0
    count: int = 0
    unkeyed: int = 0
    head: AuditEvent | None = None
    broken: AuditEvent | None = None
    broken_id: int | None = None
    problem: str = ""
    checkpoint: audit_chain.Checkpoint | None = None
    checkpoint_error: str = ""
    purged: int = 0
    purged_through_id: int = 0

    @property
    def intact(self) -> bool:
        return not self.problem

    def fail(self, event: AuditEvent | None, problem: str, *, event_id: int | None = None) -> "AuditVerification":
        self.broken = event
        self.broken_id = event.pk if event is not None else event_id
        self.problem = problem
        return self


def _audit_start(result: AuditVerification) -> str | None:
    """Where the chain starts: after the events the newest purge removed. The previous hash of the first
    event kept, or None when the purge record itself does not hold."""
    purge = AuditEvent.objects.filter(action=AUDIT_PURGE_ACTION).order_by("-id").first()
    if purge is None:
        return ""
    if not purge.key_id or purge.compute_hash() != purge.hash:
        result.fail(purge, f"event {purge.pk}: the purge record is not signed by the audit key")
        return None
    result.purged = int(purge.details["purged_total"])
    result.purged_through_id = int(purge.details["last_id"])
    return str(purge.details["start_prev_hash"])


def audit_verify(*, incremental: bool = False) -> AuditVerification:
    """Walk the chain and hold it against the newest checkpoint; the result names the first broken link.

    Each event must link to the one before it, carry a hash only the audit key makes (unkeyed rows only
    before the first keyed one), and the event the newest checkpoint recorded must still be there, with the
    same hash and position: a changed row, a re-hashed tail, a cut tail and an emptied table each fail.
    `incremental` walks only the events after the newest checkpoint (what the checkpoint task needs)."""
    result = AuditVerification()
    try:
        result.checkpoint = checkpoint = audit_chain.checkpoint_latest()
    except audit_chain.CheckpointError as exc:
        checkpoint, result.checkpoint_error = None, str(exc)
    previous = _audit_start(result)
    if previous is None:
        return result
    stray = AuditEvent.objects.filter(id__lte=result.purged_through_id).order_by("id").first()
    if stray is not None:
        return result.fail(stray, f"event {stray.pk} lies before the chain's start (the newest purge removed up to {result.purged_through_id})")
    rows = AuditEvent.objects.filter(id__gt=result.purged_through_id)
    base, keyed = result.purged, False
    checkpoint_live = checkpoint is not None and checkpoint.head_id > result.purged_through_id
    if incremental and checkpoint_live:
        head = AuditEvent.objects.filter(pk=checkpoint.head_id).first()
        if head is None or head.hash != checkpoint.head_hash:
            return _audit_checkpoint_missed(result, checkpoint, head)
        rows, previous, base, keyed = rows.filter(id__gt=head.pk), head.hash, checkpoint.count, bool(head.key_id)
        result.head, checkpoint_live = head, False
    seen = False
    for event in rows.order_by("id").iterator(chunk_size=2000):
        if event.prev_hash != previous:
            return result.fail(event, f"event {event.pk} does not link to the event before it (one was changed, removed or put in)")
        if event.key_id:
            keyed = True
            if not audit_chain.known_key(event.key_id):
                return result.fail(event, f"event {event.pk} names a key the portal does not hold ({event.key_id})")
        elif keyed:
            return result.fail(event, f"event {event.pk} has no key after keyed events (it was rewritten without the key)")
        else:
            result.unkeyed += 1
        if event.compute_hash() != event.hash:
            return result.fail(event, f"event {event.pk}: its content does not match its hash (the row was changed)")
        result.checked += 1
        if checkpoint_live and event.pk == checkpoint.head_id:
            if event.hash != checkpoint.head_hash or base + result.checked != checkpoint.count:
                return _audit_checkpoint_missed(result, checkpoint, event)
            seen = True
        previous, result.head = event.hash, event
    result.count = base + result.checked
    if checkpoint_live and not seen:
        return _audit_checkpoint_missed(result, checkpoint, None)
    if result.checkpoint_error:
        result.problem = result.checkpoint_error
    return result


def _audit_checkpoint_missed(result, checkpoint, event) -> AuditVerification:
    when = f"the checkpoint of {checkpoint.written_at}"
    if event is not None:
        return result.fail(
            event, f"event {event.pk} is not the event {when} recorded as number {checkpoint.count} (the chain was re-hashed)"
        )
    if not AuditEvent.objects.exists():
        return result.fail(
            None, f"the trail is empty but {when} counts {checkpoint.count} events (the table was emptied)",
            event_id=checkpoint.head_id,
        )
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
    return result.fail(
        None, f"event {checkpoint.head_id}, which {when} recorded as number {checkpoint.count}, is missing and the "
        f"chain ends at event {last} (events were deleted at the end)",
        event_id=checkpoint.head_id,
    )


def audit_checkpoint_write() -> audit_chain.Checkpoint | None:
    """Sign and store a checkpoint of the chain as it is now, after verifying what came since the last one
    (a checkpoint over a tampered tail would vouch for it). None when nothing was added since."""
    result = audit_verify(incremental=True)
    if result.checkpoint_error:
        raise audit_chain.CheckpointError(result.checkpoint_error)
    if not result.intact:
        raise AuditChainBroken(result.problem)
    if result.head is None:
        return None
    latest = result.checkpoint
    if latest is not None and latest.head_id == result.head.pk:
        return latest
    return audit_chain.checkpoint_put(count=result.count, head_id=result.head.pk, head_hash=result.head.hash)


def audit_purge(*, actor: User | None, days: int) -> AuditEvent | None:
    """Delete the events older than `days` (never fewer than 184) from the start of the chain, and record in
    it what went: how many, which ids and times, and the hash the chain now starts from.

    On PostgreSQL the trigger lets these deletes through only in a transaction that set portal.audit_purge,
    run by the table's owner, and only for events older than 184 days. None when nothing is old enough."""
    if days < audit_chain.RETENTION_MIN_DAYS:
        raise ValueError(
            f"audit events are kept at least {audit_chain.RETENTION_MIN_DAYS} days (six months, the law's minimum); "
            f"{days} is too short"
        )
    before = audit_verify()
    if not before.intact:
        raise AuditChainBroken(before.problem)
    cutoff = timezone.now() - timedelta(days=days)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [AUDIT_CHAIN_LOCK])
                cursor.execute("SET LOCAL portal.audit_purge = 'on'")
        young = AuditEvent.objects.filter(occurred_at__gte=cutoff).order_by("id").values_list("id", flat=True).first()
        doomed = AuditEvent.objects.filter(id__gt=before.purged_through_id)
        if young is not None:
            doomed = doomed.filter(id__lt=young)
        last = doomed.order_by("-id").first()
        if last is None:
            return None
        doomed = doomed.filter(id__lte=last.pk)  # not the purge's own event, written below
        first = doomed.order_by("id").first()
        count = doomed.count()
        event = audit_record(
            actor=actor,
            action=AUDIT_PURGE_ACTION,
            details={
                "purged": count,
                "purged_total": before.purged + count,
                "first_id": first.pk,
                "last_id": last.pk,
                "oldest": first.occurred_at.isoformat(),
                "newest": last.occurred_at.isoformat(),
                "days": days,
                "start_prev_hash": last.hash,
            },
        )
        deleted, _ = doomed.delete()
        if deleted != count:
            raise AuditChainBroken(f"the purge deleted {deleted} events where it counted {count}")
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:  # an enclosing transaction gets no open door
                cursor.execute("SET LOCAL portal.audit_purge = 'off'")
    if settings.AUDIT_CHECKPOINT_BUCKET:
        audit_checkpoint_write()
    return event


@transaction.atomic
def audit_verify_recorded(*, actor: User | None, result: AuditVerification | None = None) -> AuditEvent:
    """Verify the chain and put the verdict in the chain itself (audit.verified), where the audit page reads the
    last one: the verdict is as tamper-evident as what it speaks of. The events it covers are those before it;
    the checkpoint it held them against is named in it."""
    result = result or audit_verify()
    details: dict = {"checked": result.checked, "count": result.count, "purged": result.purged}
    if result.checkpoint is not None:
        details["checkpoint"] = {"count": result.checkpoint.count, "head_id": result.checkpoint.head_id,
                                 "written_at": result.checkpoint.written_at}
    if result.checkpoint_error:
        details["checkpoint_error"] = result.checkpoint_error[:300]
    if not result.intact:
        details.update(broken_id=result.broken_id, problem=result.problem[:500])
        if result.broken is not None:
            details.update(broken_at=result.broken.occurred_at, broken_action=result.broken.action)
    outcome = AuditOutcome.SUCCESS if result.intact else AuditOutcome.FAILURE
    return audit_record(actor=actor, action="audit.verified", outcome=outcome, details=details)


def role_groups(*, user: User, role: str, scope: Model | None = None) -> list[Group]:
    """The groups that carry `role` for `user`: the role's own group, and its scoped group on an Agency or Cloud."""
    role = Role(role)
    groups = [Group.objects.get(name=role)]
    if role in AGENCY_SCOPED:
        agency = scope or user.agency
        if not isinstance(agency, Agency):
            raise DomainError(_("“%(role)s”需要指定单位。") % {"role": role.label}, field="agency")
        groups.append(agency_group(agency, role))
    elif role in CLOUD_SCOPED:
        if scope is None:
            raise DomainError(_("“%(role)s”需要指定云。") % {"role": role.label}, field="cloud")
        groups.append(cloud_group(scope, role))
    return groups


def _may_assign_roles(actor: User | None, user: User) -> None:
    """`actor` None is the portal itself (demo data, the directory's sync); anybody else needs the security
    admin's right, and never on their own account."""
    if actor is None:
        return
    if not actor.has_perm("portal.assign_role"):
        raise PermissionDenied(_("只有安全管理员可以分配角色。"))
    if actor.pk == user.pk:
        raise PermissionDenied(_("不能给自己分配或撤销角色。"))


@transaction.atomic
def user_role_grant(
    *, actor: User | None, user: User, role: str, scope: Model | None = None, source: str = ""
) -> None:
    """Give `user` a role, scoped to an Agency or Cloud where the role is scoped; audited. `source` names a
    directory that granted it (the trail says where a grant came from). The separation of the three admins
    (portal.separation) refuses what one person may not hold, with a message."""
    _may_assign_roles(actor, user)
    role = Role(role)
    groups = role_groups(user=user, role=role, scope=scope)
    if set(user.groups.filter(pk__in=[group.pk for group in groups]).values_list("pk", flat=True)) == {
        group.pk for group in groups
    }:
        raise DomainError(_("%(user)s 已担任“%(role)s”。") % {"user": user.get_full_name(), "role": role.label})
    try:
        # Asked first, so a refusal leaves the caller's transaction usable; the models refuse it again anyway.
        roles_check(user, roles_held(user) | {role})
    except ValidationError as exc:
        raise DomainError(exc.messages[0], code="separation") from exc
    user.groups.add(*groups)
    if role in STAFF_ROLES and not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    details = {"role": role.value, "scope": str(scope) if scope is not None else ""}
    audit_record(
        actor=actor,
        action="role.grant",
        obj=user,
        agency=user.agency,
        details={**details, "source": source} if source else details,
    )


@transaction.atomic
def user_role_revoke(*, actor: User | None, user: User, role: str) -> bool:
    """Take a role from `user`, with every scope it had; audited. False when the user did not hold it."""
    _may_assign_roles(actor, user)
    role = Role(role)
    groups = [group for group in user.groups.all() if role_of_group(group.name) == role]
    if not groups:
        return False
    user.groups.remove(*groups)
    if role in STAFF_ROLES and user.is_staff:
        user.is_staff = False
        user.save(update_fields=["is_staff"])
    audit_record(
        actor=actor, action="role.revoke", obj=user, agency=user.agency,
        details={"role": role.value, "scopes": sorted(group.name for group in groups if group.name != role)},
    )
    return True


@transaction.atomic
def break_glass_create(*, username: str, password: str, operator_note: str) -> User:
    """The break-glass account: the portal's one superuser, holding no role; audited with who made it and why."""
    if User.objects.filter(is_break_glass=True, is_active=True).exists():
        raise DomainError(_("已有一个启用的应急账号；请先停用它。"))
    with break_glass_making():
        user = User(username=username, is_superuser=True, is_staff=True, is_break_glass=True)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save()
    audit_record(actor=None, actor_username="break_glass", action="user.break_glass_created", obj=user,
                 details={"note": operator_note[:500]})
    return user


@transaction.atomic
def user_directory_sync(
    *, user: User, source: str, agency_code: str, grants: list[DirectoryGrant]
) -> User:
    """Make the user's agency and roles what the directory says, at each sign-in from it.

    The directory owns every role group and scoped group of its users except the three admin roles, which
    only a person grants in the portal: a role the directory no longer gives is taken away, a new one is
    granted through user_role_grant. A grant that cannot hold (an agency role without a known agency, a cloud
    that does not exist) is left out and said in the trail.
    """
    agency = Agency.objects.filter(code__iexact=agency_code, is_active=True).first() if agency_code else None
    if user.identity_source != source or user.agency_id != (agency.pk if agency else None):
        previous = user.agency
        user.identity_source = source
        user.agency = agency
        user.save(update_fields=["identity_source", "agency"])
        if previous != agency:
            audit_record(
                actor=None, action="user.agency_set", obj=user, agency=agency,
                details={"from": str(previous or ""), "to": str(agency or ""), "directory_value": agency_code,
                         "source": source},
            )
    cloud_model = apps.get_model("catalogue", "Cloud")
    wanted: dict[tuple[str, Model | None], list[Group]] = {}
    left_out = []
    for grant in grants:
        if grant.role in ADMIN_ROLES:
            continue  # never from a directory; portal.identity refuses them before this too
        scope = None
        if grant.cloud:
            scope = cloud_model.objects.filter(slug=grant.cloud).first()
            if scope is None:
                left_out.append(f"{grant.role}:{grant.cloud}")
                continue
        elif grant.role in AGENCY_SCOPED and agency is None:
            left_out.append(grant.role)
            continue
        wanted[(grant.role, scope)] = role_groups(user=user, role=grant.role, scope=scope)
    keep = {group.pk for groups in wanted.values() for group in groups}
    held = list(user.groups.all())
    for group in held:
        if is_directory_managed(group.name) and group.pk not in keep:
            user.groups.remove(group)
            audit_record(
                actor=None, action="role.revoke", obj=user, agency=agency,
                details={"group": group.name, "source": source},
            )
    held_ids = {group.pk for group in held}
    for (role, scope), groups in wanted.items():
        if not all(group.pk in held_ids for group in groups):
            try:
                user_role_grant(actor=None, user=user, role=role, scope=scope, source=source)
            except DomainError as exc:  # e.g. an admin granted in the portal holds no other role
                left_out.append(f"{role}: {exc.message}")
    if left_out:
        audit_record(
            actor=None, action="role.grant", obj=user, agency=agency, outcome=AuditOutcome.FAILURE,
            details={"left_out": left_out, "directory_agency": agency_code, "source": source},
        )
    # Django caches permissions on the user object; the sign-in that called this must see the new groups.
    for cache in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(cache, None)
    return user


@transaction.atomic
def user_directory_remove(*, user: User, source: str) -> None:
    """A directory user the directory no longer holds: deactivated (their open sessions and API token end),
    and what the directory gave them taken away. Admin roles granted in the portal stay for a person to judge."""
    for group in list(user.groups.all()):
        if is_directory_managed(group.name):
            user.groups.remove(group)
            audit_record(actor=None, action="role.revoke", obj=user, details={"group": group.name, "source": source})
    Token.objects.filter(user=user).delete()
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
    audit_record(actor=None, action="user.deactivate", obj=user, details={"reason": "not_in_directory", "source": source})
    return None


def user_language_set(*, actor: User, language: str) -> User:
    """Keep the language the user picked (an unknown code changes nothing)."""
    if language not in dict(settings.LANGUAGES) or actor.language == language:
        return actor
    User.objects.filter(pk=actor.pk).update(language=language)
    actor.language = language
    return actor


def token_expired(token: Token) -> bool:
    return token.created + datetime.timedelta(hours=settings.API_TOKEN_HOURS) <= timezone.now()


@transaction.atomic
def token_obtain(*, actor: User) -> Token:
    """The actor's API token: the one they hold while it is good, else a new one (an expired one is dropped)."""
    token = Token.objects.select_for_update().filter(user=actor).first()
    if token is not None and token_expired(token):
        token.delete()
        token = None
    if token is None:
        token = Token.objects.create(user=actor)
    audit_record(actor=actor, action="auth.token", obj=actor, details={"expires_at": token_expires_at(token)})
    return token


def token_expires_at(token: Token) -> datetime.datetime:
    return token.created + datetime.timedelta(hours=settings.API_TOKEN_HOURS)


@transaction.atomic
def token_revoke(*, actor: User, reason: str) -> bool:
    """Revoke the actor's API token, if they hold one; `reason` is "revoke" (asked for) or "logout"."""
    revoked, _by_model = Token.objects.filter(user=actor).delete()
    if revoked:
        audit_record(actor=actor, action="auth.token_revoke", obj=actor, details={"reason": reason})
    return bool(revoked)


@transaction.atomic
def user_signed_out(*, actor: User, reason: str, source_ip: str | None = None) -> None:
    """A session ended: by the user's logout (which also revokes their API token) or by idling ("idle")."""
    if reason == "logout":
        token_revoke(actor=actor, reason="logout")
    audit_record(actor=actor, action="auth.logout", obj=actor, source_ip=source_ip, details={"reason": reason})
