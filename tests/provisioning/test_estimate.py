"""Cost before submit: the offering page's live estimate (the monthly cost and quota effect of the form's values,
computed by the function submit records them with), every priced parameter counted (a multi-AZ database costs
more), and the quota table that shows what approved requests reserved and what pending ones would take."""
from decimal import Decimal

import pytest
from django.urls import reverse

from portal.demo import OFFERING_TERMS
from provisioning.choices import RequestStatus
from provisioning.models import Request
from tests.catalogue.factories import OfferingFactory, ServiceFactory
from tests.matrix import Matrix, assert_matrix
from tests.provisioning.clients import html, signed_in
from tests.provisioning.conftest import VM
from tests.provisioning.test_pages import form_data
from tests.provisioning.test_requests import approve_all, awaiting, create

pytestmark = pytest.mark.django_db

DATABASE = {
    "identifier": "exams",
    "engine": "postgres",
    "instance_class": "db.m5.large",
    "storage_gb": 200,
    "admin_password": "Db-Admin-Passw0rd!",
}


def estimate_url(offering) -> str:
    return reverse("provisioning:request_estimate", args=[offering.pk])


def estimate(user, offering, data: dict) -> str:
    response = signed_in(user).post(estimate_url(offering), data, headers={"HX-Request": "true"})
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def cost_in(fragment: str) -> Decimal:
    return Decimal(fragment.split('data-testid="estimate-cost">¥', 1)[1].split("<", 1)[0])


def priced(**overrides) -> dict:
    """What the offering page posts: the priced fields of form_data and the lease (never the password)."""
    data = {name: value for name, value in form_data(**overrides).items()
            if name in ("p-flavor", "p-system_disk_gb", "p-data_disk_gb", "r-lease_months")}
    return data


@pytest.fixture
def database(cloud):
    base, unit_prices, usage_rules, _capabilities = OFFERING_TERMS["database"]
    return OfferingFactory(cloud=cloud, service=ServiceFactory(slug="database"), base_monthly_price=base,
                           unit_prices=unit_prices, usage_rules=usage_rules)


def test_estimate_matrix(journey, nobody):
    assert_matrix(
        Matrix(url=estimate_url(journey["offering"]), permitted=journey["requester"], no_permission=nobody,
               method="post", data=priced()),
        marker='data-testid="estimate-cost"',
    )
    # An approver sees the offering but may not request for the agency: no estimate either.
    assert signed_in(journey["approver"]).post(estimate_url(journey["offering"]), priced()).status_code == 404
    assert signed_in(journey["requester"]).get(estimate_url(journey["offering"])).status_code == 405


def test_the_estimate_is_the_cost_submit_records(journey):
    # medium = 2 vCPU x 45 + 4 GB x 20 + 140 GB x 0.5 + 30 base
    assert cost_in(estimate(journey["requester"], journey["offering"], priced())) == Decimal("270.00")
    large = estimate(journey["requester"], journey["offering"], priced(**{"p-flavor": "large", "p-data_disk_gb": "300"}))
    # large = 4 x 45 + 16 x 20 + 340 x 0.5 + 30
    assert cost_in(large) == Decimal("700.00")
    assert "租期 12 个月，合计 ¥8400.00" in large
    created = create(journey["requester"], journey["offering"], parameters={**VM, "flavor": "large", "data_disk_gb": 300})
    assert created.monthly_cost == cost_in(large)


def test_a_priced_field_not_filled_in_gets_a_note_not_an_error(journey):
    for value in ("abc", "-5"):
        shown = estimate(journey["requester"], journey["offering"], priced(**{"p-data_disk_gb": value}))
        assert "请填写或更正“数据盘（GB）”，即可估算费用。" in shown, value
        assert 'data-testid="estimate-cost"' not in shown
    # Fields the price does not read (the name, the password) need not be filled in for an estimate, and an
    # empty one with a default counts its default, as submit does.
    shown = estimate(journey["requester"], journey["offering"], {"p-flavor": "small", "p-data_disk_gb": ""})
    assert cost_in(shown) == Decimal("135.00")  # 45 + 2 x 20 + 40 x 0.5 (default system disk) + 30


