"""The operators' side of runs that lost their worker, and of drift, as pages and as /api/v1/: 运维核对 lists
each lost run with what its reconciliation refresh found and closes it; 重新核对 starts another refresh; an
instance's page and endpoint start a drift check. Only operators reach any of it; nobody else learns it exists."""
import re

import pytest
from django.urls import reverse

from portal.models import AuditEvent
from provisioning.choices import DriftStatus, InstanceStatus, RequestKind, RequestStatus, RunKind, RunStatus
from provisioning.models import Request, Run
from provisioning.outcomes import run_lost
from provisioning.services import requests as svc
from provisioning.services.runs import run_claim
from tests.matrix import Matrix, assert_matrix
from tests.provisioning.clients import Api, html, signed_in
from tests.provisioning.conftest import PASSWORD, finish_run
from tests.provisioning.test_pages import field_block
from tests.provisioning.test_requests import approve_all, awaiting

pytestmark = pytest.mark.django_db

PLANNED = "module.main.pcloud_instance.this"  # what the approved plan creates (finish_run's plan summary)
HELD = [{"address": PLANNED, "type": "pcloud_instance", "id": "i-1"}]
OPERATIONS = reverse("provisioning:operations")


@pytest.fixture
def outsiders(journey, nobody, other_requester):
    """Everyone who is not an operator, from no role at all to the request's own requester and approvers."""
    return [nobody, other_requester, journey["requester"], journey["approver"], journey["owner"]]


def lost_apply(journey) -> tuple[Run, Run]:
    """An approved request whose apply lost its worker: (the lost apply, the reconciliation refresh)."""
    request = approve_all(awaiting(journey["requester"], journey["offering"]), journey)
    claimed, why = run_claim(run_id=request.apply_run_id, worker="w-lost")
    assert claimed is not None, why
    refresh = run_lost(claimed)
    claimed.refresh_from_db()
    assert claimed.status == RunStatus.NEEDS_RECONCILIATION and refresh.reconciles_id == claimed.pk
    return claimed, refresh


def refreshed(refresh: Run, *, resources=(), drift=()) -> Run:
    """Finish the reconciliation refresh: the state moved on since the plan, holds `resources`, and the cloud
    differs from it by `drift`."""
    return finish_run(
        refresh, resources=list(resources), plan_summary=list(drift), has_changes=bool(drift),
        state_serial_before=1, state_lineage_before="lineage-1",
    )


def completed_instance(journey):
    request = approve_all(awaiting(journey["requester"], journey["offering"]), journey)
    finish_run(request.apply_run)
    request.refresh_from_db()
    return request.instance


def reconcile_url(run) -> str:
    return reverse("provisioning:run_reconcile", args=[run.pk])


def recheck_url(run) -> str:
    return reverse("provisioning:run_recheck", args=[run.pk])


def drift_url(instance) -> str:
    return reverse("provisioning:instance_drift_check", args=[instance.pk])


def verdict(run, outcome: str, note: str = "刷新显示主机未创建，按失败处置。") -> dict:
    return {f"run-{run.pk}-outcome": outcome, f"run-{run.pk}-note": note}


def card(page: str, run) -> str:
    """The HTML of one run's card on the operations page."""
    match = re.search(rf'<section class="card" data-run="{run.pk}">(.*?)</section>', page, re.S)
    assert match, f"no card for run {run.pk}"
    return match.group(1)


def refused(users, url: str, *, api: bool = False, method: str = "get", data: dict | None = None) -> None:
    for user in users:
        if api:
            response = Api(user).post(url, data) if method == "post" else Api(user).get(url)
        else:
            client = signed_in(user)
            response = client.post(url, data or {}) if method == "post" else client.get(url)
        assert response.status_code == 404, (user.username, url, response.status_code)


# Permission matrix: pages ----------------------------------------------------------------------------------


def test_operations_page_matrix(journey, operator, outsiders):
    run, _refresh = lost_apply(journey)
    refused(outsiders[2:], OPERATIONS)
    assert_matrix(
        Matrix(url=OPERATIONS, permitted=operator, no_permission=outsiders[0], other_agency=outsiders[1]),
        marker=f'data-run="{run.pk}"',
    )


