"""The request journey's pages: every page of provisioning/urls.py through the permission matrix, and what
each page does (the request form, approve and reject, cancel, the live run log, the approvals inbox, the
day-2 forms, the inbox). No page ever carries a secret."""
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal.choices import Role
from portal.models import AuditEvent
from provisioning import views
from provisioning.choices import PlanMode, RequestKind, RequestStatus, RunKind, RunStatus, StageStatus
from provisioning.models import Approval, Instance, Notification, Request, Run
from provisioning.services import requests as svc
from provisioning.services.runs import run_claim, run_enqueue
from tests.matrix import Matrix, assert_matrix
from tests.portal.factories import UserFactory
from tests.provisioning.clients import html, signed_in
from tests.provisioning.conftest import PASSWORD, finish_run, make_policy
from tests.provisioning.test_requests import approve_all, awaiting, create, submitted

pytestmark = pytest.mark.django_db

NAME_RULE = "名称必须由 3 到 31 个小写字母、数字或连字符组成，以字母开头，以字母或数字结尾。"
PASSWORD_LENGTH_RULE = "管理员密码长度须为 12 到 64 个字符。"


def detail_url(request) -> str:
    return reverse("provisioning:request_detail", args=[request.pk])


def action_url(request, action: str) -> str:
    return reverse("provisioning:request_action", args=[request.pk, action])


def change_url(instance, kind: str) -> str:
    return reverse("provisioning:instance_change", args=[instance.pk, kind])


def field_block(page: str, name: str) -> str:
    """The HTML of one form field's block (label, input, help text, errors)."""
    match = re.search(rf'<div class="field[^"]*" data-field="{re.escape(name)}">(.*?)</div>\s*(?=<div class="field|<h3|<div class="actions|<p|<button|</form|<ul)', page, re.S)
    assert match, f"no field {name}"
    return match.group(1)


def completed(journey) -> Request:
    request = approve_all(awaiting(journey["requester"], journey["offering"]), journey)
    finish_run(request.apply_run)
    request.refresh_from_db()
    assert request.status == RequestStatus.COMPLETED
    return request


def form_data(**overrides) -> dict:
    """The offering page's form as a person fills it in (parameters prefixed p-, the request's own fields r-)."""
    data = {
        "p-name": "web-01",
        "p-flavor": "medium",
        "p-os_image": "kylin-v10",
        "p-zone": "cn-north-1a",
        "p-system_disk_gb": "40",
        "p-data_disk_gb": "100",
        "p-admin_password": PASSWORD,
        "p-allowed_ports": "22",
        "p-allowed_cidrs": "10.0.0.0/8",
        "p-tags": "{}",
        "r-title": "",
        "r-justification": "教学平台",
        "r-data_classification": "2",
        "r-lease_months": "12",
        "submit": "",
    }
    data.update(overrides)
    return data


# The request form on the offering page ---------------------------------------------------------------------


def test_request_create_matrix(journey, nobody):
    url = reverse("provisioning:request_create", args=[journey["offering"].pk])
    response = assert_matrix(
        Matrix(url=url, permitted=journey["requester"], no_permission=nobody, method="post", data=form_data(),
               permitted_status=302)
    )
    created = Request.objects.get()
    assert created.requester == journey["requester"]
    assert response["Location"] == detail_url(created)


