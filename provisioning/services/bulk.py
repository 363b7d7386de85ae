"""Operators acting for an agency: retiring many resources at once, or re-applying a drifted one. Retiring: one decommission request per instance, each following its
agency's approval policy exactly as if the agency had asked; nothing is destroyed without that approval."""
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext as _

from portal.errors import Conflict, DomainError, PermissionDenied
from portal.permissions import user_can

from ..choices import RequestKind
from ..models import Instance, Request
from .leases import owner_of
from .requests import day2_draft, submit_draft


@dataclass
class BulkOutcome:
    raised: list[Request] = field(default_factory=list)
    refused: list[tuple[Instance, str]] = field(default_factory=list)


def decommission_bulk(*, actor, instances: list[Instance], justification: str) -> BulkOutcome:
    """Raise and submit a decommission for each instance, each in its own transaction: one that cannot be
    asked for (a change in flight, not active, an agency without requesters) is reported, the others go on."""
    if not user_can(actor, "provisioning.decommission_instance"):
        raise PermissionDenied(_("您没有批量退订资源的权限。"))
    justification = (justification or "").strip()
    if not justification:
        raise DomainError(_("请写明退订原因，审批人会看到它。"), field="justification")
    outcome = BulkOutcome()
    for instance in instances:
        try:
            outcome.raised.append(on_behalf_request(
                actor=actor, instance=instance, kind=RequestKind.DECOMMISSION, justification=justification,
                details={"bulk": True},
            ))
        except (Conflict, DomainError) as exc:
            outcome.refused.append((instance, exc.message))
    return outcome


@transaction.atomic
def on_behalf_request(*, actor, instance: Instance, kind: str, justification: str, details: dict) -> Request:
    """A day-2 request an operator raises for the agency (in the name of its requester), submitted at once."""
    locked = Instance.objects.select_for_update(of=("self",)).select_related("agency", "workspace", "offering").get(
        pk=instance.pk
    )
    owner = owner_of(locked)
    if owner is None:
        raise Conflict(_("该单位没有可代为申请的申请人。"))
    request = day2_draft(
        instance=locked, kind=kind, requester=owner, actor=actor, justification=justification,
        details={**details, "asked_by": actor.get_username()},
    )
    return submit_draft(Request.objects.select_for_update().get(pk=request.pk), actor=actor)


def instance_reapply(*, actor, instance: Instance, justification: str) -> Request:
    """Converge the cloud back to the approved parameters: a change request with the same parameters, raised on
    the agency's behalf, planned and approved like any other (its plan shows what will be put back)."""
    if not user_can(actor, "provisioning.reconcile_run"):
        raise PermissionDenied(_("您没有处置待核对运行的权限。"))
    justification = (justification or "").strip()
    if not justification:
        raise DomainError(_("请写明重新执行的原因，审批人会看到它。"), field="justification")
    return on_behalf_request(actor=actor, instance=instance, kind=RequestKind.MODIFY, justification=justification,
                             details={"reapply": True})
