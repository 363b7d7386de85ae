"""Reads behind the overview's charts and the showback: what the user may see of the inventory, summed.

Every figure starts from instance_list_for_user, so an agency's clerk sums their agency, a cloud owner their
clouds, an operator everything; each item carries the URL of the filtered inventory (or showback) behind it.
"""
from collections import defaultdict
from decimal import Decimal
from urllib.parse import urlencode

from django.db.models import Count, Sum
from django.urls import reverse
from django.utils import timezone

from catalogue.choices import CloudTier, QuotaDimension
from catalogue.models import Cloud
from portal.models import Agency
from portal.names import pick_name
from portal.permissions import agencies_where, user_can

from .choices import InstanceStatus
from .models import QuotaLimit
from .selectors import capacity_for_user, instance_list_for_user
from .services.costs import Month, months_back, showback

# Bars per chart before the rest are left out (largest first).
TOP = 15
TREND_MONTHS = 12


def inventory_url(**filters) -> str:
    return f"{reverse('provisioning:instance_list')}?{urlencode(filters)}"


def showback_url(**filters) -> str:
    return f"{reverse('provisioning:showback')}?{urlencode(filters)}"


def _money(value) -> float:
    return float(Decimal(value or 0).quantize(Decimal("0.01")))


def overview_for_user(user) -> dict:
    live = instance_list_for_user(user).exclude(status=InstanceStatus.DESTROYED).order_by()
    by_tier = {
        row["offering__cloud__tier"]: row
        for row in live.values("offering__cloud__tier").annotate(count=Count("id"), cost=Sum("monthly_cost"))
    }
    tiers = [
        {"name": str(label), "count": by_tier[tier]["count"], "cost": _money(by_tier[tier]["cost"]),
         "url": inventory_url(tier=tier, status=InstanceStatus.ACTIVE)}
        for tier, label in CloudTier.choices if tier in by_tier
    ]
    clouds = [
        {"name": pick_name(row["offering__cloud__name"], row["offering__cloud__name_en"]), "count": row["count"],
         "cost": _money(row["cost"]), "url": inventory_url(cloud=row["offering__cloud__slug"], status=InstanceStatus.ACTIVE)}
        for row in live.values("offering__cloud__slug", "offering__cloud__name", "offering__cloud__name_en")
        .annotate(count=Count("id"), cost=Sum("monthly_cost")).order_by("-cost")[:TOP]
    ]
    agencies = [
        {"name": pick_name(row["agency__name"], row["agency__name_en"]), "count": row["count"],
         "cost": _money(row["cost"]), "url": inventory_url(agency=row["agency__code"], status=InstanceStatus.ACTIVE)}
        for row in live.values("agency__code", "agency__name", "agency__name_en")
        .annotate(count=Count("id"), cost=Sum("monthly_cost")).order_by("-cost")[:TOP]
    ]
    months = months_back(Month.of(timezone.localdate()), TREND_MONTHS)
    per_month: dict[str, Decimal] = defaultdict(Decimal)
    for row in showback(instance_list_for_user(user), months):
        per_month[str(row.month)] += row.cost
    trend = [{"name": str(month), "cost": _money(per_month.get(str(month))), "url": showback_url(month=str(month))}
             for month in months]
    return {
        "tiers": tiers, "clouds": clouds, "agencies": agencies, "trend": trend,
        "quotas": quota_use_for_user(user), "capacity": capacity_use_for_user(user),
        "totals": {"count": sum(t["count"] for t in tiers), "cost": sum(t["cost"] for t in tiers)},
    }


def _use_rows(limits, name_of, url_of) -> list[dict]:
    """One bar per (owner, dimension): used, reserved and free as shares of the limit, largest use first."""
    rows = []
    for limit in limits:
        if not limit.limit:
            continue
        used, reserved = Decimal(limit.used), Decimal(limit.reserved)
        free = max(Decimal(limit.limit) - used - reserved, Decimal(0))
        rows.append({
            "name": f"{name_of(limit)} · {QuotaDimension(limit.dimension).label}",
            "used": _money(used), "reserved": _money(reserved), "free": _money(free), "limit": _money(limit.limit),
            "share": float((used + reserved) / Decimal(limit.limit)), "url": url_of(limit),
        })
    rows.sort(key=lambda row: -row["share"])
    return rows[:TOP]


def quota_use_for_user(user) -> list[dict]:
    """Agencies' quotas: every agency's for who reads quotas, the user's own agencies' for agency staff."""
    limits = QuotaLimit.objects.filter(agency__isnull=False).select_related("agency", "cloud")
    if not user_can(user, "provisioning.view_quotalimit"):
        limits = limits.filter(
            agency__in=agencies_where(user, "portal.request_for_agency", "portal.approve_for_agency")
        )
    return _use_rows(
        limits,
        lambda limit: limit.agency.display_name + (f" · {limit.cloud.display_name}" if limit.cloud_id else ""),
        lambda limit: inventory_url(agency=limit.agency.code, status=InstanceStatus.ACTIVE),
    )


def capacity_use_for_user(user) -> list[dict]:
    sheets = capacity_for_user(user) or []
    clouds = {sheet["cloud"].pk: sheet["cloud"] for sheet in sheets}
    limits = QuotaLimit.objects.filter(agency__isnull=True, cloud__in=list(clouds)).select_related("cloud")
    return _use_rows(
        limits,
        lambda limit: limit.cloud.display_name,
        lambda limit: inventory_url(cloud=limit.cloud.slug, status=InstanceStatus.ACTIVE),
    )


# Showback ----------------------------------------------------------------------------------------------------


def showback_for_user(user, month: Month) -> dict:
    """One month's cost of what the user may see: totals by tier, cloud and agency, and the rows beneath."""
    rows = showback(instance_list_for_user(user), [month])
    clouds = {cloud.pk: cloud for cloud in Cloud.objects.filter(pk__in={row.cloud_id for row in rows})}
    agencies = {agency.pk: agency for agency in Agency.objects.filter(pk__in={row.agency_id for row in rows})}
    tiers = dict(CloudTier.choices)

    def total(key) -> list[dict]:
        sums: dict = defaultdict(lambda: {"cost": Decimal(0), "instances": 0})
        for row in rows:
            sums[key(row)]["cost"] += row.cost
            sums[key(row)]["instances"] += row.instances
        return sorted(({"key": k, **v} for k, v in sums.items()), key=lambda item: -item["cost"])

    lines = [
        {"month": str(row.month), "agency": agencies[row.agency_id], "cloud": clouds[row.cloud_id],
         "tier": tiers[row.tier], "cost": row.cost, "instances": row.instances}
        for row in rows
    ]
    lines.sort(key=lambda line: (line["agency"].code, line["cloud"].slug))
    return {
        "month": month,
        "lines": lines,
        "by_tier": [{**item, "label": tiers[item["key"]]} for item in total(lambda row: row.tier)],
        "by_cloud": [{**item, "cloud": clouds[item["key"]]} for item in total(lambda row: row.cloud_id)],
        "by_agency": [{**item, "agency": agencies[item["key"]]} for item in total(lambda row: row.agency_id)],
        "total": sum((row.cost for row in rows), Decimal(0)),
    }
