"""The request journey over /api/v1/: every endpoint through the permission matrix, token and session
sign-in, 400 with field errors in Chinese, 409 for illegal moves, 403 for a forbidden action on a visible
object, and no secret in any answer."""
from pathlib import Path

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from portal.choices import Role
from provisioning.choices import PlanMode, RequestKind, RequestStatus, RunKind, RunStatus, StageStatus
from provisioning.models import Approval, Request, Run
from provisioning.services import requests as svc
from provisioning.services.runs import run_claim, run_enqueue, run_heartbeat
from provisioning.terraform_client import MASK
from provisioning.workspaces import prepare
from tests.catalogue.factories import OfferingFactory, ServiceFactory
from tests.matrix import Matrix, assert_matrix
from tests.portal.factories import UserFactory
from tests.provisioning.clients import Api
from tests.provisioning.conftest import PASSWORD, VM, finish_run, make_policy
from tests.provisioning.test_requests import approve_all, awaiting, create, submitted

pytestmark = pytest.mark.django_db

FLAVOR_RULE = "规格必须是 small、medium、large 或 xlarge 之一。"


def completed(journey) -> Request:
    request = approve_all(awaiting(journey["requester"], journey["offering"]), journey)
    finish_run(request.apply_run)
    request.refresh_from_db()
    assert request.status == RequestStatus.COMPLETED
    return request


def failed(journey) -> Request:
    request = submitted(journey["requester"], journey["offering"])
    finish_run(request.plan_run, RunStatus.FAILED, error="Error: invalid zone")
    request.refresh_from_db()
    assert request.status == RequestStatus.FAILED
    return request


def ids(response) -> set[int]:
    assert response.status_code == 200, response.status_code
    return {row["id"] for row in response.json()["results"]}


def create_body(offering, /, **overrides) -> dict:
    body = {"offering": offering.pk, "parameters": dict(VM), "justification": "教学平台", "data_classification": 2}
    body.update(overrides)
    return body


# Requests: list, detail, create ----------------------------------------------------------------------------


def test_request_list_matrix(journey, nobody, other_requester):
    request = awaiting(journey["requester"], journey["offering"])
    assert_matrix(
        Matrix(url="/api/v1/requests/", permitted=journey["requester"], no_permission=nobody,
               other_agency=other_requester, api=True, list_view=True),
        marker=f'"number":"{request.number}"',
    )


def test_request_list_filters(journey, other_requester, other_approver):
    draft = create(journey["requester"], journey["offering"])
    planning = submitted(journey["requester"], journey["offering"])
    theirs = create(other_requester, journey["offering"])
    assert ids(Api(journey["requester"]).get("/api/v1/requests/")) == {draft.pk, planning.pk}
    assert ids(Api(journey["requester"]).get("/api/v1/requests/?status=planning")) == {planning.pk}
    assert ids(Api(journey["approver"]).get("/api/v1/requests/")) == {draft.pk, planning.pk}
    assert ids(Api(journey["approver"]).get("/api/v1/requests/?mine=1")) == set()
    assert ids(Api(other_approver).get("/api/v1/requests/")) == {theirs.pk}


def test_request_detail_matrix(journey, nobody, other_requester):
    request = awaiting(journey["requester"], journey["offering"])
    assert_matrix(
        Matrix(url=f"/api/v1/requests/{request.pk}/", permitted=journey["requester"], no_permission=nobody,
               other_agency=other_requester, api=True),
        marker=request.number,
    )


def test_request_detail_hidden_from_another_agencys_approver(journey, other_approver):
    request = awaiting(journey["requester"], journey["offering"])
    assert Api(other_approver).get(f"/api/v1/requests/{request.pk}/").status_code == 404
    assert Api(journey["approver"]).get(f"/api/v1/requests/{request.pk}/").status_code == 200


def test_request_detail_describes_stages_plan_and_cost(journey):
    request = awaiting(journey["requester"], journey["offering"])
    body = Api(journey["requester"]).get(f"/api/v1/requests/{request.pk}/").json()
    assert body["status"] == "awaiting_approval" and body["cloud"] == "edu" and body["service"] == "vm"
    assert body["agency"] == "省教育厅" and body["requester"] == "requester"
    assert [(s["order"], s["status"]) for s in body["stages"]] == [(1, "open"), (2, "waiting")]
    assert body["plan"]["planfile_sha256"] == "a" * 64 and body["monthly_cost"] == "270.00"