def test_reconcile_action_matrix(journey, operator, outsiders):
    run, refresh = lost_apply(journey)
    refreshed(refresh)
    data = verdict(run, "failed")
    refused(outsiders[2:], reconcile_url(run), method="post", data=data)
    response = assert_matrix(
        Matrix(url=reconcile_url(run), permitted=operator, no_permission=outsiders[0], other_agency=outsiders[1],
               method="post", data=data, permitted_status=302)
    )
    assert response["Location"] == OPERATIONS
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert AuditEvent.objects.get(action="run.reconciled", object_id=str(run.pk)).actor == operator


def test_recheck_action_matrix(journey, operator, outsiders):
    run, refresh = lost_apply(journey)
    refreshed(refresh)
    refused(outsiders[2:], recheck_url(run), method="post")
    response = assert_matrix(
        Matrix(url=recheck_url(run), permitted=operator, no_permission=outsiders[0], other_agency=outsiders[1],
               method="post", permitted_status=302)
    )
    assert response["Location"] == OPERATIONS
    assert run.reconciliations.count() == 2  # the refused rows started none


def test_drift_check_action_matrix(journey, operator, outsiders):
    instance = completed_instance(journey)
    refused(outsiders[2:], drift_url(instance), method="post")
    response = assert_matrix(
        Matrix(url=drift_url(instance), permitted=operator, no_permission=outsiders[0], other_agency=outsiders[1],
               method="post", permitted_status=302)
    )
    assert response["Location"] == reverse("provisioning:instance_detail", args=[instance.pk])
    assert instance.workspace.runs.filter(kind=RunKind.REFRESH).count() == 1


# Permission matrix: API ------------------------------------------------------------------------------------


def test_api_run_list_matrix(journey, operator, outsiders):
    run, _refresh = lost_apply(journey)
    url = "/api/v1/runs/?status=needs_reconciliation"
    for user in outsiders[2:]:  # they see the run under its request, but no list of runs
        assert Api(user).get(url).json()["results"] == []
    response = assert_matrix(
        Matrix(url=url, permitted=operator, no_permission=outsiders[0], other_agency=outsiders[1], api=True,
               list_view=True),
        marker=f'"id":{run.pk},',
    )
    assert [(row["id"], row["status"], row["request"]) for row in response.json()["results"]] == [
        (run.pk, "needs_reconciliation", run.request_id)
    ]


def test_api_reconcile_matrix(journey, operator, outsiders):
    run, refresh = lost_apply(journey)
    refreshed(refresh)
    url = f"/api/v1/runs/{run.pk}/reconcile/"
    body = {"outcome": "failed", "note": "刷新显示主机未创建。"}
    refused(outsiders[2:], url, api=True, method="post", data=body)
    response = assert_matrix(
        Matrix(url=url, permitted=operator, no_permission=outsiders[0], other_agency=outsiders[1], api=True,
               method="post", data=body)
    )
    assert response.json()["id"] == run.pk and response.json()["status"] == "failed"


def test_api_recheck_matrix(journey, operator, outsiders):
    run, refresh = lost_apply(journey)
    refreshed(refresh)
    url = f"/api/v1/runs/{run.pk}/recheck/"
    refused(outsiders[2:], url, api=True, method="post")
    response = assert_matrix(
        Matrix(url=url, permitted=operator, no_permission=outsiders[0], other_agency=outsiders[1], api=True,
               method="post", permitted_status=201)
    )
    body = response.json()
    assert body["kind"] == "refresh" and body["status"] == "queued" and body["reconciles"] == run.pk
    assert run.reconciliations.count() == 2


def test_api_drift_check_matrix(journey, operator, outsiders):
    instance = completed_instance(journey)
    url = f"/api/v1/instances/{instance.pk}/drift-check/"
    refused(outsiders[2:], url, api=True, method="post")
    response = assert_matrix(
        Matrix(url=url, permitted=operator, no_permission=outsiders[0], other_agency=outsiders[1], api=True,
               method="post", permitted_status=201)
    )
    run = instance.workspace.runs.get(kind=RunKind.REFRESH)
    assert response.json()["id"] == run.pk and response.json()["status"] == "queued"


