"""Writes of the portal app: the audit trail, agencies and their members, role grants."""
import json

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

from .audit import current_ip
from .choices import ADMIN_ROLES, AuditOutcome, Role
from .errors import DomainError, PermissionDenied
from .identity import DirectoryGrant
from .models import Agency, AuditEvent, User
from .permissions import agency_group, cloud_group
from .roles import AGENCY_SCOPED, CLOUD_SCOPED, STAFF_ROLES, is_directory_managed
from .separation import break_glass_making, role_of_group, roles_check, roles_held

# Any constant works; it names the advisory lock that keeps the hash chain a chain under concurrent writers.
AUDIT_CHAIN_LOCK = 7_311_042


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
    )
    event.hash = event.compute_hash()
    event.save()
    return event


def audit_verify() -> tuple[int, AuditEvent | None]:
    """Walk the chain from the first event; return how many events hold and the first that does not."""
    previous = ""
    checked = 0
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        if event.prev_hash != previous or event.compute_hash() != event.hash:
            return checked, event
        previous = event.hash
        checked += 1
    return checked, None


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
