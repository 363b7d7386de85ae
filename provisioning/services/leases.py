"""Leases: warnings before a resource's lease ends, and a decommission request when it has ended.

Beat runs `lease_sweep` (hourly by default). Each step is taken at most once per lease end, by a
compare-and-set on the instance's lease bookkeeping in the same transaction as its messages, so running the
sweep twice, or two sweeps at once, sends nothing twice. Extending the lease moves `lease_end`, and the new
lease starts with nothing sent.

At expiry the portal raises a decommission request on the agency's behalf, named after the person who asked
for the resource (or, if they have left, one of the agency's requesters), and submits it: it follows its
approval policy like any other. A submitted extend request stops it; any other request in flight makes it
wait for the next sweep; a draft left open is cancelled.
"""
from datetime import date

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from portal.choices import EventKind, Role
from portal.names import both_names
from portal.permissions import agency_group, user_can
from portal.services import audit_record

from ..choices import InstanceStatus, RequestKind, RequestStatus
from ..models import Instance, Request
from .notifications import notify
from .requests import day2_draft, request_move, submit_draft

# Days before the end at which the owner and the agency's approvers are told.
WARNINGS = (7, 1)


def lease_sweep(today: date | None = None) -> dict[str, int]:
    """Warn of leases about to end and act on those that ended; returns what it did, by kind."""
    today = today or timezone.localdate()
    done = {"warned": 0, "raised": 0, "waiting": 0}
    horizon = date.fromordinal(today.toordinal() + max(WARNINGS))
    due = Instance.objects.filter(status=InstanceStatus.ACTIVE, lease_end__isnull=False, lease_end__lte=horizon)
    for instance in due.select_related("agency", "offering__cloud", "offering__service", "created_by").order_by("pk"):
        days_left = (instance.lease_end - today).days
        if days_left <= 0:
            outcome = lease_expire(instance)
            if outcome:
                done[outcome] += 1
        elif lease_warn(instance, days_left):
            done["warned"] += 1
    return done


def lease_recipients(instance: Instance) -> list:
    approvers = agency_group(instance.agency, Role.AGENCY_APPROVER).user_set.filter(is_active=True)
    return [instance.created_by, *approvers]


@transaction.atomic
def lease_warn(instance: Instance, days_left: int) -> bool:
    """Send the shortest warning due for `days_left`, unless it (or a shorter one) went out for this lease."""
    threshold = min(days for days in WARNINGS if days_left <= days)
    sent_before = Instance.objects.filter(pk=instance.pk, lease_end=instance.lease_end).exclude(
        lease_warned_for=instance.lease_end, lease_warned_days__lte=threshold
    )
    if not sent_before.update(lease_warned_for=instance.lease_end, lease_warned_days=threshold):
        return False
    notify(
        lease_recipients(instance),
        kind=EventKind.LEASE_ENDING,
        subject=gettext_noop("租期即将到期：%(name)s"),
        body=gettext_noop(
            "%(agency)s 在%(cloud)s上的资源“%(name)s”租期将于 %(end)s 到期（还剩 %(days)s 天）。"
            "如需继续使用，请在到期前提交续期申请；到期后系统将自动发起退订申请。"
        ),
        params={
            "name": instance.name, "agency": both_names(instance.agency.name, instance.agency.name_en),
            "cloud": both_names(instance.cloud.name, instance.cloud.name_en), "end": instance.lease_end.isoformat(),
            "days": days_left,
        },
        instance=instance,
    )
    audit_record(
        actor=None, actor_username="lease", action="instance.lease_warned", obj=instance, agency=instance.agency,
        details={"lease_end": instance.lease_end.isoformat(), "days_left": days_left},
    )
    return True


def owner_of(instance: Instance):
    """Who the decommission is asked in the name of: the person who asked for the resource while they still
    request for its agency, else the agency's longest-standing active requester; None if it has none."""
    if instance.created_by and user_can(instance.created_by, "portal.request_for_agency", instance.agency):
        return instance.created_by
    return agency_group(instance.agency, Role.REQUESTER).user_set.filter(is_active=True).order_by("pk").first()


@transaction.atomic
def lease_expire(instance: Instance) -> str | None:
    """Raise and submit the decommission of an instance whose lease ended: "raised", "waiting" (another request
    is in flight; tried again next sweep), or None (already handled for this lease end)."""
    instance = (
        Instance.objects.select_for_update(of=("self",)).select_related("agency", "workspace", "offering").get(pk=instance.pk)
    )
    if instance.status != InstanceStatus.ACTIVE or instance.lease_expiry_handled_for == instance.lease_end:
        return None
    if Request.objects.filter(instance=instance, status__in=RequestStatus.active()).exists():
        return "waiting"  # an extend stops the expiry; a modify or decommission in flight ends first
    for draft in Request.objects.filter(instance=instance, status=RequestStatus.DRAFT):
        request_move(draft, RequestStatus.CANCELLED, actor=None, details={"reason": "lease_expired"})
    Instance.objects.filter(pk=instance.pk).update(lease_expiry_handled_for=instance.lease_end)
    owner = owner_of(instance)
    details = {"lease_end": instance.lease_end.isoformat()}
    if owner is None:
        audit_record(
            actor=None, actor_username="lease", action="instance.lease_expired", obj=instance, agency=instance.agency,
            details={**details, "decommission": None, "why": "the agency has no active requester"},
        )
        return None
    request = day2_draft(
        instance=instance, kind=RequestKind.DECOMMISSION, requester=owner, actor=None,
        justification=f"租期已于 {instance.lease_end.isoformat()} 到期，系统自动发起退订。",
        details={"reason": "lease_expired"},
    )
    submit_draft(Request.objects.select_for_update().get(pk=request.pk), actor=None)
    audit_record(
        actor=None, actor_username="lease", action="instance.lease_expired", obj=instance, agency=instance.agency,
        details={**details, "decommission": request.number},
    )
    notify(
        lease_recipients(instance),
        kind=EventKind.LEASE_ENDING,
        subject=gettext_noop("租期已到期：%(name)s"),
        body=gettext_noop(
            "资源“%(name)s”的租期已于 %(end)s 到期，系统已自动发起退订申请 %(number)s，按审批策略审批后将销毁该资源。"
        ),
        params={"name": instance.name, "end": instance.lease_end.isoformat(), "number": request.number},
        request=request,
    )
    return "raised"
