"""Denied attempts reach the audit trail: a refused object's 404 and a 403 on pages and in the API, a refused
approval, each written even when the request's transaction rolls back, and at most AUDIT_DENIED_PER_MINUTE a
minute per actor (the next one says how many were left out). Approval comments are in the trail, and the
request and instance pages show their timelines from it."""
import re

import pytest
from django.db import connection
from django.urls import reverse

from portal import denials
from portal.choices import AuditOutcome, Role
from portal.models import AuditEvent
from provisioning.choices import RequestStatus
from tests.portal.factories import UserFactory
from tests.provisioning.clients import Api, html, signed_in
from tests.provisioning.conftest import finish_run
from tests.provisioning.test_pages import action_url, completed, detail_url
from tests.provisioning.test_requests import awaiting

pytestmark = pytest.mark.django_db


def denied(**filters):
    return AuditEvent.objects.filter(outcome=AuditOutcome.DENIED, **filters).order_by("id")


@pytest.fixture
def atomic_requests(monkeypatch):
    """ATOMIC_REQUESTS on, as a deployment may set it: each view runs in a transaction that a refusal undoes."""
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)


def test_another_agencys_request_answers_404_and_the_attempt_is_audited(journey, other_requester):
    request = awaiting(journey["requester"], journey["offering"])
    assert signed_in(other_requester).get(detail_url(request)).status_code == 404
    event = denied(action="access.denied").get()
    assert event.actor == other_requester
    assert (event.object_type, event.object_id) == ("provisioning.request", str(request.pk))
    assert event.details == {"path": detail_url(request), "method": "GET", "status": 404,
                             "view": "provisioning:request_detail", "arguments": {"pk": str(request.pk)}}


def test_a_refused_page_says_why_in_the_trail(journey, auditor):
    instance = completed(journey).instance
    url = reverse("provisioning:instance_change", args=[instance.pk, "modify"])
    assert signed_in(auditor).get(url).status_code == 403
    event = denied(action="access.denied").get()
    assert event.details["status"] == 403 and event.details["reason"] == "只有该资源所属单位的申请人可以发起变更。"
    assert (event.object_type, event.object_id) == ("provisioning.instance", str(instance.pk))


def test_the_api_refusal_is_audited_though_drf_rolls_the_request_back(journey, other_requester, atomic_requests):
    request = awaiting(journey["requester"], journey["offering"])
    assert Api(other_requester).get(f"/api/v1/requests/{request.pk}/").status_code == 404
    event = denied(action="access.denied").get()
    assert event.actor == other_requester and event.details["view"] == "request-detail"
    assert event.object_id == str(request.pk)


def test_an_address_that_does_not_exist_is_no_denied_attempt(requester):
    client = signed_in(requester)
    assert client.get("/no-such-page/").status_code == 404
    assert Api(requester).get("/api/v1/no-such-thing/").status_code == 404
    assert not denied().exists()


def test_denials_are_rate_limited_per_actor_and_the_next_one_counts_the_rest(
    journey, other_requester, other_approver, settings, monkeypatch
):
    settings.AUDIT_DENIED_PER_MINUTE = 3
    minute = [1000]
    monkeypatch.setattr(denials, "current_minute", lambda: minute[0])
    request = awaiting(journey["requester"], journey["offering"])
    client = signed_in(other_requester)
    for _ in range(5):
        assert client.get(detail_url(request)).status_code == 404
    assert denied(actor=other_requester).count() == 3
    # Another actor has a limit of their own.
    assert signed_in(other_approver).get(detail_url(request)).status_code == 404
    assert denied(actor=other_approver).count() == 1
    minute[0] += 1
    client.get(detail_url(request))
    events = list(denied(actor=other_requester))
    assert len(events) == 4
    assert events[-1].details["suppressed"] == 2 and "suppressed" not in events[-2].details


def test_a_refused_approval_is_audited_with_its_comment_though_the_service_rolls_back(
    journey, agency, atomic_requests
):
    both = UserFactory(agency=agency, roles=[Role.REQUESTER, Role.AGENCY_APPROVER])
    request = awaiting(both, journey["offering"])
    page = signed_in(both).post(action_url(request, "approve"), {"comment": "自己批准"}, follow=True)
    assert "不能审批自己提交的申请。" in page.content.decode()
    request.refresh_from_db()
    assert request.status == RequestStatus.AWAITING_APPROVAL and request.approvals.count() == 0
    event = denied(action="approval.refused").get()
    assert event.actor == both and event.object_id == str(request.pk)
    assert event.details["reason"] == "不能审批自己提交的申请。" and event.details["comment"] == "自己批准"
    assert event.details["code"] == "permission_denied" and event.details["service"] == "request_approve"
    assert event.details["path"] == action_url(request, "approve") and event.details["method"] == "POST"
    # One attempt, one event: the page's redirect is no second denial.
    assert denied().count() == 1


def test_a_refused_approval_through_the_api_is_one_event(journey):
    request = awaiting(journey["requester"], journey["offering"])
    api = Api(journey["approver"])
    assert api.post(f"/api/v1/requests/{request.pk}/approve/", {"comment": "同意"}).status_code == 200
    # Their stage is signed; the open one is the cloud owner's, so the service refuses.
    answer = api.post(f"/api/v1/requests/{request.pk}/reject/", {"comment": "再驳回"})
    assert answer.status_code == 403
    event = denied().get()
    assert event.action == "approval.refused" and event.details["service"] == "request_reject"
    assert event.details["comment"] == "再驳回"


def test_a_bad_form_is_not_a_denied_attempt(journey):
    request = awaiting(journey["requester"], journey["offering"])
    signed_in(journey["approver"]).post(action_url(request, "reject"), {"comment": " "})
    assert not denied().exists()


def test_approval_comments_are_in_the_trail_and_on_the_timeline(journey):
    request = awaiting(journey["requester"], journey["offering"])
    signed_in(journey["approver"]).post(action_url(request, "approve"), {"comment": "同意，注意备份"})
    signed_in(journey["owner"]).post(action_url(request, "reject"), {"comment": "容量不足"})
    assert AuditEvent.objects.get(action="approval.approve").details["comment"] == "同意，注意备份"
    assert AuditEvent.objects.get(action="request.rejected").details["comment"] == "容量不足"
    page = html(journey["requester"], detail_url(request))
    assert "意见：同意，注意备份" in page and "意见：容量不足" in page


def test_the_instance_page_shows_its_timeline_from_the_trail(journey, other_requester):
    request = completed(journey)
    instance = request.instance
    # A day-2 change: its request's and its run's events belong to the instance's history too.
    change = signed_in(journey["requester"]).post(
        reverse("provisioning:instance_change", args=[instance.pk, "extend"]),
        {"lease_months": 6, "justification": "续期一学期"},
    )
    assert change.status_code == 302
    extend = instance.requests.exclude(pk=request.pk).get()
    if extend.plan_run_id:
        finish_run(extend.plan_run)
    signed_in(other_requester).get(reverse("provisioning:instance_detail", args=[instance.pk]))  # denied: not shown
    page = html(journey["requester"], reverse("provisioning:instance_detail", args=[instance.pk]))
    timeline = page[page.index('data-testid="timeline"'):]
    actions = re.findall(r'data-action="([^"]+)"', timeline)
    assert actions[0] == "request.create" and "instance.created" in actions and "run.succeeded" in actions
    assert actions.count("request.create") == 2  # the create request's and the extension's
    assert "access.denied" not in actions
    assert "资源已创建" in timeline
