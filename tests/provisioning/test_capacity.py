"""A cloud's capacity: a limit row with no agency, shared by every agency on the cloud, reserved at final
approval in the same locked transaction as the agencies' own quotas."""
from decimal import Decimal

import pytest
from django.contrib.admin.sites import site
from django.core.exceptions import ValidationError
from django.test import RequestFactory

from catalogue.choices import QuotaDimension
from portal.choices import Role
from provisioning.choices import InstanceStatus, RequestKind, RequestStatus
from provisioning.models import Instance, QuotaLimit
from provisioning.selectors import request_quota_table
from provisioning.services import requests as svc
from provisioning.services.quotas import QuotaExceeded, demand_of, in_use
from tests.catalogue.factories import CloudFactory
from tests.portal.factories import UserFactory
from tests.provisioning.clients import signed_in
from tests.provisioning.conftest import finish_run
from tests.provisioning.test_requests import approve_all, awaiting, create

pytestmark = pytest.mark.django_db


@pytest.fixture
def capacity(cloud):
    def set_capacity(dimension: str, limit) -> QuotaLimit:
        return QuotaLimit.objects.create(agency=None, cloud=cloud, dimension=dimension, limit=limit)

    return set_capacity


@pytest.fixture
def other_journey(other_agency, other_requester):
    approver = UserFactory(username="approver-ts", agency=other_agency, roles=[Role.AGENCY_APPROVER])
    return {"requester": other_requester, "approver": approver}


def test_final_approval_reserves_the_clouds_capacity_and_apply_uses_it(journey, capacity):
    vcpu = capacity(QuotaDimension.VCPU, 10)
    request = approve_all(awaiting(journey["requester"], journey["offering"]), journey)
    vcpu.refresh_from_db()
    assert (vcpu.reserved, vcpu.used) == (Decimal(2), Decimal(0))
    finish_run(request.apply_run)
    vcpu.refresh_from_db()
    assert (vcpu.reserved, vcpu.used) == (Decimal(0), Decimal(2))


def test_capacity_is_shared_by_agencies_and_refuses_with_the_cloud_and_dimension(journey, other_journey, capacity):
    # 3 vCPU on 教育云 in all; each agency's VM takes 2, and neither agency has a quota of its own.
    vcpu = capacity(QuotaDimension.VCPU, 3)
    second = awaiting(other_journey["requester"], journey["offering"])  # both fit at submit
    first = approve_all(awaiting(journey["requester"], journey["offering"]), journey)
    assert first.status == RequestStatus.APPLYING
    svc.request_approve(actor=other_journey["approver"], request=second)
    second.refresh_from_db()
    with pytest.raises(QuotaExceeded) as refused:
        svc.request_approve(actor=journey["owner"], request=second)
    message = refused.value.message
    for text in ("超出云容量：教育云的", str(QuotaDimension.VCPU.label), "容量为 3", "已预留 2", "本次申请 2"):
        assert text in message, (text, message)
    second.refresh_from_db()
    vcpu.refresh_from_db()
    assert second.status == RequestStatus.AWAITING_APPROVAL and not second.reservations.exists()
    assert (vcpu.reserved, vcpu.used) == (Decimal(2), Decimal(0))


def test_submit_refuses_what_the_cloud_can_no_longer_hold(journey, capacity):
    vcpu = capacity(QuotaDimension.VCPU, 3)
    QuotaLimit.objects.filter(pk=vcpu.pk).update(used=2)
    with pytest.raises(QuotaExceeded, match="超出云容量"):
        svc.request_submit(actor=journey["requester"], request=create(journey["requester"], journey["offering"]))


def test_a_destroyed_instance_gives_the_capacity_back(journey, capacity):
    vcpu = capacity(QuotaDimension.VCPU, 10)
    request = approve_all(awaiting(journey["requester"], journey["offering"]), journey)
    finish_run(request.apply_run)
    instance = Instance.objects.get()
    down = svc.request_create_day2(actor=journey["requester"], instance=instance, kind=RequestKind.DECOMMISSION)
    svc.request_submit(actor=journey["requester"], request=down)
    down.refresh_from_db()
    finish_run(down.plan_run, sha="d" * 64)
    down.refresh_from_db()
    finish_run(approve_all(down, journey).apply_run)
    vcpu.refresh_from_db()
    assert vcpu.used == 0


