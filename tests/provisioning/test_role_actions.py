"""A role sees only the buttons that its service would let it use: no day-2 changes for an operator or an
auditor, no request form's submit for those who cannot request; and the inbox is marked read all at once."""
import pytest
from django.test import Client
from django.urls import reverse

from portal.choices import Role
from provisioning.choices import RequestKind
from provisioning.models import Notification
from provisioning.services import requests as svc
from tests.portal.factories import UserFactory
from tests.provisioning.clients import html, signed_in
from tests.provisioning.conftest import finish_run
from tests.provisioning.test_pages import completed
from tests.provisioning.test_requests import submitted

pytestmark = pytest.mark.django_db

DAY2 = ("modify", "extend", "decommission")


def day2_url(instance, kind: str) -> str:
    return reverse("provisioning:instance_change", args=[instance.pk, kind])


def test_the_requester_sees_the_day2_buttons(journey):
    instance = completed(journey).instance
    page = html(journey["requester"], reverse("provisioning:instance_detail", args=[instance.pk]))
    for kind in DAY2:
        assert day2_url(instance, kind) in page


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.AUDIT_ADMIN])
def test_who_may_see_but_not_change_an_instance_gets_no_day2_buttons_and_a_403_form(role, journey):
    instance = completed(journey).instance
    viewer = UserFactory(username=f"viewer-{role}", roles=[role])
    page = html(viewer, reverse("provisioning:instance_detail", args=[instance.pk]))
    assert instance.name in page
    for kind in DAY2:
        assert day2_url(instance, kind) not in page
        response = signed_in(viewer).get(day2_url(instance, kind))
        assert response.status_code == 403 and 'class="topbar"' in response.content.decode()


def test_while_a_change_is_in_flight_the_requester_is_told_instead_of_offered_buttons(journey):
    instance = completed(journey).instance
    change = svc.request_create_day2(actor=journey["requester"], instance=instance, kind=RequestKind.EXTEND,
                                     lease_months=6, justification="继续使用")
    svc.request_submit(actor=journey["requester"], request=change)
    page = html(journey["requester"], reverse("provisioning:instance_detail", args=[instance.pk]))
    assert day2_url(instance, "modify") not in page
    assert 'data-testid="change-in-flight"' in page and change.number in page


def test_the_offering_page_offers_submit_only_to_who_may_request(journey, operator):
    url = reverse("catalogue:offering_detail", args=[journey["offering"].pk])
    assert 'data-testid="submit-request"' in html(journey["requester"], url)
    page = html(operator, url)
    assert 'data-testid="submit-request"' not in page and 'data-testid="cannot-request"' in page


def test_the_request_page_offers_the_operator_retry_but_not_cancel_or_signing(journey, operator):
    request = submitted(journey["requester"], journey["offering"])
    finish_run(request.plan_run, status="failed", error="boom")
    page = html(operator, reverse("provisioning:request_detail", args=[request.pk]))
    assert reverse("provisioning:request_action", args=[request.pk, "retry"]) in page
    for action in ("cancel", "approve", "reject", "submit"):
        assert reverse("provisioning:request_action", args=[request.pk, action]) not in page


def test_mark_all_read_marks_only_the_actors_own(journey):
    approver, requester = journey["approver"], journey["requester"]
    for n in range(3):
        Notification.objects.create(recipient=approver, subject=f"给审批人 {n}")
    theirs = Notification.objects.create(recipient=requester, subject="给申请人")
    client = signed_in(approver)
    assert 'data-testid="mark-all-read"' in html(approver, reverse("provisioning:notification_list"))
    response = client.post(reverse("provisioning:notification_mark_all_read"))
    assert response.status_code == 302 and response["Location"] == reverse("provisioning:notification_list")
    assert not Notification.objects.filter(recipient=approver, read_at__isnull=True).exists()
    theirs.refresh_from_db()
    assert theirs.read_at is None
    page = client.get(response["Location"]).content.decode()
    assert "已将 3 条消息标为已读。" in page and 'data-testid="mark-all-read"' not in page


def test_mark_all_read_is_a_post_for_the_signed_in(journey):
    url = reverse("provisioning:notification_mark_all_read")
    anonymous = Client().post(url)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    assert signed_in(journey["requester"]).get(url).status_code == 405