# The operations page ---------------------------------------------------------------------------------------


def test_a_lost_run_shows_while_its_refresh_runs(journey, operator):
    run, refresh = lost_apply(journey)
    page = html(operator, OPERATIONS)
    shown = card(page, run)
    assert run.request.number in shown and reverse("provisioning:request_detail", args=[run.request_id]) in shown
    assert "教育云" in shown and "省教育厅" in shown
    assert "执行节点在运行中失联" in shown  # the error the janitor wrote
    # The refresh is still queued: its log fragment polls, the verdict waits, and there is nothing to recheck.
    log_url = reverse("provisioning:run_log", args=[refresh.pk])
    assert f'hx-get="{log_url}"' in shown
    assert re.search(r"<fieldset[^>]* disabled>", shown)
    assert 'data-testid="recheck"' not in shown
    assert "核对刷新尚未成功完成。" in shown


def test_the_card_shows_what_the_refresh_found(journey, operator):
    run, refresh = lost_apply(journey)
    drift = [{"address": PLANNED, "type": "pcloud_instance", "name": "this", "action": "update",
              "changes": [{"attribute": "flavor", "before": "medium", "after": "large"}]}]
    refreshed(refresh, resources=HELD, drift=drift)
    shown = card(html(operator, OPERATIONS), run)
    drift_table = shown.split('data-testid="drift-summary"', 1)[1].split("</table>", 1)[0]
    assert PLANNED in drift_table and "flavor" in drift_table and "medium" in drift_table
    assert "i-1" in shown.split('data-testid="state-resources"', 1)[1].split("</table>", 1)[0]
    assert "计划的变更均已体现在状态中。" in shown
    assert "云上资源与状态不一致" in shown  # why it may not be closed as succeeded
    assert 'data-testid="recheck"' in shown and not re.search(r"<fieldset[^>]* disabled>", shown)


def test_reconcile_failed_on_the_page_fails_the_request(journey, operator):
    run, refresh = lost_apply(journey)
    refreshed(refresh)
    response = signed_in(operator).post(reconcile_url(run), verdict(run, "failed"), follow=True)
    assert response.redirect_chain[-1][0] == OPERATIONS
    page = response.content.decode()
    assert f"运行 #{run.pk} 已处置。" in page and f'data-run="{run.pk}"' not in page
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "刷新显示主机未创建" in run.error
    request = Request.objects.get(pk=run.request_id)
    assert request.status == RequestStatus.FAILED
    event = AuditEvent.objects.get(action="run.reconciled", object_id=str(run.pk))
    assert event.actor == operator and event.details["outcome"] == "failed"


def test_succeeded_is_refused_with_the_reason_when_the_state_lacks_a_planned_resource(journey, operator):
    run, refresh = lost_apply(journey)
    refreshed(refresh, resources=[])  # the state moved on, but the planned instance is not in it
    reason = f"状态未体现计划的全部变更：{PLANNED} (create)。"
    shown = card(html(operator, OPERATIONS), run)
    outcome = field_block(shown, f"run-{run.pk}-outcome")
    assert reason in outcome
    assert re.search(r'<input type="radio"[^>]*value="succeeded"[^>]*disabled', outcome)
    assert not re.search(r'<input type="radio"[^>]*value="failed"[^>]*disabled', outcome)
    assert PLANNED in shown.split('data-testid="undone"', 1)[1]

    response = signed_in(operator).post(reconcile_url(run), verdict(run, "succeeded", "看起来都在"), follow=True)
    assert reason in response.content.decode()
    run.refresh_from_db()
    assert run.status == RunStatus.NEEDS_RECONCILIATION
    assert Request.objects.get(pk=run.request_id).status == RequestStatus.APPLYING


def test_succeeded_completes_the_request_with_what_the_state_holds(journey, operator):
    run, refresh = lost_apply(journey)
    refreshed(refresh, resources=HELD)
    outcome = field_block(card(html(operator, OPERATIONS), run), f"run-{run.pk}-outcome")
    assert 'value="succeeded"' in outcome and " disabled" not in outcome
    signed_in(operator).post(reconcile_url(run), verdict(run, "succeeded", "状态与云上一致，主机已创建。"))
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    request = Request.objects.get(pk=run.request_id)
    assert request.status == RequestStatus.COMPLETED and request.instance.resources == HELD