def test_the_quota_table_shows_capacity_with_every_agencys_pending_requests(journey, other_journey, capacity):
    capacity(QuotaDimension.VCPU, 10)
    awaiting(other_journey["requester"], journey["offering"])  # another agency's, still pending
    mine = create(journey["requester"], journey["offering"])
    [row] = [row for row in request_quota_table(mine) if row["capacity"]]
    assert row["scope"] == "教育云（云容量）"
    assert (row["pending"], row["requested"], row["after"]) == (Decimal(2), Decimal(2), Decimal(8))


def test_a_limit_needs_an_agency_or_a_cloud_and_capacity_counts_resources_only(cloud):
    with pytest.raises(ValidationError, match="至少选择一项"):
        QuotaLimit(agency=None, cloud=None, dimension=QuotaDimension.VCPU, limit=1).full_clean()
    with pytest.raises(ValidationError, match="云容量按资源计算"):
        QuotaLimit(agency=None, cloud=cloud, dimension=QuotaDimension.MONTHLY_COST, limit=1).full_clean()
    QuotaLimit(agency=None, cloud=cloud, dimension=QuotaDimension.VCPU, limit=1).full_clean()


def test_a_new_limit_starts_from_what_already_runs_in_its_scope(journey, cloud, agency, other_journey):
    for requester, approvers in ((journey["requester"], journey), (other_journey["requester"], None)):
        request = awaiting(requester, journey["offering"])
        if approvers is None:
            svc.request_approve(actor=other_journey["approver"], request=request)
            request.refresh_from_db()
            svc.request_approve(actor=journey["owner"], request=request)
            request.refresh_from_db()
        else:
            request = approve_all(request, journey)
        finish_run(request.apply_run)
    assert Instance.objects.filter(status=InstanceStatus.ACTIVE).count() == 2
    per_vm = demand_of(request)[QuotaDimension.VCPU]

    def added_in_admin(**fields) -> QuotaLimit:
        limit = QuotaLimit(limit=100, **fields)
        http = RequestFactory().post("/admin/")
        http.user = UserFactory(username=f"admin-{QuotaLimit.objects.count()}")
        site._registry[QuotaLimit].save_model(http, limit, form=type("F", (), {"changed_data": ["limit"]})(),
                                              change=False)
        return limit

    assert added_in_admin(agency=None, cloud=cloud, dimension=QuotaDimension.VCPU).used == 2 * per_vm
    assert added_in_admin(agency=agency, cloud=None, dimension=QuotaDimension.VCPU).used == per_vm
    agency_cost = added_in_admin(agency=agency, cloud=cloud, dimension=QuotaDimension.MONTHLY_COST)
    assert agency_cost.used == Instance.objects.get(agency=agency).monthly_cost > 0
    assert in_use(QuotaLimit(agency=None, cloud=cloud, dimension=QuotaDimension.INSTANCES)) == 2


def test_cloud_owners_see_their_clouds_capacity_operators_every_cloud(journey, capacity, cloud, operator):
    capacity(QuotaDimension.VCPU, 10)
    other = CloudFactory(slug="gov", name="政务云")
    QuotaLimit.objects.create(agency=None, cloud=other, dimension=QuotaDimension.VCPU, limit=5)
    approve_all(awaiting(journey["requester"], journey["offering"]), journey)  # 2 vCPU reserved on 教育云

    page = signed_in(journey["owner"]).get("/capacity/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-cloud="edu"' in html and 'data-cloud="gov"' not in html
    row = html[html.index('data-dimension="vcpu"'):]
    assert '<td data-column="available">8</td>' in row[:600]
    assert 'data-cloud="gov"' in signed_in(operator).get("/capacity/").content.decode()
    assert signed_in(journey["requester"]).get("/capacity/").status_code == 403
