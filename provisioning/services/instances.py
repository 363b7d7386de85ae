"""The provisioned inventory's writes: an instance is made by a successful create, and its status moves only
through `instance_move` (compare-and-set against INSTANCE_TRANSITIONS, audited in the same transaction)."""
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.services import audit_record

from ..choices import INSTANCE_TRANSITIONS, InstanceStatus
from ..models import Instance, Request, Run
from .costs import cost_follow, cost_open
from .transitions import compare_and_set


def instance_move(instance: Instance, to_status: str, *, actor=None, action: str = "", details: dict | None = None,
                  **fields) -> Instance:
    """Move the instance by compare-and-set from the status it holds in memory; `action` names the audit
    event when a plainer word than the status fits (instance.modified for a change that ended well)."""
    with transaction.atomic():
        moved = compare_and_set(
            instance,
            to_status,
            transitions=INSTANCE_TRANSITIONS,
            illegal=lambda from_status, to: _("资源“%(name)s”当前为“%(from)s”，不能变为“%(to)s”。")
            % {"name": instance.name, "from": InstanceStatus(from_status).label, "to": InstanceStatus(to).label},
            stale=_("资源“%(name)s”已被其他操作改变，请刷新后重试。") % {"name": instance.name},
            audit={
                "actor": actor,
                "action": action or f"instance.{to_status}",
                "obj": instance,
                "agency": instance.agency,
                "details": {"to": to_status, **(details or {})},
            },
            **fields,
        )
        cost_follow(moved, to_status, fields.get("destroyed_at") or timezone.now(), fields.get("monthly_cost"))
    return moved


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    # The last day of a shorter month stands in for the 29th-31st.
    for candidate in (day.day, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, candidate))
        except ValueError:
            continue
    raise ValueError(day)


def instance_create(*, request: Request, run: Run) -> Instance:
    """The instance a successful create apply made, readable by the agency's requesters and approvers."""
    instance = Instance.objects.create(
        name=str(request.parameters.get("name") or request.parameters.get("identifier") or request.title)[:128],
        agency=request.agency,
        offering=request.offering,
        workspace=request.workspace,
        status=InstanceStatus.ACTIVE,
        parameters=request.parameters,
        data_classification=request.data_classification,
        resources=run.resources,
        outputs=run.outputs,
        monthly_cost=request.monthly_cost,
        usage=request.usage,
        lease_end=add_months(timezone.localdate(), request.lease_months),
        created_by=request.requester,
    )
    cost_open(instance, instance.created_at)
    audit_record(actor=None, action="instance.created", obj=instance, agency=instance.agency,
                 details={"request": request.pk})
    return instance


def instance_usage(instance: Instance) -> dict[str, Decimal]:
    """What the instance holds per quota dimension, monthly cost included."""
    amounts = {dim: Decimal(str(amount)) for dim, amount in instance.usage.items()}
    amounts["monthly_cost"] = Decimal(instance.monthly_cost)
    return amounts