@pytest.mark.parametrize("note", ["", "   ", "长" * 2001])
def test_the_note_is_required_and_bounded_on_the_page(journey, operator, note):
    run, refresh = lost_apply(journey)
    refreshed(refresh)
    response = signed_in(operator).post(reconcile_url(run), verdict(run, "failed", note))
    assert response.status_code == 200
    block = field_block(card(response.content.decode(), run), f"run-{run.pk}-note")
    expected = "核对说明不能超过 2000 个字符。" if note.strip() else "请填写核对说明：看到了什么，为何这样处置。"
    assert expected in block
    run.refresh_from_db()
    assert run.status == RunStatus.NEEDS_RECONCILIATION


def test_an_unknown_outcome_is_refused_beside_the_field(journey, operator):
    run, refresh = lost_apply(journey)
    refreshed(refresh)
    response = signed_in(operator).post(reconcile_url(run), verdict(run, "ignored"))
    assert "请选择处置结果。" in field_block(card(response.content.decode(), run), f"run-{run.pk}-outcome")
    run.refresh_from_db()
    assert run.status == RunStatus.NEEDS_RECONCILIATION


def test_recheck_on_the_page_queues_another_refresh(journey, operator, no_broker, django_capture_on_commit_callbacks):
    run, refresh = lost_apply(journey)
    refreshed(refresh, resources=HELD)
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(operator).post(recheck_url(run), follow=True)
    newer = run.reconciliations.order_by("-id").first()
    assert newer.pk != refresh.pk and newer.status == RunStatus.QUEUED and newer.kind == RunKind.REFRESH
    assert no_broker["runs"].call_args.args[0] == (newer.pk,)
    page = response.content.decode()
    assert f"已重新发起核对刷新（运行 #{newer.pk}）。" in page
    # The card now follows the new refresh, and offers no recheck while it runs.
    assert 'data-testid="recheck"' not in card(page, run)
    response = signed_in(operator).post(recheck_url(run), follow=True)
    assert "核对刷新正在进行，请等待它完成。" in response.content.decode()
    assert run.reconciliations.count() == 2


def test_a_closed_run_is_a_message_not_a_crash(journey, operator):
    run, refresh = lost_apply(journey)
    refreshed(refresh)
    signed_in(operator).post(reconcile_url(run), verdict(run, "failed"))
    response = signed_in(operator).post(reconcile_url(run), verdict(run, "failed"), follow=True)
    assert f"运行 #{run.pk} 不在待核对状态。" in response.content.decode()
    response = signed_in(operator).post(recheck_url(run), follow=True)
    assert f"运行 #{run.pk} 不在待核对状态。" in response.content.decode()


def test_drifted_and_waiting_instances_are_listed(journey, operator):
    drifted = completed_instance(journey)
    in_sync = completed_instance(journey)
    for instance, drift in ((drifted, [{"address": PLANNED, "action": "update", "changes": []}]), (in_sync, [])):
        signed_in(operator).post(drift_url(instance))
        finish_run(instance.workspace.runs.get(kind=RunKind.REFRESH), plan_summary=drift)
    drifted.refresh_from_db()
    assert drifted.drift_status == DriftStatus.DRIFTED
    table = html(operator, OPERATIONS).split('data-testid="attention"', 1)[1]
    assert f'data-instance="{drifted.pk}"' in table and f'data-instance="{in_sync.pk}"' not in table
    assert reverse("provisioning:instance_detail", args=[drifted.pk]) in table


