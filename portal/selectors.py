"""Reads of the portal app."""
import datetime

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Count, Max, QuerySet, Sum
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from catalogue.selectors import cloud_list_for_user

from .choices import Role
from .models import AuditEvent
from .permissions import objects_for_user, user_roles


def role_labels_for_user(user) -> list[str]:
    return [Role(role).label for role in user_roles(user)]


def cloud_counts_by_tier(user) -> dict[str, int]:
    rows = cloud_list_for_user(user).values("tier").annotate(n=Count("id")).order_by()
    return {row["tier"]: row["n"] for row in rows}


def audit_event_list_for_user(user) -> QuerySet[AuditEvent]:
    return objects_for_user(user, "portal.view_auditevent", AuditEvent.objects.select_related("actor", "agency"))


def lockout_ends_at(*, username: str | None, address: str | None) -> datetime.datetime | None:
    """When the lockout of this username or this address ends (the later of the two), or None if neither is
    locked out: LOGIN_FAILURE_LIMIT recent failures lock for LOGIN_LOCKOUT_MINUTES after the last of them."""
    cooloff = settings.AXES_COOLOFF_TIME
    recent = AccessAttempt.objects.filter(attempt_time__gte=timezone.now() - cooloff)
    ends = []
    for field, value in (("username", username), ("ip_address", address)):
        if not value:
            continue
        row = recent.filter(**{field: value}).aggregate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
        if (row["failures"] or 0) >= settings.AXES_FAILURE_LIMIT:
            ends.append(row["last"] + cooloff)
    return max(ends, default=None)


def minutes_until(moment: datetime.datetime) -> int:
    """Whole minutes from now until `moment`, rounded up (at least 1), for "try again in N minutes"."""
    return max(1, -(-int((moment - timezone.now()).total_seconds()) // 60))
def _checkpoint_of(verified) -> dict | None:
    checkpoint = (verified.details or {}).get("checkpoint") if verified else None
    if not checkpoint:
        return None
    return {**checkpoint, "written_at": parse_datetime(str(checkpoint.get("written_at", "")))}


def audit_chain_status_for_user(user) -> dict:
    """What the audit page says of the chain: the last verification's verdict (recorded in the chain by
    portal.services.audit_verify_recorded), how many events came after it, the newest event, and the last
    checkpoint the chain records. Reads a few rows by index; walking the chain is the verification's job."""
    events = audit_event_list_for_user(user)
    verified = events.filter(action="audit.verified").order_by("-id").first()
    return {
        "verified": verified,
        "since": events.filter(pk__gt=verified.pk).count() if verified else None,
        "head": events.order_by("-id").first(),
        # The checkpoint in the store the last verification held the chain against (portal.audit_chain).
        "checkpoint": _checkpoint_of(verified),
    }
