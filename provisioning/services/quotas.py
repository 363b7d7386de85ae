"""Quotas that cannot race: checked at submit, reserved at final approval with the limit rows locked,
consumed by a successful apply, released by reject, cancel, failure and destroy.

A cloud's capacity is a limit row with no agency: every agency's requests on that cloud reserve against it in
the same locked transaction as their own quotas, so capacity cannot be raced either."""
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from catalogue.choices import QuotaDimension
from portal.errors import DomainError
from portal.services import audit_record

from ..choices import RESERVATION_TRANSITIONS, InstanceStatus, ReservationStatus
from ..models import Instance, QuotaLimit, QuotaReservation, Request
from .transitions import compare_and_set


class QuotaExceeded(DomainError):
    def __init__(self, shortfalls: list[dict]):
        first = shortfalls[0]
        if first["capacity"]:
            message = _(
                "超出云容量：%(scope)s的%(dimension)s容量为 %(limit)s，已使用 %(used)s，已预留 %(reserved)s，"
                "本次申请 %(requested)s。请联系云主管部门扩容，或改选其他云。"
            ) % first
        else:
            message = _(
                "超出配额：%(scope)s的%(dimension)s上限为 %(limit)s，已使用 %(used)s，已预留 %(reserved)s，"
                "本次申请 %(requested)s。"
            ) % first
        super().__init__(message, code="quota_exceeded", params={"shortfalls": shortfalls})
        self.shortfalls = shortfalls


def _reservation_audit(reservation: QuotaReservation, action: str) -> dict:
    return {
        "actor": None,
        "action": action,
        "obj": reservation,
        "agency": reservation.request.agency,
        "details": {
            "request": reservation.request.number,
            "limit": reservation.limit_id,
            "dimension": reservation.limit.dimension,
            "amount": str(reservation.amount),
        },
    }


def reservation_move(reservation: QuotaReservation, to_status: str) -> QuotaReservation:
    """The one door of a reservation's status (compare-and-set, audited in the same transaction)."""
    return compare_and_set(
        reservation,
        to_status,
        transitions=RESERVATION_TRANSITIONS,
        illegal=lambda from_status, to: _("配额预留 #%(id)s 当前为“%(from)s”，不能变为“%(to)s”。")
        % {"id": reservation.pk, "from": ReservationStatus(from_status).label, "to": ReservationStatus(to).label},
        stale=_("配额预留 #%(id)s 已被其他操作改变，请刷新后重试。") % {"id": reservation.pk},
        audit=_reservation_audit(reservation, f"quota.{to_status}"),
        updated_at=timezone.now(),
    )


def demand_of(request: Request) -> dict[str, Decimal]:
    """What the request adds per dimension, monthly cost included (for a change: only what grows)."""
    demand = {dim: Decimal(str(amount)) for dim, amount in request.usage.items()}
    demand[QuotaDimension.MONTHLY_COST] = Decimal(request.monthly_cost)
    if request.instance_id:
        current = {dim: Decimal(str(amount)) for dim, amount in request.instance.usage.items()}
        current[QuotaDimension.MONTHLY_COST] = Decimal(request.instance.monthly_cost)
        demand = {dim: amount - current.get(dim, Decimal(0)) for dim, amount in demand.items()}
    return {dim: amount for dim, amount in demand.items() if amount != 0}


def limits_for(request: Request):
    """The limits that bind this request: its agency's on its cloud, its agency's across all clouds, and its
    cloud's capacity (shared by every agency)."""
    cloud = request.offering.cloud_id
    return QuotaLimit.objects.filter(
        Q(agency=request.agency, cloud=cloud) | Q(agency=request.agency, cloud__isnull=True)
        | Q(agency__isnull=True, cloud=cloud)
    )


def limit_scope(limit: QuotaLimit) -> str:
    """Where a limit holds, in words: "政务云", "全部云", or "政务云（云容量）"."""
    if limit.is_capacity:
        return _("%(cloud)s（云容量）") % {"cloud": limit.cloud.display_name}
    return limit.cloud.display_name if limit.cloud_id else _("全部云")


