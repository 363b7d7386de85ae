"""Showback and the overview: each instance's price history follows its applies, a month's cost prorates each
price over the part of the month it held, and the totals by tier, cloud and agency add up to a hand
computation; the overview's charts carry the figures and the links to the inventory behind them."""
import csv
import io
import json
from datetime import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from portal.choices import Role
from portal.models import AuditEvent
from provisioning.choices import InstanceStatus, RequestKind
from provisioning.models import Instance, InstanceCost
from provisioning.services import requests as svc
from provisioning.services.costs import Month
from tests.portal.factories import UserFactory
from tests.provisioning.clients import Api, html, signed_in
from tests.provisioning.conftest import finish_run
from tests.provisioning.test_requests import approve_all, awaiting

pytestmark = pytest.mark.django_db


def local(*args) -> datetime:
    return timezone.make_aware(datetime(*args))


def completed_day2(journey, instance, kind, parameters=None):
    change = svc.request_create_day2(actor=journey["requester"], instance=instance, kind=kind, parameters=parameters)
    svc.request_submit(actor=journey["requester"], request=change)
    change.refresh_from_db()
    finish_run(change.plan_run, sha="e" * 64)
    change.refresh_from_db()
    approve_all(change, journey)
    change.refresh_from_db()
    finish_run(change.apply_run)
    change.refresh_from_db()
    return change


@pytest.fixture
def lived(journey, no_broker):
    """An instance created, modified to a larger size, then decommissioned, through the services."""
    request = approve_all(awaiting(journey["requester"], journey["offering"]), journey)
    finish_run(request.apply_run)
    instance = Instance.objects.get()
    created_cost = instance.monthly_cost
    completed_day2(journey, instance, RequestKind.MODIFY, {"flavor": "large", "admin_password": ""})
    instance.refresh_from_db()
    modified_cost = instance.monthly_cost
    completed_day2(journey, instance, RequestKind.DECOMMISSION)
    instance.refresh_from_db()
    return instance, created_cost, modified_cost


def test_the_price_history_follows_create_modify_and_decommission(lived):
    instance, created_cost, modified_cost = lived
    assert instance.status == InstanceStatus.DESTROYED and modified_cost > created_cost
    prices = list(InstanceCost.objects.filter(instance=instance).order_by("valid_from"))
    assert [price.monthly_cost for price in prices] == [created_cost, modified_cost]
    assert prices[0].valid_from == instance.created_at
    assert prices[0].valid_to == prices[1].valid_from  # the new price starts where the old one stopped
    assert prices[1].valid_to == instance.destroyed_at


def test_a_month_prorates_each_price_to_a_hand_computation(lived, journey, operator):
    instance, created_cost, modified_cost = lived
    first, second = InstanceCost.objects.filter(instance=instance).order_by("valid_from")
    # Created 11 March at 00:00 Beijing time, modified 21 March, destroyed 16 April.
    InstanceCost.objects.filter(pk=first.pk).update(valid_from=local(2026, 3, 11), valid_to=local(2026, 3, 21))
    InstanceCost.objects.filter(pk=second.pk).update(valid_from=local(2026, 3, 21), valid_to=local(2026, 4, 16))
    march = (created_cost * 10 / 31 + modified_cost * 11 / 31).quantize(Decimal("0.01"))
    april = (modified_cost * 15 / 30).quantize(Decimal("0.01"))

    api = Api(operator)
    answer = api.get("/api/v1/showback/?month=2026-03").json()
    assert Decimal(answer["total"]) == march
    assert answer["lines"] == [{
        "agency": instance.agency.name, "agency_en": instance.agency.name_en, "agency_code": instance.agency.code,
        "cloud": instance.offering.cloud.slug, "tier": instance.offering.cloud.tier, "instances": 1,
        "cost": str(march),
    }]
    assert Decimal(api.get("/api/v1/showback/?month=2026-04").json()["total"]) == april
    assert api.get("/api/v1/showback/?month=2026-02").json() == {"month": "2026-02", "total": "0.00", "lines": []}

    page = html(operator, "/showback/?month=2026-03")
    assert f"¥{march}" in page and instance.agency.display_name in page and instance.offering.cloud.display_name in page

    response = signed_in(operator).get("/showback/?month=2026-04&export=csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert [(row["单位代码"], row["费用（元）"]) for row in rows] == [(instance.agency.code, str(april))]
    assert AuditEvent.objects.filter(action="showback.exported", details__month="2026-04").exists()

    # Another agency's clerk sees none of it; the clerk of its own agency sees the same figure.
    stranger = UserFactory(roles=[Role.REQUESTER])
    assert Api(stranger).get("/api/v1/showback/?month=2026-03").json()["lines"] == []
    assert Decimal(Api(journey["requester"]).get("/api/v1/showback/?month=2026-03").json()["total"]) == march


def test_a_month_that_is_not_one_is_said_so(operator):
    assert Api(operator).get("/api/v1/showback/?month=2026-13").status_code == 400
    page = html(operator, "/showback/?month=last")
    assert "无法识别" in page and 'class="error"' in page


def test_month_arithmetic_crosses_years():
    assert str(Month(2026, 12).next()) == "2027-01" and str(Month(2026, 1).previous()) == "2025-12"
    assert Month.parse("2026-03").end - Month.parse("2026-03").start == local(2026, 4, 1) - local(2026, 3, 1)


def test_the_overview_charts_what_the_user_may_see_and_links_to_it(journey, no_broker, operator):
    request = approve_all(awaiting(journey["requester"], journey["offering"]), journey)
    finish_run(request.apply_run)
    instance = Instance.objects.get()
    InstanceCost.objects.filter(instance=instance).update(valid_from=Month.of(timezone.localdate()).start)

    page = html(operator, "/overview/")
    data = json.loads(page.split('id="overview-data" type="application/json">')[1].split("</script>")[0])
    cloud = instance.offering.cloud
    assert data["clouds"] == [{
        "name": cloud.display_name, "count": 1, "cost": float(instance.monthly_cost),
        "url": f"/instances/?cloud={cloud.slug}&status=active",
    }]
    assert data["agencies"][0]["url"] == f"/instances/?agency={instance.agency.code}&status=active"
    assert data["tiers"][0]["count"] == 1 and len(data["trend"]) == 12
    assert data["trend"][-1]["cost"] > 0 and data["trend"][-1]["url"].startswith("/showback/?month=")
    assert "vendor/echarts.min.js" in page and "<script>" not in page  # no inline script

    stranger = UserFactory(roles=[Role.REQUESTER])
    assert 'data-testid="overview-empty"' in html(stranger, "/overview/")
    assert signed_in(journey["owner"]).get("/overview/").status_code == 200
