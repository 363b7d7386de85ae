"""What needs a person, on the operators' page; decommissioning in bulk (one request per instance, each
following its policy); and never two changes in flight on one instance, even when asked for at once."""
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.choices import Role
from portal.errors import Conflict
from portal.models import AuditEvent
from provisioning.choices import InstanceStatus, RequestKind, RequestStatus
from provisioning.models import Instance, Request
from provisioning.services import requests as svc
from tests.portal.factories import UserFactory
from tests.provisioning.clients import html, signed_in
from tests.provisioning.conftest import VM, finish_run
from tests.provisioning.test_requests import approve_all, awaiting

pytestmark = pytest.mark.django_db


@pytest.fixture
def two(journey, no_broker):
    for name in ("web-01", "web-02"):
        request = approve_all(awaiting(journey["requester"], journey["offering"], parameters={**VM, "name": name}),
                              journey)
        finish_run(request.apply_run)
    return list(Instance.objects.order_by("name"))


def test_operators_decommission_in_bulk_one_request_each_under_the_policy(journey, two, operator):
    first, second = two
    svc.request_submit(actor=journey["requester"], request=svc.request_create_day2(
        actor=journey["requester"], instance=second, kind=RequestKind.EXTEND, lease_months=6))  # in flight

    client = signed_in(operator)
    response = client.post("/instances/decommission/", {
        "instances": [first.pk, second.pk], "justification": "系统整合，停止使用", "next": "/instances/?status=active",
    }, follow=True)
    assert response.redirect_chain[-1][0] == "/instances/?status=active"
    page = response.content.decode()
    raised = Request.objects.get(instance=first, kind=RequestKind.DECOMMISSION)
    assert raised.number in page and "“web-02”未发起退订" in page  # the one refused, and why
    assert raised.requester == journey["requester"] and raised.justification == "系统整合，停止使用"
    assert raised.status == RequestStatus.PLANNING  # its plan runs, then its approvers sign, as for any request
    assert not Request.objects.filter(instance=second, kind=RequestKind.DECOMMISSION).exists()
    event = AuditEvent.objects.get(action="request.create", object_id=str(raised.pk))
    assert event.actor == operator and event.details["bulk"] is True


def test_bulk_decommission_needs_a_reason_and_the_permission(journey, two, operator):
    first, _second = two
    page = signed_in(operator).post("/instances/decommission/", {"instances": [first.pk], "justification": " "},
                                    follow=True).content.decode()
    assert "请写明退订原因" in page and not Request.objects.filter(kind=RequestKind.DECOMMISSION).exists()
    # An agency's requester sees the instance, but asks one at a time from its page, not in bulk.
    assert signed_in(journey["requester"]).post("/instances/decommission/", {
        "instances": [first.pk], "justification": "x"}).status_code == 403
    assert 'data-testid="bulk-form"' not in html(journey["requester"], "/instances/")
    assert 'data-testid="bulk-form"' in html(operator, "/instances/")
    # An instance the operator cannot see is not touched (nor told of).
    assert not Request.objects.filter(kind=RequestKind.DECOMMISSION).exists()


def test_never_two_changes_in_flight_on_one_instance(journey, two):
    first, _second = two
    extend = svc.request_create_day2(actor=journey["requester"], instance=first, kind=RequestKind.EXTEND, lease_months=6)
    decommission = svc.request_create_day2(actor=journey["requester"], instance=first, kind=RequestKind.DECOMMISSION)
    svc.request_submit(actor=journey["requester"], request=extend)
    # The second draft was made before the first was submitted: the database refuses it at submit.
    with pytest.raises(Conflict, match="进行中的申请"):
        svc.request_submit(actor=journey["requester"], request=decommission)
    decommission.refresh_from_db()
    assert decommission.status == RequestStatus.DRAFT
    assert Request.objects.filter(instance=first, status__in=RequestStatus.active()).count() == 1


def test_the_operations_page_lists_failed_requests_and_leases_ending_this_week(journey, two, operator):
    first, second = two
    Instance.objects.filter(pk=first.pk).update(lease_end=timezone.localdate() + timedelta(days=3))
    change = svc.request_create_day2(actor=journey["requester"], instance=second, kind=RequestKind.DECOMMISSION)
    svc.request_submit(actor=journey["requester"], request=change)
    change.refresh_from_db()
    finish_run(change.plan_run, status="failed", error="云接口超时")
    page = html(operator, "/operations/")
    failed = page[page.index('data-testid="failed-requests"'):]
    assert f'data-request="{change.pk}"' in failed.split("</table>")[0]
    leases = page[page.index('data-testid="leases-ending"'):].split("</table>")[0]
    assert f'data-instance="{first.pk}"' in leases and f'data-instance="{second.pk}"' not in leases
    assert Instance.objects.get(pk=second.pk).status == InstanceStatus.ACTIVE
    assert signed_in(UserFactory(roles=[Role.REQUESTER])).get("/operations/").status_code == 404


def test_drift_actions_are_for_operators_and_need_a_drift_and_a_note(journey, two, operator):
    first, _second = two
    url = f"/instances/{first.pk}/drift/accept/"
    assert signed_in(journey["requester"]).post(url, {"note": "x"}).status_code == 404
    assert signed_in(operator).post(f"/instances/{first.pk}/drift/destroy-all/", {"note": "x"}).status_code == 404
    page = signed_in(operator).post(url, {"note": "云上现状正确"}, follow=True).content.decode()
    assert "没有可接受的漂移" in page  # never checked: nothing to accept
    page = signed_in(operator).post(f"/instances/{first.pk}/drift/reapply/", {"note": ""}, follow=True).content.decode()
    assert "请写明重新执行的原因" in page
    assert not Request.objects.filter(instance=first, kind=RequestKind.MODIFY).exists()
    assert 'data-testid="drift-actions"' not in html(operator, f"/instances/{first.pk}/")
