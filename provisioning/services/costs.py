"""An instance's price over time, and the showback computed from it.

Each instance has one open InstanceCost while it exists: opened at its creation, closed and reopened at the
apply of a change that moves its monthly cost, closed when it is destroyed. instance_move calls `cost_follow`
in the same transaction as the status change, so the history cannot disagree with the instance.

The showback of a month is, for every price that overlaps it, the monthly cost times the share of the month
it held (to the second, in the display time zone's calendar), summed per agency and cloud.
"""
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.errors import DomainError

from ..choices import InstanceStatus
from ..models import Instance, InstanceCost

CENT = Decimal("0.01")


def cost_open(instance: Instance, at: datetime) -> None:
    InstanceCost.objects.create(instance=instance, monthly_cost=instance.monthly_cost, valid_from=at)


def cost_follow(instance: Instance, to_status: str, at: datetime, monthly_cost=None) -> None:
    """Keep the price history in step with a status move: a new price from `at`, or none after destruction."""
    current = InstanceCost.objects.filter(instance=instance, valid_to__isnull=True).first()
    if to_status == InstanceStatus.DESTROYED:
        if current:
            InstanceCost.objects.filter(pk=current.pk).update(valid_to=max(at, current.valid_from))
        return
    if monthly_cost is None or (current and Decimal(monthly_cost) == current.monthly_cost):
        return
    if current:
        InstanceCost.objects.filter(pk=current.pk).update(valid_to=max(at, current.valid_from))
    InstanceCost.objects.create(instance=instance, monthly_cost=monthly_cost, valid_from=at)


# Showback ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> "Month":
        """"2026-11" → Month(2026, 11); ValueError for anything else."""
        year, month = text.split("-")
        if len(year) != 4 or not 1 <= int(month) <= 12 or not 2000 <= int(year) <= 2999:
            raise ValueError(text)
        return cls(int(year), int(month))

    @classmethod
    def asked(cls, text: str | None) -> "Month":
        """The month a page or API call asks for by ?month=YYYY-MM: this month when none; DomainError naming
        the parameter when it is not one."""
        text = (text or "").strip()
        if not text:
            return cls.of(timezone.localdate())
        try:
            return cls.parse(text)
        except ValueError as exc:
            raise DomainError(
                _("月份“%(value)s”无法识别，请写成 2026-11 这样的年-月。") % {"value": text[:20]}, field="month"
            ) from exc

    @classmethod
    def of(cls, day: date) -> "Month":
        return cls(day.year, day.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def next(self) -> "Month":
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> "Month":
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    @property
    def start(self) -> datetime:
        return timezone.make_aware(datetime(self.year, self.month, 1))

    @property
    def end(self) -> datetime:
        return self.next().start


def months_back(last: Month, count: int) -> list[Month]:
    months = [last]
    while len(months) < count:
        months.append(months[-1].previous())
    return list(reversed(months))


@dataclass
class ShowbackRow:
    month: Month
    agency_id: int
    cloud_id: int
    tier: str
    cost: Decimal
    instances: int


def showback(instances: QuerySet[Instance], months: list[Month]) -> list[ShowbackRow]:
    """Cost per month, agency and cloud of `instances` (already narrowed to what the reader may see)."""
    if not months:
        return []
    start, end = months[0].start, months[-1].end
    prices = (
        InstanceCost.objects.filter(instance__in=instances.order_by().values("pk"), valid_from__lt=end)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=start))
        .values_list("instance_id", "instance__agency_id", "instance__offering__cloud_id",
                     "instance__offering__cloud__tier", "monthly_cost", "valid_from", "valid_to")
    )
    now = timezone.now()
    totals: dict[tuple, Decimal] = defaultdict(Decimal)
    counted: dict[tuple, set[int]] = defaultdict(set)
    for instance_id, agency_id, cloud_id, tier, cost, valid_from, valid_to in prices.iterator(chunk_size=5000):
        held_until = valid_to or now
        for month in months:
            overlap = (min(held_until, month.end) - max(valid_from, month.start)).total_seconds()
            if overlap <= 0:
                continue
            share = Decimal(overlap) / Decimal((month.end - month.start).total_seconds())
            key = (month, agency_id, cloud_id, tier)
            totals[key] += cost * share
            counted[key].add(instance_id)
    return [
        ShowbackRow(month=key[0], agency_id=key[1], cloud_id=key[2], tier=key[3],
                    cost=amount.quantize(CENT, rounding=ROUND_HALF_UP), instances=len(counted[key]))
        for key, amount in sorted(totals.items(), key=lambda item: (str(item[0][0]), item[0][1], item[0][2]))
    ]
