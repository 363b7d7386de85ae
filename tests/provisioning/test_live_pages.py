"""Pages that keep themselves current: a request page left open shows the plan, each approval and the apply as
they happen (htmx polls the page's content while the request moves on), and so does an instance page while a
change is on its way. The polled fragment has the page's own permission check."""
import re

import pytest
from django.urls import reverse

from provisioning.choices import RequestKind, RequestStatus, RunStatus
from provisioning.services import requests as svc
from tests.matrix import Matrix, assert_matrix
from tests.provisioning.clients import html, signed_in
from tests.provisioning.conftest import finish_run
from tests.provisioning.test_requests import approve_all, awaiting, create, submitted

pytestmark = pytest.mark.django_db


def live_url(request) -> str:
    return reverse("provisioning:request_live", args=[request.pk])


def detail_url(request) -> str:
    return reverse("provisioning:request_detail", args=[request.pk])


def polls(page: str, url: str) -> bool:
    return f'hx-get="{url}" hx-trigger="every 3s" hx-swap="outerHTML"' in page


def status_in(fragment: str) -> str:
    return re.search(r'data-request-status="(\w+)"', fragment).group(1)


def stage_badge(fragment: str, order: int) -> str:
    stage = fragment.split(f'data-stage="{order}"', 1)[1].split("</strong>", 1)[1]
    return re.search(r'<span class="badge \w+">([^<]+)</span>', stage).group(1)


def test_request_live_matrix(journey, nobody, other_requester):
    request = awaiting(journey["requester"], journey["offering"])
    assert_matrix(
        Matrix(url=live_url(request), permitted=journey["requester"], no_permission=nobody, other_agency=other_requester),
        marker=request.number,
    )


def test_the_fragment_is_the_page_content_alone(journey):
    request = awaiting(journey["requester"], journey["offering"])
    fragment = html(journey["requester"], live_url(request))
    assert fragment.lstrip().startswith('<div id="request-live"')
    assert "<html" not in fragment and "mainnav" not in fragment
    page = html(journey["requester"], detail_url(request))
    assert '<div id="request-live"' in page and "<html" in page


def test_the_fragment_follows_the_request_through_each_step(journey):
    client = signed_in(journey["requester"])

    def fragment() -> str:
        response = client.get(live_url(request), headers={"HX-Request": "true"})
        assert response.status_code == 200
        return response.content.decode()

    request = submitted(journey["requester"], journey["offering"])
    shown = fragment()
    assert status_in(shown) == RequestStatus.PLANNING
    assert 'data-run-status="queued"' in shown and "计划尚未生成。" in shown

    finish_run(request.plan_run)  # the plan arrives: the first stage opens
    shown = fragment()
    assert status_in(shown) == RequestStatus.AWAITING_APPROVAL
    assert 'data-run-status="succeeded"' in shown and 'data-testid="plan-summary"' in shown
    assert "module.main.pcloud_instance.this" in shown
    assert stage_badge(shown, 1) == "审批中" and stage_badge(shown, 2) == "未开始"

    request.refresh_from_db()
    svc.request_approve(actor=journey["approver"], request=request, comment="同意上云")
    shown = fragment()
    assert stage_badge(shown, 1) == "已通过" and stage_badge(shown, 2) == "审批中"
    assert f"{journey['approver'].get_full_name()}：同意（同意上云）" in shown

    request.refresh_from_db()
    svc.request_approve(actor=journey["owner"], request=request)
    shown = fragment()
    assert status_in(shown) == RequestStatus.APPLYING and 'data-run-status="queued"' in shown
    assert polls(shown, live_url(request))

    request.refresh_from_db()
    finish_run(request.apply_run, RunStatus.FAILED, error="Error: creating instance: InsufficientCapacity")
    shown = fragment()
    assert status_in(shown) == RequestStatus.FAILED
    assert "InsufficientCapacity" in shown.split('data-testid="request-error"', 1)[1]
    assert 'data-testid="retry"' in shown  # the action the new state offers comes with it