def test_create_matrix(journey, nobody):
    response = assert_matrix(
        Matrix(url="/api/v1/requests/", permitted=journey["requester"], no_permission=nobody, api=True,
               method="post", data=create_body(journey["offering"]), permitted_status=201)
    )
    created = Request.objects.get()  # the refused rows made nothing
    assert response.json()["id"] == created.pk and created.requester == journey["requester"]


def test_create_submits_by_default_and_keeps_the_secret_out(journey, no_broker, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = Api(journey["requester"]).post("/api/v1/requests/", create_body(journey["offering"]))
    assert response.status_code == 201
    body = response.json()
    created = Request.objects.get(pk=body["id"])
    assert body["status"] == "planning" == created.status
    assert body["parameters"]["flavor"] == "medium" and "admin_password" not in body["parameters"]
    assert body["has_secret_parameters"] is True
    assert PASSWORD not in response.content.decode()
    assert created.secret_parameters == {"admin_password": PASSWORD}
    assert no_broker["runs"].call_args.args[0] == (created.plan_run_id,)


def test_create_as_draft(journey):
    response = Api(journey["requester"]).post("/api/v1/requests/", create_body(journey["offering"], submit=False))
    assert response.status_code == 201 and response.json()["status"] == "draft"
    assert response.json()["plan"] is None and Run.objects.count() == 0


def test_has_secret_parameters_is_false_without_sensitive_inputs(journey, cloud):
    bucket = OfferingFactory(cloud=cloud, service=ServiceFactory(slug="bucket"), usage_rules={"storage_gb": {"from": "quota_gb"}})
    response = Api(journey["requester"]).post(
        "/api/v1/requests/", {"offering": bucket.pk, "parameters": {"name": "edu-files"}, "submit": False}
    )
    assert response.status_code == 201, response.json()
    assert response.json()["has_secret_parameters"] is False


def test_create_on_an_unknown_offering_is_404(journey):
    response = Api(journey["requester"]).post("/api/v1/requests/", create_body(journey["offering"], offering=999999))
    assert response.status_code == 404
    assert Request.objects.count() == 0


# Bad input: 400 with field errors in Chinese ---------------------------------------------------------------


def test_unknown_parameter_is_400_naming_it(journey):
    response = Api(journey["requester"]).post(
        "/api/v1/requests/", create_body(journey["offering"], parameters={**VM, "colour": "blue"})
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_parameters" and body["detail"] == "申请参数有误，请按提示修改。"
    assert body["params"]["errors"] == {"colour": ["该服务没有这个参数。"]}
    assert Request.objects.count() == 0


def test_module_rule_message_under_params_errors(journey):
    response = Api(journey["requester"]).post(
        "/api/v1/requests/", create_body(journey["offering"], parameters={**VM, "flavor": "huge"})
    )
    assert response.status_code == 400
    assert response.json()["params"]["errors"] == {"flavor": [FLAVOR_RULE]}
    assert PASSWORD not in response.content.decode()
    assert Request.objects.count() == 0


def test_wrong_parameter_type_is_400(journey):
    response = Api(journey["requester"]).post(
        "/api/v1/requests/", create_body(journey["offering"], parameters={**VM, "system_disk_gb": "forty"})
    )
    assert response.status_code == 400
    assert response.json()["params"]["errors"] == {"system_disk_gb": ["请输入数字。"]}


def test_missing_required_parameter_is_400(journey):
    parameters = {key: value for key, value in VM.items() if key != "admin_password"}
    response = Api(journey["requester"]).post("/api/v1/requests/", create_body(journey["offering"], parameters=parameters))
    assert response.status_code == 400
    assert response.json()["params"]["errors"] == {"admin_password": ["此项为必填项。"]}


def test_a_bad_secret_is_refused_without_being_echoed(journey):
    weak = "weakpassword1"
    response = Api(journey["requester"]).post(
        "/api/v1/requests/", create_body(journey["offering"], parameters={**VM, "admin_password": weak})
    )
    assert response.status_code == 400
    assert "admin_password" in response.json()["params"]["errors"]
    assert weak not in response.content.decode()


@pytest.mark.parametrize(
    ("field", "value"),
    [("parameters", "flavor=medium"), ("lease_months", "twelve"), ("lease_months", 61), ("offering", "edu-vm"),
     ("data_classification", 9)],
)
def test_wrong_field_type_is_400_with_a_chinese_field_error(field, value, journey):
    response = Api(journey["requester"]).post("/api/v1/requests/", create_body(journey["offering"], **{field: value}))
    assert response.status_code == 400
    errors = response.json()[field]
    assert errors and all(any("\u4e00" <= char <= "\u9fff" for char in error) for error in errors), errors
    assert Request.objects.count() == 0


def test_classification_the_cloud_refuses_is_400_on_that_field(journey):
    response = Api(journey["requester"]).post("/api/v1/requests/", create_body(journey["offering"], data_classification=4))
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "data_classification" and "教育云" in body["detail"]


def test_requesting_without_the_requester_role_is_403(journey):
    response = Api(journey["approver"]).post("/api/v1/requests/", create_body(journey["offering"]))
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied" and response.json()["detail"] == "您不能代表该单位提交申请。"
    assert Request.objects.count() == 0


# Actions: submit, approve, reject, cancel, retry -----------------------------------------------------------


def test_submit_matrix(journey, nobody, other_requester):
    request = create(journey["requester"], journey["offering"])
    response = assert_matrix(
        Matrix(url=f"/api/v1/requests/{request.pk}/submit/", permitted=journey["requester"], no_permission=nobody,
               other_agency=other_requester, api=True, method="post")
    )
    assert response.json()["status"] == "planning"
    assert Run.objects.filter(request=request).count() == 1


def test_approve_matrix(journey, nobody, other_approver):
    request = awaiting(journey["requester"], journey["offering"])
    response = assert_matrix(
        Matrix(url=f"/api/v1/requests/{request.pk}/approve/", permitted=journey["approver"], no_permission=nobody,
               other_agency=other_approver, api=True, method="post", data={"comment": "同意"})
    )
    body = response.json()
    assert body["stages"][0]["status"] == "approved" and body["stages"][1]["status"] == "open"
    assert [a["approver"] for a in body["stages"][0]["approvals"]] == ["agency_approver"]
    assert Approval.objects.filter(request=request).count() == 1


def test_reject_matrix(journey, nobody, other_approver):
    request = awaiting(journey["requester"], journey["offering"])
    response = assert_matrix(
        Matrix(url=f"/api/v1/requests/{request.pk}/reject/", permitted=journey["approver"], no_permission=nobody,
               other_agency=other_approver, api=True, method="post", data={"comment": "预算不足"})
    )
    assert response.json()["status"] == "rejected"
    assert list(Approval.objects.filter(request=request).values_list("approver__username", "decision")) == [
        ("agency_approver", "reject")
    ]


def test_cancel_matrix(journey, nobody, other_requester):
    request = awaiting(journey["requester"], journey["offering"])
    response = assert_matrix(
        Matrix(url=f"/api/v1/requests/{request.pk}/cancel/", permitted=journey["requester"], no_permission=nobody,
               other_agency=other_requester, api=True, method="post")
    )
    assert response.json()["status"] == "cancelled"
    assert all(stage["status"] != "open" for stage in response.json()["stages"])


def test_retry_matrix(journey, nobody, other_requester):
    request = failed(journey)
    response = assert_matrix(
        Matrix(url=f"/api/v1/requests/{request.pk}/retry/", permitted=journey["requester"], no_permission=nobody,
               other_agency=other_requester, api=True, method="post")
    )
    assert response.json()["status"] == "planning"
    assert Run.objects.filter(request=request, kind=RunKind.PLAN).count() == 2


def test_second_stage_then_apply(journey, no_broker, django_capture_on_commit_callbacks):
    request = awaiting(journey["requester"], journey["offering"])
    assert Api(journey["approver"]).post(f"/api/v1/requests/{request.pk}/approve/").status_code == 200
    # The first stage's approver no longer may sign; the cloud owner now may.
    assert Api(journey["approver"]).post(f"/api/v1/requests/{request.pk}/approve/").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        response = Api(journey["owner"]).post(f"/api/v1/requests/{request.pk}/approve/", {"comment": "同意开通"})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "applying" and body["apply_run"] is not None
    assert no_broker["runs"].call_args.args[0] == (body["apply_run"],)


def test_reject_without_comment_is_400_on_the_comment_field(journey):
    request = awaiting(journey["requester"], journey["offering"])
    response = Api(journey["approver"]).post(f"/api/v1/requests/{request.pk}/reject/", {"comment": "  "})
    assert response.status_code == 400
    assert response.json()["field"] == "comment" and response.json()["detail"] == "驳回时必须填写意见，说明驳回理由。"
    request.refresh_from_db()
    assert request.status == RequestStatus.AWAITING_APPROVAL and request.approvals.count() == 0


def test_comment_too_long_is_400(journey):
    request = awaiting(journey["requester"], journey["offering"])
    response = Api(journey["approver"]).post(f"/api/v1/requests/{request.pk}/approve/", {"comment": "长" * 2001})
    assert response.status_code == 400 and "comment" in response.json()
    assert request.approvals.count() == 0


# 403: a forbidden action on a visible object ---------------------------------------------------------------


def test_requester_approving_their_own_request_is_403(journey, agency):
    both = UserFactory(agency=agency, roles=[Role.REQUESTER, Role.AGENCY_APPROVER])
    request = awaiting(both, journey["offering"])
    response = Api(both).post(f"/api/v1/requests/{request.pk}/approve/")
    assert response.status_code == 403
    assert response.json() == {"detail": "不能审批自己提交的申请。", "code": "permission_denied"}
    assert request.approvals.count() == 0


@pytest.mark.parametrize(
    ("who", "action"),
    [("requester", "approve"), ("requester", "reject"), ("approver", "cancel"), ("approver", "submit"),
     ("owner", "approve")],  # the cloud owner's stage is not open: their view is 404, see below
)
def test_forbidden_actions_on_a_visible_request(who, action, journey):
    request = create(journey["requester"], journey["offering"]) if action == "submit" else awaiting(
        journey["requester"], journey["offering"]
    )
    response = Api(journey[who]).post(f"/api/v1/requests/{request.pk}/{action}/", {"comment": "理由"})
    expected = 404 if who == "owner" else 403
    assert response.status_code == expected, response.json()
    request.refresh_from_db()
    assert request.approvals.count() == 0
    assert request.status in (RequestStatus.DRAFT, RequestStatus.AWAITING_APPROVAL)


def test_approver_retrying_a_requesters_failure_is_403(journey):
    request = failed(journey)
    assert Api(journey["approver"]).post(f"/api/v1/requests/{request.pk}/retry/").status_code == 403
    request.refresh_from_db()
    assert request.status == RequestStatus.FAILED


# 409: illegal moves ----------------------------------------------------------------------------------------


def test_illegal_moves_are_409(journey):
    api = Api(journey["requester"])
    request = awaiting(journey["requester"], journey["offering"])
    assert api.post(f"/api/v1/requests/{request.pk}/submit/").status_code == 409
    response = api.post(f"/api/v1/requests/{request.pk}/retry/")
    assert response.status_code == 409 and response.json() == {"detail": "只有失败的申请可以重试。", "code": "conflict"}
    assert api.post(f"/api/v1/requests/{request.pk}/cancel/").status_code == 200
    response = Api(journey["approver"]).post(f"/api/v1/requests/{request.pk}/approve/")
    assert response.status_code == 409 and "不在审批中" in response.json()["detail"]
    assert api.post(f"/api/v1/requests/{request.pk}/cancel/").status_code == 409


def test_cancelling_a_completed_request_is_409(journey):
    request = completed(journey)
    response = Api(journey["requester"]).post(f"/api/v1/requests/{request.pk}/cancel/")
    assert response.status_code == 409 and response.json()["code"] == "conflict"
    request.refresh_from_db()
    assert request.status == RequestStatus.COMPLETED


def test_signing_a_second_stage_is_409(journey):
    journey["owner"].groups.add(*journey["approver"].groups.all())
    request = awaiting(journey["requester"], journey["offering"])
    assert Api(journey["owner"]).post(f"/api/v1/requests/{request.pk}/approve/").status_code == 200
    response = Api(journey["owner"]).post(f"/api/v1/requests/{request.pk}/approve/")
    assert response.status_code == 409
    assert Approval.objects.filter(request=request).count() == 1


# Runs of a request, run detail and log ---------------------------------------------------------------------


def test_request_runs_matrix(journey, nobody, other_requester):
    request = completed(journey)
    response = assert_matrix(
        Matrix(url=f"/api/v1/requests/{request.pk}/runs/", permitted=journey["requester"], no_permission=nobody,
               other_agency=other_requester, api=True),
    )
    assert [(run["id"], run["kind"]) for run in response.json()["results"]] == [
        (request.apply_run_id, "apply"), (request.plan_run_id, "plan")
    ]


def test_run_detail_matrix(journey, nobody, other_requester):
    request = submitted(journey["requester"], journey["offering"])
    response = assert_matrix(
        Matrix(url=f"/api/v1/runs/{request.plan_run_id}/", permitted=journey["requester"], no_permission=nobody,
               other_agency=other_requester, api=True),
    )
    assert response.json()["id"] == request.plan_run_id and response.json()["status"] == "queued"


def test_run_log_matrix(journey, nobody, other_requester):
    request = submitted(journey["requester"], journey["offering"])
    Run.objects.filter(pk=request.plan_run_id).update(log="Initializing the backend...\n")
    assert_matrix(
        Matrix(url=f"/api/v1/runs/{request.plan_run_id}/log/", permitted=journey["requester"], no_permission=nobody,
               other_agency=other_requester, api=True),
        marker="Initializing the backend",
    )


def test_run_without_a_request_is_for_operators_only(journey, operator):
    instance = completed(journey).instance
    refresh = run_enqueue(actor=None, workspace=instance.workspace, kind=RunKind.REFRESH)
    for user in (journey["requester"], journey["approver"]):
        assert Api(user).get(f"/api/v1/runs/{refresh.pk}/").status_code == 404
        assert Api(user).get(f"/api/v1/runs/{refresh.pk}/log/").status_code == 404
    assert Api(operator).get(f"/api/v1/runs/{refresh.pk}/").json()["kind"] == "refresh"


def test_run_log_offset_paging(journey):
    request = submitted(journey["requester"], journey["offering"])
    url = f"/api/v1/runs/{request.plan_run_id}/log/"
    api = Api(journey["requester"])
    assert api.get(url).json() == {"status": "queued", "log": "", "next_offset": 0}
    run, _ = run_claim(run_id=request.plan_run_id, worker="w1")
    run_heartbeat(run_id=run.pk, worker="w1", log_chunk="line one\n")
    first = api.get(url).json()
    assert first == {"status": "running", "log": "line one\n", "next_offset": 9}
    run_heartbeat(run_id=run.pk, worker="w1", log_chunk="line two\n")
    second = api.get(f"{url}?offset={first['next_offset']}").json()
    assert second == {"status": "running", "log": "line two\n", "next_offset": 18}
    assert api.get(f"{url}?offset=18").json()["log"] == ""
    assert api.get(f"{url}?offset=500").json() == {"status": "running", "log": "", "next_offset": 18}
    assert api.get(f"{url}?offset=-5").json()["log"] == "line one\nline two\n"
    assert api.get(f"{url}?offset=abc").json()["log"] == "line one\nline two\n"


def test_run_log_is_redacted_as_the_worker_writes_it(journey, tmp_path):
    request = submitted(journey["requester"], journey["offering"])
    run, _ = run_claim(run_id=request.plan_run_id, worker="w1")
    redact = prepare(run, Path(tmp_path)).redact  # exactly what the worker's Terraform client redacts with
    run_heartbeat(run_id=run.pk, worker="w1", log_chunk=redact(f'  + admin_password = "{PASSWORD}"\n'))
    response = Api(journey["requester"]).get(f"/api/v1/runs/{run.pk}/log/")
    assert MASK in response.json()["log"] and PASSWORD not in response.content.decode()


# Approvals inbox -------------------------------------------------------------------------------------------


def test_approvals_matrix(journey, nobody, other_approver):
    request = awaiting(journey["requester"], journey["offering"])
    assert_matrix(
        Matrix(url="/api/v1/approvals/", permitted=journey["approver"], no_permission=nobody,
               other_agency=other_approver, api=True, list_view=True),
        marker=f'"number":"{request.number}"',
    )


def test_approvals_are_exactly_what_awaits_the_callers_stage(journey, agency):
    first_stage = awaiting(journey["requester"], journey["offering"])
    second_stage = awaiting(journey["requester"], journey["offering"])
    svc.request_approve(actor=journey["approver"], request=second_stage)
    submitted(journey["requester"], journey["offering"])
    both = UserFactory(agency=agency, roles=[Role.REQUESTER, Role.AGENCY_APPROVER])
    own = awaiting(both, journey["offering"])
    assert ids(Api(journey["approver"]).get("/api/v1/approvals/")) == {first_stage.pk, own.pk}
    assert ids(Api(both).get("/api/v1/approvals/")) == {first_stage.pk}
    assert ids(Api(journey["owner"]).get("/api/v1/approvals/")) == {second_stage.pk}
    assert ids(Api(journey["requester"]).get("/api/v1/approvals/")) == set()


def test_approvals_drop_a_request_the_caller_has_already_signed(requester, offering):
    make_policy("评审", stages=[{"name": "安全评审", "approver_role": "security_reviewer", "mode": "all"}])
    first, second = (UserFactory(roles=[Role.SECURITY_REVIEWER]) for _ in range(2))
    request = awaiting(requester, offering)
    assert Api(first).post(f"/api/v1/requests/{request.pk}/approve/").status_code == 200
    assert ids(Api(second).get("/api/v1/approvals/")) == {request.pk}
    # The stage stays open for the second reviewer, but the first has nothing left to sign here.
    assert Api(first).post(f"/api/v1/requests/{request.pk}/approve/").status_code == 409
    assert ids(Api(first).get("/api/v1/approvals/")) == set()


# Instances and their day-2 requests ------------------------------------------------------------------------


def test_instance_list_matrix(journey, nobody, other_requester):
    instance = completed(journey).instance
    assert_matrix(
        Matrix(url="/api/v1/instances/", permitted=journey["requester"], no_permission=nobody,
               other_agency=other_requester, api=True, list_view=True),
        marker=f'"id":{instance.pk},"name":"web-01"',
    )


def test_instance_detail_matrix(journey, nobody, other_requester):
    instance = completed(journey).instance
    response = assert_matrix(
        Matrix(url=f"/api/v1/instances/{instance.pk}/", permitted=journey["requester"], no_permission=nobody,
               other_agency=other_requester, api=True),
        marker="10.0.0.5",
    )
    body = response.json()
    assert body["status"] == "active" and body["cloud"] == "edu" and body["agency"] == "省教育厅"
    assert "admin_password" not in body["parameters"] and PASSWORD not in response.content.decode()


@pytest.mark.parametrize(
    ("kind", "body", "status"),
    [
        ("modify", {"parameters": {"flavor": "large"}}, "planning"),
        ("extend", {"lease_months": 6}, "awaiting_approval"),
        ("decommission", {}, "planning"),
    ],
)
def test_instance_requests_matrix(kind, body, status, journey, nobody, other_requester):
    instance = completed(journey).instance
    response = assert_matrix(
        Matrix(url=f"/api/v1/instances/{instance.pk}/requests/", permitted=journey["requester"], no_permission=nobody,
               other_agency=other_requester, api=True, method="post",
               data={"kind": kind, "justification": "调整", **body}, permitted_status=201)
    )
    answer = response.json()
    assert answer["kind"] == kind and answer["status"] == status and answer["instance"] == instance.pk
    assert Request.objects.filter(instance=instance).count() == 2  # the create and this change only
    change = Request.objects.get(pk=answer["id"])
    if kind == "modify":
        assert change.parameters["flavor"] == "large" and change.secret_parameters == {"admin_password": PASSWORD}
        assert answer["has_secret_parameters"] is True and "admin_password" not in answer["parameters"]
    elif kind == "decommission":
        assert change.plan_run.plan_mode == PlanMode.DESTROY
    assert PASSWORD not in response.content.decode()


def test_instance_request_bad_input(journey):
    instance = completed(journey).instance
    api = Api(journey["requester"])
    url = f"/api/v1/instances/{instance.pk}/requests/"
    response = api.post(url, {"kind": "resize"})
    assert response.status_code == 400 and "kind" in response.json()
    response = api.post(url, {"kind": "modify", "parameters": {"flavor": "huge"}})
    assert response.status_code == 400 and response.json()["params"]["errors"] == {"flavor": [FLAVOR_RULE]}
    response = api.post(url, {"kind": "extend", "lease_months": 0})
    assert response.status_code == 400 and "lease_months" in response.json()
    assert Request.objects.filter(instance=instance).count() == 1


def test_instance_request_conflicts_and_forbidden(journey):
    instance = completed(journey).instance
    url = f"/api/v1/instances/{instance.pk}/requests/"
    response = Api(journey["approver"]).post(url, {"kind": "extend"})
    assert response.status_code == 403 and response.json()["detail"] == "您不能代表该单位提交申请。"
    assert Api(journey["requester"]).post(url, {"kind": "extend"}).status_code == 201
    response = Api(journey["requester"]).post(url, {"kind": "decommission"})
    assert response.status_code == 409 and response.json()["code"] == "conflict"
    assert Request.objects.filter(instance=instance).count() == 2


# Token and session sign-in ---------------------------------------------------------------------------------


def test_session_sign_in_reads_and_acts_with_csrf(journey):
    request = awaiting(journey["requester"], journey["offering"])
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(journey["approver"])
    assert browser.get(f"/api/v1/requests/{request.pk}/").status_code == 200
    assert len(browser.get("/api/v1/approvals/").json()["results"]) == 1
    # A session POST without the CSRF token is refused and changes nothing.
    response = browser.post(f"/api/v1/requests/{request.pk}/approve/", "{}", content_type="application/json")
    assert response.status_code == 403
    assert request.approvals.count() == 0
    browser.get("/requests/")  # any page sets the CSRF cookie
    token = browser.cookies["csrftoken"].value
    response = browser.post(
        f"/api/v1/requests/{request.pk}/approve/", "{}", content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 200 and request.approvals.count() == 1


def test_token_sign_in_needs_no_csrf_and_a_bad_token_is_401(journey):
    request = awaiting(journey["requester"], journey["offering"])
    token, _ = Token.objects.get_or_create(user=journey["approver"])
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.post(f"/api/v1/requests/{request.pk}/approve/", "{}", content_type="application/json").status_code == 200
    bad = Client(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert bad.get("/api/v1/requests/").status_code == 401


def test_a_deactivated_user_is_401_with_their_token(journey):
    token, _ = Token.objects.get_or_create(user=journey["requester"])
    journey["requester"].is_active = False
    journey["requester"].save()
    assert Client(HTTP_AUTHORIZATION=f"Token {token.key}").get("/api/v1/requests/").status_code == 401


# No secret in any answer -----------------------------------------------------------------------------------


def test_no_answer_ever_carries_the_admin_password(journey, operator, auditor):
    request = completed(journey)
    instance = request.instance
    change = Api(journey["requester"]).post(
        f"/api/v1/instances/{instance.pk}/requests/", {"kind": "modify", "parameters": {"flavor": "large", "admin_password": ""}}
    ).json()
    urls = [
        "/api/v1/requests/",
        f"/api/v1/requests/{request.pk}/",
        f"/api/v1/requests/{change['id']}/",
        f"/api/v1/requests/{request.pk}/runs/",
        f"/api/v1/requests/{change['id']}/runs/",
        f"/api/v1/runs/{request.plan_run_id}/",
        f"/api/v1/runs/{request.apply_run_id}/",
        f"/api/v1/runs/{change['plan']['id']}/",
        f"/api/v1/runs/{request.plan_run_id}/log/",
        "/api/v1/approvals/",
        "/api/v1/instances/",
        f"/api/v1/instances/{instance.pk}/",
    ]
    for user in (journey["requester"], journey["approver"], journey["owner"], operator, auditor):
        for url in urls:
            response = Api(user).get(url)
            assert PASSWORD not in response.content.decode(), (user.username, url)
            assert "secret" not in response.content.decode().replace("has_secret_parameters", ""), (user.username, url)
    body = Api(journey["requester"]).get(f"/api/v1/requests/{request.pk}/").json()
    assert "admin_password" not in body["parameters"] and body["has_secret_parameters"] is True
    # The run serializer shows no variables at all (the plan's variables hold the secret's siblings).
    run = Api(journey["requester"]).get(f"/api/v1/runs/{request.plan_run_id}/").json()
    assert "variables" not in run and "planfile_token" not in run


def test_stages_still_listed_after_the_request_ends(journey):
    request = awaiting(journey["requester"], journey["offering"])
    Api(journey["approver"]).post(f"/api/v1/requests/{request.pk}/reject/", {"comment": "不需要"})
    body = Api(journey["requester"]).get(f"/api/v1/requests/{request.pk}/").json()
    assert body["status"] == "rejected"
    assert [stage["status"] for stage in body["stages"]] == [StageStatus.REJECTED, StageStatus.WAITING]
    assert body["stages"][0]["approvals"][0]["comment"] == "不需要"
    assert RequestKind.CREATE == body["kind"]