def test_a_multi_az_database_costs_more_than_a_single_az_one(journey, database):
    single = {"p-instance_class": "db.m5.large", "p-storage_gb": "200"}
    multi = {**single, "p-multi_az": "on"}
    single_cost = cost_in(estimate(journey["requester"], database, single))
    multi_cost = cost_in(estimate(journey["requester"], database, multi))
    assert multi_cost > single_cost
    # The standby is a second primary: twice the vCPU, memory and storage; the base fee once.
    assert multi_cost - Decimal(database.base_monthly_price) == 2 * (single_cost - Decimal(database.base_monthly_price))
    # And submit records the same figures.
    for multi_az, expected in ((False, single_cost), (True, multi_cost)):
        created = create(journey["requester"], database, parameters={**DATABASE, "multi_az": multi_az})
        assert created.monthly_cost == expected, multi_az
    assert Request.objects.get(parameters__multi_az=True).usage["vcpu"] == "4"


def test_the_estimate_shows_the_quota_effect_with_pending_requests(journey, quota):
    quota("vcpu", 9)
    awaiting(journey["requester"], journey["offering"])  # medium: 2 vCPU, pending
    shown = estimate(journey["requester"], journey["offering"], priced(**{"p-flavor": "large"}))
    row = shown.split('data-quota="vcpu"', 1)[1].split("</tr>", 1)[0]
    assert '<td data-column="pending">2</td>' in row and '<td data-column="requested">4</td>' in row
    assert "<td>5</td>" in row  # left after this request: 9 - 4 (the pending 2 are not reserved)
    assert 'data-testid="quota-tight"' not in shown
    shown = estimate(journey["requester"], journey["offering"], priced(**{"p-flavor": "xlarge"}))
    assert 'data-testid="quota-tight"' in shown  # 8 fits, but not if the pending 2 are approved first


def test_the_offering_page_asks_for_the_estimate_without_the_password(journey):
    page = html(journey["requester"], reverse("catalogue:offering_detail", args=[journey["offering"].pk]))
    assert f'hx-post="{estimate_url(journey["offering"])}"' in page
    assert 'hx-params="csrfmiddlewaretoken,p-flavor,p-system_disk_gb,p-data_disk_gb,r-lease_months"' in page
    assert 'hx-trigger="load, change from:#request-form' in page and 'id="request-form"' in page
    page = html(journey["approver"], reverse("catalogue:offering_detail", args=[journey["offering"].pk]))
    assert 'data-testid="estimate-card"' not in page
    # A form sent back with an error keeps its estimate.
    url = reverse("provisioning:request_create", args=[journey["offering"].pk])
    page = signed_in(journey["requester"]).post(url, form_data(**{"p-name": "X"})).content.decode()
    assert f'hx-post="{estimate_url(journey["offering"])}"' in page


# The quota table on a request page ---------------------------------------------------------------------------


def quota_row(page: str, dimension: str) -> str:
    return page.split(f'data-quota="{dimension}"', 1)[1].split("</tr>", 1)[0]


def test_the_request_quota_table_shows_reserved_and_pending_apart(journey, quota):
    quota("vcpu", 20)
    approved = approve_all(awaiting(journey["requester"], journey["offering"], parameters={**VM, "flavor": "large"}),
                           journey)
    assert approved.status == RequestStatus.APPLYING  # 4 vCPU reserved
    awaiting(journey["requester"], journey["offering"], parameters={**VM, "flavor": "small"})  # 1 pending
    create(journey["requester"], journey["offering"], parameters={**VM, "flavor": "xlarge"})  # a draft: not counted
    mine = awaiting(journey["requester"], journey["offering"])  # 2 for this request
    row = quota_row(html(journey["requester"], reverse("provisioning:request_detail", args=[mine.pk])), "vcpu")
    assert '<td data-column="reserved">4</td>' in row
    assert '<td data-column="pending">1</td>' in row
    assert '<td data-column="requested">2</td>' in row
    assert "<td>14</td>" in row  # 20 - 4 reserved - 2

    # On the approved request, its own reservation is its demand, not counted twice among the reserved.
    row = quota_row(html(journey["requester"], reverse("provisioning:request_detail", args=[approved.pk])), "vcpu")
    assert '<td data-column="reserved">0</td>' in row and '<td data-column="requested">4</td>' in row
    assert '<td data-column="pending">3</td>' in row and "<td>16</td>" in row