def test_an_instance_waiting_for_a_lost_change_is_listed_until_the_run_is_closed(journey, operator):
    instance = completed_instance(journey)
    change = svc.request_create_day2(
        actor=journey["requester"], instance=instance, kind=RequestKind.MODIFY, parameters={"flavor": "large"}
    )
    change = svc.request_submit(actor=journey["requester"], request=change)
    finish_run(change.plan_run)
    change.refresh_from_db()
    change = approve_all(change, journey)
    claimed, _why = run_claim(run_id=change.apply_run_id, worker="w-lost")
    refreshed(run_lost(claimed), resources=HELD)
    instance.refresh_from_db()
    assert instance.status == InstanceStatus.NEEDS_RECONCILIATION
    assert f'data-instance="{instance.pk}"' in html(operator, OPERATIONS).split('data-testid="attention"', 1)[1]

    signed_in(operator).post(reconcile_url(claimed), verdict(claimed, "failed", "变更未生效，按失败处置。"))
    instance.refresh_from_db()
    assert instance.status == InstanceStatus.ACTIVE
    assert f'data-instance="{instance.pk}"' not in html(operator, OPERATIONS).split('data-testid="attention"', 1)[1]


def test_no_secret_on_the_operations_page(journey, operator):
    run, refresh = lost_apply(journey)
    assert run.secret_variables == {"admin_password": PASSWORD}
    Run.objects.filter(pk=refresh.pk).update(log="module.main.pcloud_instance.this: admin_password = ********\n")
    assert PASSWORD not in html(operator, OPERATIONS)  # the refresh still running: its log shows
    refreshed(refresh, resources=HELD, drift=[{"address": PLANNED, "action": "update", "changes": [
        {"attribute": "admin_password", "before": "********", "after": "********"}]}])
    page = html(operator, OPERATIONS)
    assert "admin_password" in page and PASSWORD not in page


# The nav ---------------------------------------------------------------------------------------------------


def test_nav_links_operators_to_the_page_with_the_count(journey, operator):
    assert f'href="{OPERATIONS}"' in html(operator, reverse("dashboard"))
    assert 'data-testid="reconcile-count"' not in html(operator, reverse("dashboard"))
    lost_apply(journey)
    page = html(operator, reverse("dashboard"))
    assert re.search(r'data-testid="reconcile-count">1<', page)
    for user in (journey["requester"], journey["approver"], journey["owner"]):
        assert f'href="{OPERATIONS}"' not in html(user, reverse("dashboard")), user.username


# Drift check on the instance page --------------------------------------------------------------------------


def test_drift_check_button_is_for_operators(journey, operator):
    instance = completed_instance(journey)
    url = reverse("provisioning:instance_detail", args=[instance.pk])
    assert f'action="{drift_url(instance)}"' in html(operator, url)
    for user in (journey["requester"], journey["approver"]):
        page = html(user, url)
        assert f'action="{drift_url(instance)}"' not in page and 'data-testid="drift"' not in page


def test_drift_check_queues_a_refresh_and_the_page_follows_it(journey, operator, no_broker,
                                                               django_capture_on_commit_callbacks):
    instance = completed_instance(journey)
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(operator).post(drift_url(instance), follow=True)
    run = instance.workspace.runs.get(kind=RunKind.REFRESH)
    assert run.status == RunStatus.QUEUED and run.request_id is None and run.created_by == operator
    assert no_broker["runs"].call_args.args[0] == (run.pk,)
    page = response.content.decode()
    assert f"已发起漂移检查（运行 #{run.pk}）。" in page
    assert f'hx-get="{reverse("provisioning:run_log", args=[run.pk])}"' in page

    finish_run(run, plan_summary=[{"address": PLANNED, "action": "update",
                                   "changes": [{"attribute": "flavor", "before": "medium", "after": "large"}]}])
    page = html(operator, reverse("provisioning:instance_detail", args=[instance.pk]))
    drift = page.split('data-testid="drift-summary"', 1)[1].split("</table>", 1)[0]
    assert PLANNED in drift and "large" in drift
    instance.refresh_from_db()
    assert instance.drift_status == DriftStatus.DRIFTED


def test_drift_check_is_refused_while_a_run_is_active(journey, operator):
    instance = completed_instance(journey)
    signed_in(operator).post(drift_url(instance))
    response = signed_in(operator).post(drift_url(instance), follow=True)
    assert "该资源有进行中的运行，请在其完成后再检查。" in response.content.decode()
    response = Api(operator).post(f"/api/v1/instances/{instance.pk}/drift-check/")
    assert response.status_code == 409 and response.json()["code"] == "conflict"
    assert instance.workspace.runs.filter(kind=RunKind.REFRESH).count() == 1


