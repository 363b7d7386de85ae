"""Writes of the portal app: the audit trail, agencies and their members, role grants."""
import json

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _

from .audit import current_ip
from .choices import AuditOutcome, Role
from .errors import DomainError, PermissionDenied
from .models import Agency, AuditEvent, User
from .permissions import agency_group, cloud_group
from .roles import AGENCY_SCOPED, CLOUD_SCOPED, STAFF_ROLES
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
def user_role_grant(*, actor: User | None, user: User, role: str, scope: Model | None = None) -> None:
    """Give `user` a role, scoped to an Agency or Cloud where the role is scoped; audited. The separation of
    the three admins (portal.separation) refuses what one person may not hold, with a message."""
    _may_assign_roles(actor, user)
    role = Role(role)
    if role in AGENCY_SCOPED:
        scope = scope or user.agency
        if not isinstance(scope, Agency):
            raise DomainError(_("“%(role)s”需要指定单位。") % {"role": role.label}, field="agency")
    elif role in CLOUD_SCOPED:
        if scope is None:
            raise DomainError(_("“%(role)s”需要指定云。") % {"role": role.label}, field="cloud")
    else:
        scope = None
    try:
        # Asked first, so a refusal leaves the caller's transaction usable; the models refuse it again anyway.
        roles_check(user, roles_held(user) | {role})
    except ValidationError as exc:
        raise DomainError(exc.messages[0], code="separation") from exc
    user.groups.add(Group.objects.get(name=role))
    if role in AGENCY_SCOPED:
        user.groups.add(agency_group(scope, role))
    elif role in CLOUD_SCOPED:
        user.groups.add(cloud_group(scope, role))
    if role in STAFF_ROLES and not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    audit_record(
        actor=actor,
        action="role.grant",
        obj=user,
        agency=user.agency,
        details={"role": role.value, "scope": str(scope) if scope is not None else ""},
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


def user_language_set(*, actor: User, language: str) -> User:
    """Keep the language the user picked (an unknown code changes nothing)."""
    if language not in dict(settings.LANGUAGES) or actor.language == language:
        return actor
    User.objects.filter(pk=actor.pk).update(language=language)
    actor.language = language
    return actor
