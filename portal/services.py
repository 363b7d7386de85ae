"""Writes of the portal app: the audit trail, agencies and their members, role grants."""
import json

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from .audit import current_ip
from .choices import AuditOutcome, Role
from .models import Agency, AuditEvent, User
from .permissions import agency_group, cloud_group
from .roles import AGENCY_SCOPED, CLOUD_SCOPED, STAFF_ROLES

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


@transaction.atomic
def audit_verify_recorded(*, actor: User | None) -> AuditEvent:
    """Verify the chain and put the verdict in the chain itself (audit.verified), where the audit page reads the
    last one: the verdict is as tamper-evident as what it speaks of. The events it covers are those before it."""
    checked, broken = audit_verify()
    details = {"checked": checked}
    if broken is not None:
        details.update(broken_id=broken.pk, broken_at=broken.occurred_at, broken_action=broken.action)
    outcome = AuditOutcome.SUCCESS if broken is None else AuditOutcome.FAILURE
    return audit_record(actor=actor, action="audit.verified", outcome=outcome, details=details)


@transaction.atomic
def user_role_grant(*, actor: User | None, user: User, role: str, scope: Model | None = None) -> None:
    """Give `user` a role, scoped to an Agency or Cloud where the role is scoped."""
    role = Role(role)
    user.groups.add(Group.objects.get(name=role))
    if role in AGENCY_SCOPED:
        agency = scope or user.agency
        if not isinstance(agency, Agency):
            raise ValueError(f"role {role} needs an agency")
        user.groups.add(agency_group(agency, role))
    elif role in CLOUD_SCOPED:
        if scope is None:
            raise ValueError(f"role {role} needs a cloud")
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


def user_language_set(*, actor: User, language: str) -> User:
    """Keep the language the user picked (an unknown code changes nothing)."""
    if language not in dict(settings.LANGUAGES) or actor.language == language:
        return actor
    User.objects.filter(pk=actor.pk).update(language=language)
    actor.language = language
    return actor