def test_the_page_polls_while_the_request_moves_and_stops_when_it_is_over(journey):
    draft = create(journey["requester"], journey["offering"])
    assert not polls(html(journey["requester"], detail_url(draft)), live_url(draft))  # waits for its requester

    planning = submitted(journey["requester"], journey["offering"])
    assert polls(html(journey["requester"], detail_url(planning)), live_url(planning))
    # One poller a page: the run log inside comes with the page and does not poll on its own.
    run_log = reverse("provisioning:run_log", args=[planning.plan_run_id])
    assert f'hx-get="{run_log}"' not in html(journey["requester"], detail_url(planning))

    request = awaiting(journey["requester"], journey["offering"])
    for user in (journey["requester"], journey["approver"]):
        assert polls(html(user, detail_url(request)), live_url(request)), user.username
        assert polls(html(user, live_url(request)), live_url(request)), user.username
    request = approve_all(request, journey)
    finish_run(request.apply_run)
    request.refresh_from_db()
    assert request.status == RequestStatus.COMPLETED
    # The last poll brings the finished request without polling attributes: the swap ends the polling.
    for url in (detail_url(request), live_url(request)):
        page = html(journey["requester"], url)
        assert status_in(page) == RequestStatus.COMPLETED and "hx-get" not in page and "hx-trigger" not in page

    rejected = awaiting(journey["requester"], journey["offering"])
    svc.request_reject(actor=journey["approver"], request=rejected, comment="预算不足")
    cancelled = submitted(journey["requester"], journey["offering"])
    svc.request_cancel(actor=journey["requester"], request=cancelled)
    for over in (rejected, cancelled):
        assert "hx-trigger" not in html(journey["requester"], live_url(over))


def test_the_approvers_comment_survives_each_poll(journey):
    request = awaiting(journey["requester"], journey["offering"])
    shown = html(journey["approver"], live_url(request))
    # htmx keeps an element marked hx-preserve (by its id) when it swaps the fragment, so a comment being
    # typed is not wiped every 3 s.
    assert re.search(r'<section class="card" id="decision" hx-preserve="true">', shown)
    assert 'data-testid="approve"' in shown


# Instance page ---------------------------------------------------------------------------------------------


def instance_live_url(instance) -> str:
    return reverse("provisioning:instance_live", args=[instance.pk])


def instance_url(instance) -> str:
    return reverse("provisioning:instance_detail", args=[instance.pk])


def completed_instance(journey):
    request = approve_all(awaiting(journey["requester"], journey["offering"]), journey)
    finish_run(request.apply_run)
    request.refresh_from_db()
    return request.instance


def test_instance_live_matrix(journey, nobody, other_requester):
    instance = completed_instance(journey)
    assert_matrix(
        Matrix(url=instance_live_url(instance), permitted=journey["requester"], no_permission=nobody,
               other_agency=other_requester),
        marker=instance.name,
    )


def test_the_instance_page_polls_while_a_change_is_on_its_way(journey):
    instance = completed_instance(journey)
    assert not polls(html(journey["requester"], instance_url(instance)), instance_live_url(instance))

    change = svc.request_create_day2(actor=journey["requester"], instance=instance, kind=RequestKind.MODIFY,
                                     parameters={"data_disk_gb": 200}, justification="扩容")
    svc.request_submit(actor=journey["requester"], request=change)
    change.refresh_from_db()
    finish_run(change.plan_run, sha="b" * 64)
    change.refresh_from_db()
    change = approve_all(change, journey)
    shown = html(journey["requester"], instance_live_url(instance))
    assert polls(shown, instance_live_url(instance))
    assert 'data-instance-status="changing"' in shown and shown.lstrip().startswith('<div id="instance-live"')

    finish_run(change.apply_run)
    shown = html(journey["requester"], instance_live_url(instance))
    assert 'data-instance-status="active"' in shown and "hx-trigger" not in shown
