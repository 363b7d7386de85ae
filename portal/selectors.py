"""Reads of the portal app."""
from django.db.models import Count, QuerySet

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
        "checkpoint": events.filter(action="audit.checkpoint").order_by("-id").first(),
    }