def test_drift_check_of_a_destroyed_instance_is_refused(journey, operator):
    instance = completed_instance(journey)
    type(instance).objects.filter(pk=instance.pk).update(status=InstanceStatus.DESTROYED)
    response = Api(operator).post(f"/api/v1/instances/{instance.pk}/drift-check/")
    assert response.status_code == 409 and response.json()["detail"] == "资源已销毁，无需检查漂移。"
    assert 'data-testid="drift-check"' not in html(operator, reverse("provisioning:instance_detail", args=[instance.pk]))


# The API ---------------------------------------------------------------------------------------------------


def test_api_reconcile_failed_fails_the_request(journey, operator):
    run, refresh = lost_apply(journey)
    refreshed(refresh)
    response = Api(operator).post(f"/api/v1/runs/{run.pk}/reconcile/", {"outcome": "failed", "note": "主机未创建。"})
    assert response.status_code == 200
    assert response.json()["status"] == "failed" and "主机未创建。" in response.json()["error"]
    assert Request.objects.get(pk=run.request_id).status == RequestStatus.FAILED
    again = Api(operator).post(f"/api/v1/runs/{run.pk}/reconcile/", {"outcome": "failed", "note": "再次"})
    assert again.status_code == 409


def test_api_succeeded_is_refused_with_the_reason_and_what_is_undone(journey, operator):
    run, refresh = lost_apply(journey)
    refreshed(refresh, resources=[])
    response = Api(operator).post(f"/api/v1/runs/{run.pk}/reconcile/", {"outcome": "succeeded", "note": "都在"})
    assert response.status_code == 409
    body = response.json()
    assert body["detail"] == f"状态未体现计划的全部变更：{PLANNED} (create)。"
    assert body["params"] == {"undone": [[PLANNED, "create"]]}
    run.refresh_from_db()
    assert run.status == RunStatus.NEEDS_RECONCILIATION


def test_api_refuses_a_verdict_before_the_refresh_succeeded(journey, operator):
    run, _refresh = lost_apply(journey)
    response = Api(operator).post(f"/api/v1/runs/{run.pk}/reconcile/", {"outcome": "failed", "note": "不等了"})
    assert response.status_code == 409
    assert response.json()["detail"] == "核对刷新尚未成功完成：请等待它完成，或重新发起核对刷新。"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"outcome": "failed"}, "note", "请填写核对说明：看到了什么，为何这样处置。"),
        ({"outcome": "failed", "note": "  "}, "note", "请填写核对说明：看到了什么，为何这样处置。"),
        ({"outcome": "failed", "note": "长" * 2001}, "note", "核对说明不能超过 2000 个字符。"),
        ({"note": "主机未创建。"}, "outcome", "请选择处置结果。"),
        ({"outcome": "ignored", "note": "主机未创建。"}, "outcome", "请选择处置结果。"),
    ],
)
def test_api_reconcile_validates_with_clear_messages(journey, operator, body, field, message):
    run, refresh = lost_apply(journey)
    refreshed(refresh)
    response = Api(operator).post(f"/api/v1/runs/{run.pk}/reconcile/", body)
    assert response.status_code == 400
    assert response.json() == {field: [message]}
    run.refresh_from_db()
    assert run.status == RunStatus.NEEDS_RECONCILIATION


def test_api_recheck_is_refused_while_the_refresh_is_active(journey, operator):
    run, _refresh = lost_apply(journey)
    response = Api(operator).post(f"/api/v1/runs/{run.pk}/recheck/")
    assert response.status_code == 409 and response.json()["detail"] == "核对刷新正在进行，请等待它完成。"
    assert run.reconciliations.count() == 1


def test_api_run_list_filters_by_status(journey, operator):
    run, refresh = lost_apply(journey)
    api = Api(operator)
    listed = {row["id"] for row in api.get("/api/v1/runs/").json()["results"]}
    assert {run.pk, refresh.pk, run.source_plan_id} <= listed
    queued = [row["id"] for row in api.get("/api/v1/runs/?status=queued").json()["results"]]
    assert queued == [refresh.pk]