def in_use(limit: QuotaLimit) -> Decimal:
    """What the instances that exist now hold in the limit's dimension and scope: a new limit starts from this,
    not from zero, so a cloud with instances already running does not look empty."""
    instances = Instance.objects.filter(status__in=InstanceStatus.active())
    if limit.agency_id:
        instances = instances.filter(agency=limit.agency_id)
    if limit.cloud_id:
        instances = instances.filter(offering__cloud=limit.cloud_id)
    if limit.dimension == QuotaDimension.MONTHLY_COST:
        return sum((instance.monthly_cost for instance in instances.only("monthly_cost")), Decimal(0))
    return sum(
        (Decimal(str(instance.usage.get(limit.dimension, 0))) for instance in instances.only("usage")), Decimal(0)
    )


def _shortfall(limit: QuotaLimit, requested: Decimal) -> dict:
    return {
        "capacity": limit.is_capacity,
        "scope": limit.cloud.display_name if limit.is_capacity else limit_scope(limit),
        "dimension": QuotaDimension(limit.dimension).label,
        "dimension_code": limit.dimension,
        "limit": str(limit.limit),
        "used": str(limit.used),
        "reserved": str(limit.reserved),
        "requested": str(requested),
    }


def quota_check(request: Request) -> None:
    """Refuse early (at submit) when the request cannot fit; nothing is reserved here."""
    demand = demand_of(request)
    shortfalls = [
        _shortfall(limit, demand[limit.dimension])
        for limit in limits_for(request).select_related("cloud")
        if demand.get(limit.dimension, 0) > 0 and limit.used + limit.reserved + demand[limit.dimension] > limit.limit
    ]
    if shortfalls:
        raise QuotaExceeded(shortfalls)


@transaction.atomic
def quota_reserve(request: Request) -> list[QuotaReservation]:
    """Reserve the request's demand with every binding limit row locked, so concurrent approvals queue here
    and the sum of reservations can never pass a limit."""
    demand = demand_of(request)
    limits = list(limits_for(request).select_related("cloud").select_for_update(of=("self",)).order_by("pk"))
    shortfalls = [
        _shortfall(limit, demand[limit.dimension])
        for limit in limits
        if demand.get(limit.dimension, 0) > 0 and limit.used + limit.reserved + demand[limit.dimension] > limit.limit
    ]
    if shortfalls:
        raise QuotaExceeded(shortfalls)
    reservations = []
    for limit in limits:
        amount = demand.get(limit.dimension, Decimal(0))
        if amount <= 0:
            continue
        limit.reserved += amount
        limit.save(update_fields=["reserved"])
        reservation = QuotaReservation.objects.create(
            request=request, limit=limit, amount=amount, status=ReservationStatus.RESERVED
        )
        audit_record(**_reservation_audit(reservation, "quota.reserved"))
        reservations.append(reservation)
    return reservations


@transaction.atomic
def quota_consume(request: Request) -> None:
    """The apply succeeded: what was reserved is now used; a change that shrank gives the difference back."""
    for reservation in request.reservations.select_related("limit").select_for_update(of=("self",)).filter(
        status=ReservationStatus.RESERVED
    ):
        limit = QuotaLimit.objects.select_for_update().get(pk=reservation.limit_id)
        limit.reserved -= reservation.amount
        limit.used += reservation.amount
        limit.save(update_fields=["reserved", "used"])
        reservation_move(reservation, ReservationStatus.CONSUMED)
    shrink = {dim: -amount for dim, amount in demand_of(request).items() if amount < 0}
    if shrink:
        quota_give_back(request, shrink)


@transaction.atomic
def quota_release(request: Request) -> None:
    """Reject, cancel or failure: reservations not yet used go back."""
    for reservation in request.reservations.select_related("limit").select_for_update(of=("self",)).filter(
        status=ReservationStatus.RESERVED
    ):
        limit = QuotaLimit.objects.select_for_update().get(pk=reservation.limit_id)
        limit.reserved = max(limit.reserved - reservation.amount, Decimal(0))
        limit.save(update_fields=["reserved"])
        reservation_move(reservation, ReservationStatus.RELEASED)


@transaction.atomic
def quota_give_back(request: Request, amounts: dict[str, Decimal]) -> None:
    """An instance was destroyed or shrank: lower what its agency uses."""
    for limit in limits_for(request).select_for_update().order_by("pk"):
        amount = amounts.get(limit.dimension)
        if amount:
            limit.used = max(limit.used - amount, Decimal(0))
            limit.save(update_fields=["used"])