def test_request_form_creates_submits_and_redirects_to_the_request(journey, no_broker, django_capture_on_commit_callbacks):
    url = reverse("provisioning:request_create", args=[journey["offering"].pk])
    client = signed_in(journey["requester"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, form_data(**{"r-title": "教学平台主机"}))
    created = Request.objects.get()
    assert response.status_code == 302 and response["Location"] == detail_url(created)
    assert created.status == RequestStatus.PLANNING and created.title == "教学平台主机"
    assert created.kind == RequestKind.CREATE and created.agency == journey["requester"].agency
    assert created.parameters["flavor"] == "medium" and "admin_password" not in created.parameters
    assert created.secret_parameters == {"admin_password": PASSWORD}
    assert created.plan_run.kind == RunKind.PLAN
    assert no_broker["runs"].call_args.args[0] == (created.plan_run_id,)
    page = client.get(response["Location"]).content.decode()
    assert f"申请 {created.number} 已提交" in page  # the success message on the request's page


def test_save_draft_keeps_the_request_as_a_draft(journey):
    url = reverse("provisioning:request_create", args=[journey["offering"].pk])
    data = form_data(save_draft="1")
    data.pop("submit")
    response = signed_in(journey["requester"]).post(url, data)
    created = Request.objects.get()
    assert response["Location"] == detail_url(created)
    assert created.status == RequestStatus.DRAFT and created.plan_run is None


def test_bad_parameter_shows_the_module_message_beside_the_field_and_saves_nothing(journey):
    url = reverse("provisioning:request_create", args=[journey["offering"].pk])
    response = signed_in(journey["requester"]).post(url, form_data(**{"p-name": "Web_01!"}))
    assert response.status_code == 200
    page = response.content.decode()
    assert NAME_RULE in field_block(page, "p-name")
    assert NAME_RULE not in field_block(page, "p-flavor")
    assert Request.objects.count() == 0 and Run.objects.count() == 0


def test_a_sensitive_value_is_never_echoed_back(journey):
    url = reverse("provisioning:request_create", args=[journey["offering"].pk])
    # Another field is wrong: the password just typed was right, so it stays in the form (not cleared).
    page = signed_in(journey["requester"]).post(url, form_data(**{"p-name": "X"})).content.decode()
    assert f'value="{PASSWORD}"' in field_block(page, "p-admin_password")
    assert 'name="p-name"' in page and 'value="X"' in page  # plain values do come back, so the form is re-filled
    # The password itself is wrong: its rule is shown beside it, its value is not.
    short = "Sh0rt!pw"
    page = signed_in(journey["requester"]).post(url, form_data(**{"p-admin_password": short})).content.decode()
    assert PASSWORD_LENGTH_RULE in field_block(page, "p-admin_password")
    assert short not in page
    assert Request.objects.count() == 0


def test_request_form_refuses_a_user_who_cannot_request_for_the_agency(journey):
    url = reverse("provisioning:request_create", args=[journey["offering"].pk])
    response = signed_in(journey["approver"]).post(url, form_data())
    assert response.status_code == 200
    assert "您不能代表该单位提交申请。" in response.content.decode()
    assert Request.objects.count() == 0


def test_request_form_get_goes_to_the_offering_page(journey):
    url = reverse("provisioning:request_create", args=[journey["offering"].pk])
    response = signed_in(journey["requester"]).get(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("catalogue:offering_detail", args=[journey["offering"].pk])


# Request list and detail -----------------------------------------------------------------------------------


def test_request_list_matrix(journey, nobody, other_requester):
    request = awaiting(journey["requester"], journey["offering"])
    assert_matrix(
        Matrix(url=reverse("provisioning:request_list"), permitted=journey["requester"], no_permission=nobody,
               other_agency=other_requester, list_view=True),
        marker=f'data-request="{request.pk}"',
    )


def test_request_list_shows_the_agency_approver_their_agency_only(journey, other_approver, other_requester):
    ours = create(journey["requester"], journey["offering"])
    theirs = create(other_requester, journey["offering"])
    page = html(journey["approver"], reverse("provisioning:request_list"))
    assert f'data-request="{ours.pk}"' in page and f'data-request="{theirs.pk}"' not in page
    page = html(other_approver, reverse("provisioning:request_list"))
    assert f'data-request="{theirs.pk}"' in page and f'data-request="{ours.pk}"' not in page


def test_request_list_filters_by_status_and_mine(journey):
    draft = create(journey["requester"], journey["offering"])
    planning = submitted(journey["requester"], journey["offering"])
    page = html(journey["requester"], reverse("provisioning:request_list") + "?status=planning")
    assert f'data-request="{planning.pk}"' in page and f'data-request="{draft.pk}"' not in page
    page = html(journey["approver"], reverse("provisioning:request_list") + "?mine=1")
    assert f'data-request="{planning.pk}"' not in page and f'data-request="{draft.pk}"' not in page
    # A status that does not exist is said so beside the field, not shown as an empty or unfiltered list.
    page = html(journey["requester"], reverse("provisioning:request_list") + "?status=nonsense")
    assert f'data-request="{planning.pk}"' not in page and f'data-request="{draft.pk}"' not in page
    assert "nonsense" in page and 'class="error"' in page


def test_request_detail_matrix(journey, nobody, other_requester):
    request = awaiting(journey["requester"], journey["offering"])
    assert_matrix(
        Matrix(url=detail_url(request), permitted=journey["requester"], no_permission=nobody, other_agency=other_requester),
        marker=request.number,
    )


def test_request_detail_is_hidden_from_other_agencies_approvers_and_other_clouds_owners(journey, other_approver):
    from tests.catalogue.factories import CloudFactory

    request = awaiting(journey["requester"], journey["offering"])
    other_owner = UserFactory(roles=[(Role.CLOUD_OWNER, CloudFactory(slug="gov", name="政务云"))])
    for user in (other_approver, other_owner, journey["owner"]):  # the cloud owner's stage is not open yet
        assert signed_in(user).get(detail_url(request)).status_code == 404, user.username
    assert signed_in(journey["approver"]).get(detail_url(request)).status_code == 200


def test_request_detail_shows_the_parameters_but_never_the_secret(journey):
    request = completed(journey)
    for user in (journey["requester"], journey["approver"], journey["owner"]):
        page = html(user, detail_url(request))
        assert '<dt data-parameter="flavor"' in page and "<dd>medium</dd>" in page
        assert "********" in page  # the secret is said to exist, never shown
        assert PASSWORD not in page and "admin_password" not in page


def test_non_numeric_or_missing_request_is_404(journey):
    client = signed_in(journey["requester"])
    assert client.get("/requests/999999/").status_code == 404


# Actions on a request (POST) -------------------------------------------------------------------------------


def test_approve_action_matrix(journey, nobody, other_approver):
    request = awaiting(journey["requester"], journey["offering"])
    response = assert_matrix(
        Matrix(url=action_url(request, "approve"), permitted=journey["approver"], no_permission=nobody,
               other_agency=other_approver, method="post", data={"comment": "同意"}, permitted_status=302)
    )
    assert response["Location"] == detail_url(request)
    assert list(Approval.objects.filter(request=request).values_list("approver__username", "comment")) == [
        ("agency_approver", "同意")
    ]
    assert request.stages.get(order=1).status == StageStatus.APPROVED


def test_cancel_action_matrix(journey, nobody, other_requester):
    request = awaiting(journey["requester"], journey["offering"])
    assert_matrix(
        Matrix(url=action_url(request, "cancel"), permitted=journey["requester"], no_permission=nobody,
               other_agency=other_requester, method="post", data={"confirm": "yes"}, permitted_status=302)
    )
    request.refresh_from_db()
    assert request.status == RequestStatus.CANCELLED
    assert list(
        AuditEvent.objects.filter(action="request.cancelled", object_id=str(request.pk)).values_list("actor__username", flat=True)
    ) == ["requester"]


@pytest.mark.parametrize("action", ["submit", "retry", "replan", "reject"])
def test_other_actions_are_404_for_outsiders(action, journey, nobody, other_requester, other_approver):
    request = create(journey["requester"], journey["offering"])
    for user in (nobody, other_requester, other_approver):
        response = signed_in(user).post(action_url(request, action), {"comment": "不同意"})
        assert response.status_code == 404, (user.username, response.status_code)
    request.refresh_from_db()
    assert request.status == RequestStatus.DRAFT and request.approvals.count() == 0


def test_submit_action_submits_a_draft(journey):
    request = create(journey["requester"], journey["offering"])
    page = html(journey["requester"], detail_url(request))
    assert action_url(request, "submit") in page
    assert action_url(request, "submit") not in html(journey["approver"], detail_url(request))
    response = signed_in(journey["requester"]).post(action_url(request, "submit"))
    assert response["Location"] == detail_url(request)
    request.refresh_from_db()
    assert request.status == RequestStatus.PLANNING


def test_approve_and_reject_buttons_only_for_whoever_may_sign_the_open_stage(journey, agency):
    request = awaiting(journey["requester"], journey["offering"])
    assert 'data-testid="approve"' in html(journey["approver"], detail_url(request))
    assert 'data-testid="reject"' in html(journey["approver"], detail_url(request))
    assert 'data-testid="approve"' not in html(journey["requester"], detail_url(request))

    svc.request_approve(actor=journey["approver"], request=request)
    request.refresh_from_db()
    assert 'data-testid="approve"' not in html(journey["approver"], detail_url(request))  # stage 1 done
    page = html(journey["owner"], detail_url(request))
    assert 'data-testid="approve"' in page and 'data-testid="reject"' in page

    both = UserFactory(agency=agency, roles=[Role.REQUESTER, Role.AGENCY_APPROVER])
    own = awaiting(both, journey["offering"])
    assert 'data-testid="approve"' not in html(both, detail_url(own))
    assert 'data-testid="approve"' in html(journey["approver"], detail_url(own))


def test_approving_your_own_request_on_the_page_is_refused_and_changes_nothing(journey, agency):
    both = UserFactory(agency=agency, roles=[Role.REQUESTER, Role.AGENCY_APPROVER])
    request = awaiting(both, journey["offering"])
    response = signed_in(both).post(action_url(request, "approve"), follow=True)
    assert "不能审批自己提交的申请。" in response.content.decode()
    request.refresh_from_db()
    assert request.status == RequestStatus.AWAITING_APPROVAL and request.approvals.count() == 0


def test_reject_without_comment_shows_the_error_and_changes_nothing(journey):
    request = awaiting(journey["requester"], journey["offering"])
    response = signed_in(journey["approver"]).post(action_url(request, "reject"), {"comment": "  "}, follow=True)
    assert response.redirect_chain[-1][0] == detail_url(request)
    assert "驳回时必须填写意见，说明驳回理由。" in response.content.decode()
    request.refresh_from_db()
    assert request.status == RequestStatus.AWAITING_APPROVAL
    assert request.approvals.count() == 0
    assert request.stages.get(order=1).status == StageStatus.OPEN


def test_a_comment_too_long_is_refused_not_dropped(journey):
    request = awaiting(journey["requester"], journey["offering"])
    signed_in(journey["approver"]).post(action_url(request, "approve"), {"comment": "长" * 2001})
    request.refresh_from_db()
    # The API answers 400 for the same comment; the page must not sign with the comment silently emptied.
    assert request.approvals.count() == 0 and request.status == RequestStatus.AWAITING_APPROVAL


def test_reject_with_comment_ends_the_request(journey):
    request = awaiting(journey["requester"], journey["offering"])
    signed_in(journey["approver"]).post(action_url(request, "reject"), {"comment": "预算不足"})
    request.refresh_from_db()
    assert request.status == RequestStatus.REJECTED
    assert request.approvals.get().comment == "预算不足"
    assert "预算不足" in html(journey["requester"], detail_url(request))


def test_requester_sees_cancel_and_the_approver_does_not(journey):
    request = awaiting(journey["requester"], journey["offering"])
    assert action_url(request, "cancel") in html(journey["requester"], detail_url(request))
    assert action_url(request, "cancel") not in html(journey["approver"], detail_url(request))
    # The approver cannot cancel by posting either.
    response = signed_in(journey["approver"]).post(action_url(request, "cancel"), {"confirm": "yes"}, follow=True)
    assert "您不能撤销该申请。" in response.content.decode()
    request.refresh_from_db()
    assert request.status == RequestStatus.AWAITING_APPROVAL


def test_cancel_is_gone_once_the_request_is_over(journey):
    request = completed(journey)
    assert action_url(request, "cancel") not in html(journey["requester"], detail_url(request))


def test_retry_button_on_a_failed_request(journey):
    request = submitted(journey["requester"], journey["offering"])
    finish_run(request.plan_run, RunStatus.FAILED, error="Error: invalid zone")
    request.refresh_from_db()
    page = html(journey["requester"], detail_url(request))
    assert 'data-testid="retry"' in page and "Error: invalid zone" in page
    assert 'data-testid="retry"' not in html(journey["approver"], detail_url(request))
    signed_in(journey["requester"]).post(action_url(request, "retry"))
    request.refresh_from_db()
    assert request.status == RequestStatus.PLANNING


def test_unknown_action_does_nothing(journey):
    request = awaiting(journey["requester"], journey["offering"])
    response = signed_in(journey["requester"]).post(action_url(request, "delete"))
    assert response.status_code == 302 and response["Location"] == detail_url(request)
    request.refresh_from_db()
    assert request.status == RequestStatus.AWAITING_APPROVAL


def test_approving_from_the_inbox_returns_to_the_inbox(journey):
    request = awaiting(journey["requester"], journey["offering"])
    response = signed_in(journey["approver"]).post(action_url(request, "approve"), {"next": "inbox"})
    assert response["Location"] == reverse("provisioning:approval_inbox")
    assert f'data-request="{request.pk}"' not in html(journey["approver"], reverse("provisioning:approval_inbox"))


# Run log fragment ------------------------------------------------------------------------------------------


def test_run_log_matrix(journey, nobody, other_requester):
    request = submitted(journey["requester"], journey["offering"])
    Run.objects.filter(pk=request.plan_run_id).update(log="Terraform will perform the following actions\n")
    assert_matrix(
        Matrix(url=reverse("provisioning:run_log", args=[request.plan_run_id]), permitted=journey["requester"],
               no_permission=nobody, other_agency=other_requester),
        marker="Terraform will perform the following actions",
    )


def test_run_log_polls_only_while_the_run_is_active(journey):
    def polling(run_id):
        url = reverse("provisioning:run_log", args=[run_id])
        page = html(journey["requester"], url)
        return f'hx-get="{url}" hx-trigger="every 2s"' in page, re.search(r'data-run-status="(\w+)"', page).group(1)

    queued = submitted(journey["requester"], journey["offering"])
    assert polling(queued.plan_run_id) == (True, "queued")
    running = submitted(journey["requester"], journey["offering"])
    run_claim(run_id=running.plan_run_id, worker="test-worker")
    assert polling(running.plan_run_id) == (True, "running")
    finish_run(queued.plan_run)
    assert polling(queued.plan_run_id) == (False, "succeeded")
    failed = submitted(journey["requester"], journey["offering"])
    finish_run(failed.plan_run, RunStatus.FAILED, error="Error: boom")
    assert polling(failed.plan_run_id) == (False, "failed")


def test_a_poll_that_finds_the_run_ended_reloads_the_whole_page(journey):
    request = submitted(journey["requester"], journey["offering"])
    url = reverse("provisioning:run_log", args=[request.plan_run_id])
    client = signed_in(journey["requester"])
    assert "HX-Refresh" not in client.get(url, headers={"HX-Request": "true"})  # still queued: keep polling
    finish_run(request.plan_run)
    assert client.get(url, headers={"HX-Request": "true"})["HX-Refresh"] == "true"
    assert "HX-Refresh" not in client.get(url)  # an ordinary visit is not told to reload


def test_request_page_embeds_the_live_run_and_polls_with_it(journey):
    # The page polls its whole content while the request moves (tests/provisioning/test_live_pages.py), the
    # run's log with it; the log does not poll on its own there.
    request = submitted(journey["requester"], journey["offering"])
    page = html(journey["requester"], detail_url(request))
    assert f'id="run-{request.plan_run_id}" data-run-status="queued"' in page
    assert f'hx-get="{reverse("provisioning:request_live", args=[request.pk])}"' in page
    assert f'hx-get="{reverse("provisioning:run_log", args=[request.plan_run_id])}"' not in page


def test_a_run_without_a_request_is_for_operators_only(journey, operator):
    instance = completed(journey).instance
    refresh = run_enqueue(actor=None, workspace=instance.workspace, kind=RunKind.REFRESH)
    url = reverse("provisioning:run_log", args=[refresh.pk])
    assert signed_in(journey["requester"]).get(url).status_code == 404
    assert signed_in(journey["approver"]).get(url).status_code == 404
    assert f'id="run-{refresh.pk}"' in html(operator, url)


def test_run_log_of_a_missing_run_is_404(journey):
    assert signed_in(journey["requester"]).get("/runs/999999/log/").status_code == 404


# Approvals inbox -------------------------------------------------------------------------------------------


def test_approval_inbox_matrix(journey, nobody, other_approver):
    request = awaiting(journey["requester"], journey["offering"])
    assert_matrix(
        Matrix(url=reverse("provisioning:approval_inbox"), permitted=journey["approver"], no_permission=nobody,
               other_agency=other_approver, list_view=True),
        marker=f'data-request="{request.pk}"',
    )


def inbox(user) -> set[int]:
    return {int(pk) for pk in re.findall(r'data-request="(\d+)"', html(user, reverse("provisioning:approval_inbox")))}


def test_approval_inbox_lists_exactly_what_awaits_the_users_stage(journey, agency, finance_reviewer):
    first_stage = awaiting(journey["requester"], journey["offering"])
    second_stage = awaiting(journey["requester"], journey["offering"])
    svc.request_approve(actor=journey["approver"], request=second_stage)
    planning = submitted(journey["requester"], journey["offering"])
    draft = create(journey["requester"], journey["offering"])
    cancelled = awaiting(journey["requester"], journey["offering"])
    svc.request_cancel(actor=journey["requester"], request=cancelled)
    both = UserFactory(agency=agency, roles=[Role.REQUESTER, Role.AGENCY_APPROVER])
    own = awaiting(both, journey["offering"])

    assert inbox(journey["approver"]) == {first_stage.pk, own.pk}
    assert inbox(both) == {first_stage.pk}  # never their own
    assert inbox(journey["owner"]) == {second_stage.pk}
    assert inbox(journey["requester"]) == set()
    assert inbox(finance_reviewer) == set()
    assert not {planning.pk, draft.pk, cancelled.pk} & inbox(journey["approver"])


def test_approval_inbox_drops_a_request_the_user_has_already_signed(requester, offering):
    make_policy("评审", stages=[{"name": "安全评审", "approver_role": "security_reviewer", "mode": "all"}])
    first, second = (UserFactory(roles=[Role.SECURITY_REVIEWER]) for _ in range(2))
    request = awaiting(requester, offering)
    svc.request_approve(actor=first, request=request)
    request.refresh_from_db()
    assert request.stages.get().status == StageStatus.OPEN  # "all": the second reviewer still signs
    assert 'data-testid="approve"' not in html(first, detail_url(request))
    assert inbox(second) == {request.pk}
    assert inbox(first) == set()  # nothing left for the first reviewer to sign


def test_approval_inbox_shows_the_open_stage_and_no_secret(journey):
    request = awaiting(journey["requester"], journey["offering"])
    page = html(journey["approver"], reverse("provisioning:approval_inbox"))
    row = re.search(rf'<tr data-request="{request.pk}">(.*?)</tr>', page, re.S).group(1)
    assert "单位审批" in row and "云主管部门审批" not in row
    assert action_url(request, "approve") in row and action_url(request, "reject") in row
    assert PASSWORD not in page


def test_approval_inbox_pages_oldest_first_and_costs_the_same_queries_per_page(journey, monkeypatch):
    monkeypatch.setattr(views, "INBOX_PER_PAGE", 3)
    made = [awaiting(journey["requester"], journey["offering"]).pk for _ in range(4)]
    client = signed_in(journey["approver"])
    url = reverse("provisioning:approval_inbox")
    client.get(url)  # the session and the shell's counts warm
    with CaptureQueriesContext(connection) as few:
        first = client.get(url).content.decode()
    assert [int(pk) for pk in re.findall(r'data-request="(\d+)"', first)] == made[:3]
    assert "?page=2" in first and "?page=0" not in first
    second = html(journey["approver"], f"{url}?page=2")
    assert [int(pk) for pk in re.findall(r'data-request="(\d+)"', second)] == made[3:]
    assert "?page=1" in second and "?page=3" not in second
    made += [awaiting(journey["requester"], journey["offering"]).pk for _ in range(3)]
    client.get(url)
    with CaptureQueriesContext(connection) as more:
        client.get(f"{url}?page=2")
    assert len(more) == len(few), [q["sql"] for q in more]
    junk = html(journey["approver"], f"{url}?page=junk")
    assert [int(pk) for pk in re.findall(r'data-request="(\d+)"', junk)] == made[:3]


# Inventory -------------------------------------------------------------------------------------------------


def test_instance_list_matrix(journey, nobody, other_requester):
    instance = completed(journey).instance
    assert_matrix(
        Matrix(url=reverse("provisioning:instance_list"), permitted=journey["requester"], no_permission=nobody,
               other_agency=other_requester, list_view=True),
        marker=f'data-instance="{instance.pk}"',
    )


def test_instance_list_for_approvers_and_operators(journey, other_approver, operator):
    instance = completed(journey).instance
    marker = f'data-instance="{instance.pk}"'
    assert marker in html(journey["approver"], reverse("provisioning:instance_list"))
    assert marker in html(operator, reverse("provisioning:instance_list"))
    assert marker not in html(other_approver, reverse("provisioning:instance_list"))


def test_instance_detail_matrix(journey, nobody, other_requester):
    instance = completed(journey).instance
    assert_matrix(
        Matrix(url=reverse("provisioning:instance_detail", args=[instance.pk]), permitted=journey["requester"],
               no_permission=nobody, other_agency=other_requester),
        marker="10.0.0.5",
    )


def test_instance_detail_shows_outputs_parameters_and_changes_but_no_secret(journey):
    request = completed(journey)
    page = html(journey["requester"], reverse("provisioning:instance_detail", args=[request.instance_id]))
    assert '<dt data-parameter="flavor"' in page and "<dd>medium</dd>" in page
    assert detail_url(request) in page
    for kind in ("modify", "extend", "decommission"):
        assert change_url(request.instance, kind) in page
    assert PASSWORD not in page and "admin_password" not in page


# Day-2 changes ---------------------------------------------------------------------------------------------


CHANGE_MARKERS = {"modify": 'name="p-flavor"', "extend": 'name="lease_months"', "decommission": 'name="confirm_name"'}


@pytest.mark.parametrize("kind", ["modify", "extend", "decommission"])
def test_instance_change_form_matrix(kind, journey, nobody, other_requester):
    instance = completed(journey).instance
    assert_matrix(
        Matrix(url=change_url(instance, kind), permitted=journey["requester"], no_permission=nobody,
               other_agency=other_requester),
        marker=CHANGE_MARKERS[kind],
    )


def change_data(kind: str, **overrides) -> dict:
    if kind == "modify":
        data = {key: value for key, value in form_data().items() if key.startswith("p-")}
        data.update({"p-flavor": "large", "p-admin_password": "", "justification": "扩容"})
    elif kind == "extend":
        data = {"lease_months": "6", "justification": "继续使用"}
    else:
        data = {"confirm_name": "web-01", "justification": "不再使用"}
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("kind", "status"),
    [("modify", RequestStatus.PLANNING), ("extend", RequestStatus.AWAITING_APPROVAL), ("decommission", RequestStatus.PLANNING)],
)
def test_instance_change_post_matrix_creates_the_right_kind_of_request(kind, status, journey, nobody, other_requester):
    instance = completed(journey).instance
    response = assert_matrix(
        Matrix(url=change_url(instance, kind), permitted=journey["requester"], no_permission=nobody,
               other_agency=other_requester, method="post", data=change_data(kind), permitted_status=302)
    )
    change = Request.objects.get(instance=instance, kind=kind)
    assert response["Location"] == detail_url(change)
    assert change.requester == journey["requester"] and change.status == status
    assert Request.objects.filter(instance=instance).count() == 2  # the create and this change, nothing from the refused rows
    if kind == "modify":
        assert change.parameters["flavor"] == "large"
        assert change.secret_parameters == {"admin_password": PASSWORD}  # left empty: kept
    elif kind == "extend":
        assert change.lease_months == 6 and change.plan_run is None
    else:
        assert change.plan_run.plan_mode == PlanMode.DESTROY


def test_modify_with_a_new_password_takes_it(journey):
    instance = completed(journey).instance
    new = "N3w-Admin-Passw0rd!"
    signed_in(journey["requester"]).post(change_url(instance, "modify"), change_data("modify", **{"p-admin_password": new}))
    change = Request.objects.get(instance=instance, kind=RequestKind.MODIFY)
    assert change.secret_parameters == {"admin_password": new}


def test_modify_bad_parameter_shows_the_module_message_and_saves_nothing(journey):
    instance = completed(journey).instance
    new = "N3w-Admin-Passw0rd!"
    response = signed_in(journey["requester"]).post(
        change_url(instance, "modify"), change_data("modify", **{"p-name": "Bad_Name", "p-admin_password": new})
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert NAME_RULE in field_block(page, "p-name")
    # What was just typed stays in the form; the stored password never reaches the page.
    assert f'value="{new}"' in field_block(page, "p-admin_password") and PASSWORD not in page
    assert not Request.objects.filter(kind=RequestKind.MODIFY).exists()


def test_modify_form_never_shows_the_kept_password(journey):
    instance = completed(journey).instance
    page = html(journey["requester"], change_url(instance, "modify"))
    assert 'name="p-admin_password"' in page and PASSWORD not in page
    assert 'value="medium"' in page  # the instance's values fill the form


def test_decommission_needs_the_name_typed_again(journey):
    instance = completed(journey).instance
    response = signed_in(journey["requester"]).post(
        change_url(instance, "decommission"), change_data("decommission", confirm_name="web-02")
    )
    assert response.status_code == 200
    assert "名称不符：请输入“web-01”。" in field_block(response.content.decode(), "confirm_name")
    assert not Request.objects.filter(kind=RequestKind.DECOMMISSION).exists()


def test_a_second_change_while_one_is_in_flight_is_refused_on_the_form(journey):
    instance = completed(journey).instance
    client = signed_in(journey["requester"])
    client.post(change_url(instance, "extend"), change_data("extend"))
    response = client.post(change_url(instance, "decommission"), change_data("decommission"))
    assert response.status_code == 200
    assert "该资源已有进行中的申请" in response.content.decode()
    assert not Request.objects.filter(kind=RequestKind.DECOMMISSION).exists()


def test_approver_may_look_but_not_ask_for_a_change(journey):
    instance = completed(journey).instance
    assert signed_in(journey["approver"]).get(change_url(instance, "extend")).status_code == 403
    response = signed_in(journey["approver"]).post(change_url(instance, "extend"), change_data("extend"))
    assert response.status_code == 403
    assert "只有该资源所属单位的申请人可以发起变更。" in response.content.decode()
    assert not Request.objects.filter(kind=RequestKind.EXTEND).exists()


def test_unknown_change_kind_goes_back_to_the_instance(journey):
    instance = completed(journey).instance
    response = signed_in(journey["requester"]).get(change_url(instance, "resize"))
    assert response["Location"] == reverse("provisioning:instance_detail", args=[instance.pk])
    response = signed_in(journey["requester"]).post(change_url(instance, "resize"), {"justification": "x"})
    assert response["Location"] == reverse("provisioning:instance_detail", args=[instance.pk])
    assert Request.objects.count() == 1


def test_destroyed_instance_offers_no_changes(journey):
    instance = completed(journey).instance
    Instance.objects.filter(pk=instance.pk).update(status="destroyed")
    page = html(journey["requester"], reverse("provisioning:instance_detail", args=[instance.pk]))
    assert change_url(instance, "modify") not in page
    response = signed_in(journey["requester"]).post(change_url(instance, "extend"), change_data("extend"))
    assert response.status_code == 200 and not Request.objects.filter(kind=RequestKind.EXTEND).exists()


# Inbox -----------------------------------------------------------------------------------------------------


def test_notification_list_matrix(journey, nobody, other_approver):
    request = awaiting(journey["requester"], journey["offering"])
    subject = Notification.objects.get(recipient=journey["approver"], request=request).subject
    assert request.number in subject
    assert_matrix(
        Matrix(url=reverse("provisioning:notification_list"), permitted=journey["approver"], no_permission=nobody,
               other_agency=other_approver, list_view=True),
        marker=subject,
    )


def test_notification_open_matrix_marks_read_and_goes_to_the_request(journey, nobody, other_approver):
    request = awaiting(journey["requester"], journey["offering"])
    notification = Notification.objects.get(recipient=journey["approver"], request=request)
    response = assert_matrix(
        Matrix(url=reverse("provisioning:notification_open", args=[notification.pk]), permitted=journey["approver"],
               no_permission=nobody, other_agency=other_approver, method="post", permitted_status=302)
    )
    assert response["Location"] == detail_url(request)
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_another_persons_notification_is_404_and_stays_unread(journey):
    request = awaiting(journey["requester"], journey["offering"])
    notification = Notification.objects.get(recipient=journey["approver"], request=request)
    # The requester can see the request, but the notification is not theirs.
    response = signed_in(journey["requester"]).post(reverse("provisioning:notification_open", args=[notification.pk]))
    assert response.status_code == 404
    notification.refresh_from_db()
    assert notification.read_at is None


def test_notification_without_a_request_opens_the_inbox(journey):
    notification = Notification.objects.create(recipient=journey["requester"], subject="系统维护通知")
    response = signed_in(journey["requester"]).post(reverse("provisioning:notification_open", args=[notification.pk]))
    assert response["Location"] == reverse("provisioning:notification_list")


# No secret anywhere ----------------------------------------------------------------------------------------


def test_no_page_ever_shows_the_admin_password(journey, operator):
    request = completed(journey)
    Run.objects.filter(pk=request.plan_run_id).update(log="module.main.pcloud_instance.this: admin_password = ********\n")
    instance = request.instance
    change = svc.request_create_day2(actor=journey["requester"], instance=instance, kind=RequestKind.MODIFY,
                                     parameters={"flavor": "large"})
    svc.request_submit(actor=journey["requester"], request=change)
    urls = [
        reverse("provisioning:request_list"),
        detail_url(request),
        detail_url(change),
        reverse("provisioning:run_log", args=[request.plan_run_id]),
        reverse("provisioning:run_log", args=[request.apply_run_id]),
        reverse("provisioning:approval_inbox"),
        reverse("provisioning:instance_list"),
        reverse("provisioning:instance_detail", args=[instance.pk]),
        reverse("provisioning:notification_list"),
        reverse("catalogue:offering_detail", args=[journey["offering"].pk]),
    ]
    for user in (journey["requester"], journey["approver"], journey["owner"], operator):
        for url in urls:
            response = signed_in(user).get(url)
            assert PASSWORD not in response.content.decode(), (user.username, url)
    for kind in ("modify", "extend", "decommission"):
        assert PASSWORD not in html(journey["requester"], change_url(instance, kind))


# The home page -----------------------------------------------------------------------------------------------


def dashboard_rows(user, section: str) -> set[int]:
    page = html(user, reverse("dashboard"))
    if f'data-testid="{section}"' not in page:
        return set()
    block = page.split(f'data-testid="{section}"', 1)[1].split("</section>", 1)[0]
    return {int(pk) for pk in re.findall(r'data-request="(\d+)"', block)}


def test_home_page_lists_what_waits_for_the_user(journey, other_approver, other_requester):
    draft = create(journey["requester"], journey["offering"])
    waiting = awaiting(journey["requester"], journey["offering"])
    done = completed(journey)
    theirs = awaiting(other_requester, journey["offering"])

    # The requester: their own requests still in hand (a draft, one in approval), not the finished one.
    assert dashboard_rows(journey["requester"], "in-hand") == {draft.pk, waiting.pk}
    assert done.pk not in dashboard_rows(journey["requester"], "in-hand")
    assert dashboard_rows(journey["requester"], "waiting") == set()
    assert "运行中的资源：1 项" in html(journey["requester"], reverse("dashboard"))

    # Each agency's approver sees the request waiting at their stage, never the other agency's.
    assert dashboard_rows(journey["approver"], "waiting") == {waiting.pk}
    assert dashboard_rows(other_approver, "waiting") == {theirs.pk}
    svc.request_approve(actor=journey["approver"], request=waiting)
    assert dashboard_rows(journey["approver"], "waiting") == set()  # signed: no longer theirs to sign
    assert dashboard_rows(journey["owner"], "waiting") == {waiting.pk}  # the next stage's signer


def test_home_page_shows_each_list_to_whom_it_concerns(journey, nobody):
    def sections(user):
        page = html(user, reverse("dashboard"))
        return {name for name in ("waiting", "in-hand") if f'data-testid="{name}"' in page}

    assert sections(journey["requester"]) == {"in-hand"}
    assert sections(journey["approver"]) == {"waiting"}
    assert sections(journey["owner"]) == {"waiting"}
    assert sections(nobody) == set()


def test_the_timeline_says_what_happened_in_words(journey):
    request = awaiting(journey["requester"], journey["offering"])
    svc.request_approve(actor=journey["approver"], request=request)
    page = html(journey["requester"], detail_url(request))
    timeline = page.split('class="timeline"', 1)[1].split("</ul>", 1)[0]
    for action, words in (
        ("request.create", "创建申请"),
        ("request.awaiting_approval", "申请：待审批"),
        ("run.succeeded", "运行：成功"),
        ("approval.approve", "审批同意"),
    ):
        assert f'data-action="{action}">{words}</span>' in timeline, action
    client = signed_in(journey["requester"])
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    english = client.get(detail_url(request)).content.decode()
    assert 'data-action="request.awaiting_approval">Request: Awaiting approval</span>' in english
