"""The request journey through its services: every transition, policies, stages, quotas, and the rules
approvers live by."""
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import translation

from portal.choices import Role
from portal.errors import Conflict, DomainError, PermissionDenied
from portal.models import AuditEvent
from portal.permissions import user_can
from provisioning.choices import (
    REQUEST_TRANSITIONS,
    InstanceStatus,
    RequestKind,
    RequestStatus,
    ReservationStatus,
    RunKind,
    RunStatus,
    StageStatus,
)
from provisioning.models import Approval, ApprovalPolicy, Instance, Notification, QuotaLimit, Request, Run
from provisioning.selectors import instance_list_for_user
from provisioning.services import requests as svc
from provisioning.services.quotas import QuotaExceeded
from tests.portal.factories import UserFactory
from tests.provisioning.conftest import PASSWORD, VM, finish_run, make_policy

pytestmark = pytest.mark.django_db


def create(requester, offering, **overrides):
    values = {"actor": requester, "offering": offering, "parameters": dict(VM), "justification": "教学平台"}
    values.update(overrides)
    return svc.request_create(**values)


def submitted(requester, offering, **overrides):
    request = create(requester, offering, **overrides)
    return svc.request_submit(actor=requester, request=request)


def awaiting(requester, offering, **overrides):
    request = submitted(requester, offering, **overrides)
    finish_run(request.plan_run)
    request.refresh_from_db()
    assert request.status == RequestStatus.AWAITING_APPROVAL
    return request


# Create and submit ------------------------------------------------------------------------------------------


def test_create_keeps_secrets_out_of_plain_parameters(journey):
    request = create(journey["requester"], journey["offering"])
    assert request.status == RequestStatus.DRAFT
    assert "admin_password" not in request.parameters
    assert request.secret_parameters == {"admin_password": PASSWORD}
    assert PASSWORD not in request.secret_parameters_token
    # medium = 2 vCPU x 45 + 4 GB x 20 + 140 GB x 0.5 + 30 base
    assert request.monthly_cost == Decimal("270.00")
    assert request.usage == {"vcpu": "2", "memory_gb": "4", "storage_gb": "140", "instances": "1"}


def test_bad_parameter_gets_the_module_message_and_saves_nothing(journey):
    with pytest.raises(svc.ParameterErrors) as error:
        create(journey["requester"], journey["offering"], parameters={**VM, "flavor": "huge"})
    # The module's own error_message, in the user's language (Chinese first).
    assert error.value.errors["flavor"] == ["规格必须是 small、medium、large 或 xlarge 之一。"]
    with translation.override("en"), pytest.raises(svc.ParameterErrors) as error:
        create(journey["requester"], journey["offering"], parameters={**VM, "flavor": "huge"})
    assert error.value.errors["flavor"] == ["The flavor must be one of small, medium, large or xlarge."]
    assert Request.objects.count() == 0


def test_classification_must_be_one_the_cloud_allows(journey):
    with pytest.raises(DomainError) as error:
        create(journey["requester"], journey["offering"], data_classification=4)
    assert error.value.field == "data_classification"
    assert "教育云" in error.value.message and "重要" in error.value.message


def test_only_members_request_for_their_agency(journey, other_requester):
    with pytest.raises(PermissionDenied):
        create(other_requester, journey["offering"], agency=journey["requester"].agency)


def test_disabled_offering_refuses_requests(journey):
    offering = journey["offering"]
    offering.enabled = False
    offering.save()
    with pytest.raises(DomainError):
        create(journey["requester"], offering)


def test_submit_snapshots_the_policy_and_starts_a_plan(journey, no_broker):
    request = submitted(journey["requester"], journey["offering"])
    assert request.status == RequestStatus.PLANNING
    assert [s.name for s in request.stages.order_by("order")] == ["单位审批", "云主管部门审批"]
    plan = request.plan_run
    assert plan.kind == RunKind.PLAN and plan.status == RunStatus.QUEUED
    assert plan.secret_variables == {"admin_password": PASSWORD}
    assert AuditEvent.objects.filter(action="request.planning", object_id=str(request.pk)).exists()


def test_editing_the_policy_never_changes_a_request_in_flight(journey, default_policy):
    request = submitted(journey["requester"], journey["offering"])
    default_policy.stages.all().delete()
    default_policy.stages.create(order=1, name="新环节", approver_role="finance_reviewer")
    assert [s.name for s in request.stages.order_by("order")] == ["单位审批", "云主管部门审批"]


def test_policy_precedence(journey, cloud, agency):
    offering = journey["offering"]
    make_policy("按类别", is_default=False, tier="industry", stages=[{"name": "类别", "approver_role": "cloud_owner"}])
    assert svc.stage_snapshots(create(journey["requester"], offering))[0] == "按类别"
    make_policy("按云", is_default=False, cloud=cloud, stages=[{"name": "云", "approver_role": "cloud_owner"}])
    assert svc.stage_snapshots(create(journey["requester"], offering))[0] == "按云"
    make_policy("按单位和规格", is_default=False, agency=agency, offering=offering,
                stages=[{"name": "专门", "approver_role": "agency_approver"}])
    assert svc.stage_snapshots(create(journey["requester"], offering))[0] == "按单位和规格"


def test_the_request_keeps_the_policy_name_in_both_languages(journey):
    make_policy("按类别", is_default=False, tier="industry", stages=[{"name": "类别", "approver_role": "cloud_owner"}])
    ApprovalPolicy.objects.filter(name="按类别").update(name_en="By tier")
    request = submitted(journey["requester"], journey["offering"])
    ApprovalPolicy.objects.filter(name="按类别").update(name="改名了", name_en="Renamed")
    request.refresh_from_db()
    assert (request.policy_name, request.policy_name_en) == ("按类别", "By tier")


def test_the_builtin_policy_is_named_in_both_languages_whoever_submits(journey):
    ApprovalPolicy.objects.all().delete()
    with translation.override("en"):
        request = submitted(journey["requester"], journey["offering"])
    request.refresh_from_db()
    assert (request.policy_name, request.policy_name_en) == ("内置默认审批", "Built-in default approval")


def test_quota_refused_at_submit_names_dimension_limit_used_reserved_requested(journey, quota):
    limit = quota("vcpu", 3)
    QuotaLimit.objects.filter(pk=limit.pk).update(used=1, reserved=1)
    request = create(journey["requester"], journey["offering"])
    with pytest.raises(QuotaExceeded) as error:
        svc.request_submit(actor=journey["requester"], request=request)
    message = error.value.message
    for text in ("vCPU", "3", "已使用 1", "已预留 1", "本次申请 2"):
        assert text in message, text
    request.refresh_from_db()
    assert request.status == RequestStatus.DRAFT


# Planning and approval --------------------------------------------------------------------------------------


def test_plan_ready_opens_the_first_stage_for_its_group_only(journey, other_agency):
    request = awaiting(journey["requester"], journey["offering"])
    first = request.stages.get(order=1)
    assert first.status == StageStatus.OPEN and first.eligible_count == 1
    assert user_can(journey["approver"], "provisioning.approve_request", request)
    assert not user_can(journey["owner"], "provisioning.approve_request", request)
    other_approver = UserFactory(agency=other_agency, roles=[Role.AGENCY_APPROVER])
    assert not user_can(other_approver, "provisioning.approve_request", request)
    assert Notification.objects.filter(recipient=journey["approver"], request=request).exists()


def test_two_stages_then_apply_then_instance(journey, no_broker):
    request = awaiting(journey["requester"], journey["offering"])
    svc.request_approve(actor=journey["approver"], request=request, comment="同意")
    request.refresh_from_db()
    assert request.status == RequestStatus.AWAITING_APPROVAL
    # The first stage's group loses the right to sign once its stage is done.
    assert not user_can(journey["approver"], "provisioning.approve_request", request)
    assert user_can(journey["owner"], "provisioning.approve_request", request)
    svc.request_approve(actor=journey["owner"], request=request)
    request.refresh_from_db()
    assert request.status == RequestStatus.APPLYING
    assert request.approved_plan_sha256 == "a" * 64
    apply = request.apply_run
    assert apply.kind == RunKind.APPLY and apply.source_plan_id == request.plan_run_id
    finish_run(apply)
    request.refresh_from_db()
    assert request.status == RequestStatus.COMPLETED
    instance = request.instance
    assert instance.status == InstanceStatus.ACTIVE and instance.outputs == {"private_ip": "10.0.0.5"}
    assert instance.monthly_cost == Decimal("270.00") and instance.lease_end is not None
    assert instance_list_for_user(journey["requester"]).filter(pk=instance.pk).exists()


def test_nobody_approves_their_own_request(journey, agency):
    both = UserFactory(agency=agency, roles=[Role.REQUESTER, Role.AGENCY_APPROVER])
    request = awaiting(both, journey["offering"])
    with pytest.raises(PermissionDenied):
        svc.request_approve(actor=both, request=request)


def test_one_person_signs_at_most_one_stage(journey, cloud):
    journey["owner"].groups.add(*journey["approver"].groups.all())
    request = awaiting(journey["requester"], journey["offering"])
    svc.request_approve(actor=journey["owner"], request=request)  # signs stage 1 as agency approver
    request.refresh_from_db()
    with pytest.raises(Conflict):
        svc.request_approve(actor=journey["owner"], request=request)  # stage 2 needs somebody else
    assert Approval.objects.filter(request=request).count() == 1


def test_rejection_needs_a_comment_and_ends_the_request(journey):
    request = awaiting(journey["requester"], journey["offering"])
    with pytest.raises(DomainError) as error:
        svc.request_reject(actor=journey["approver"], request=request, comment="  ")
    assert error.value.field == "comment"
    svc.request_reject(actor=journey["approver"], request=request, comment="预算不足")
    request.refresh_from_db()
    assert request.status == RequestStatus.REJECTED
    assert Notification.objects.filter(recipient=journey["requester"], subject__contains="驳回").exists()


def test_wrong_person_cannot_sign(journey, finance_reviewer):
    request = awaiting(journey["requester"], journey["offering"])
    with pytest.raises(PermissionDenied):
        svc.request_approve(actor=finance_reviewer, request=request)


@pytest.mark.parametrize(
    ("mode", "required", "signers_needed"),
    [("any", 1, 1), ("all", 1, 3), ("m_of_n", 2, 2)],
)
def test_stage_modes(mode, required, signers_needed, requester, offering, cloud):
    make_policy("评审", stages=[{"name": "安全评审", "approver_role": "security_reviewer", "mode": mode,
                                "required_approvals": required}])
    reviewers = [UserFactory(roles=[Role.SECURITY_REVIEWER]) for _ in range(3)]
    request = awaiting(requester, offering)
    for count, reviewer in enumerate(reviewers, start=1):
        svc.request_approve(actor=reviewer, request=request)
        request.refresh_from_db()
        if count < signers_needed:
            assert request.status == RequestStatus.AWAITING_APPROVAL, count
        else:
            assert request.status == RequestStatus.APPLYING
            break


def test_conditions_skip_stages_that_do_not_apply(requester, offering, agency_approver):
    make_policy("条件", stages=[
        {"name": "单位", "approver_role": "agency_approver"},
        {"name": "财务", "approver_role": "finance_reviewer", "condition": "cost_at_least", "condition_value": "10000"},
        {"name": "安全", "approver_role": "security_reviewer", "condition": "classification_at_least", "condition_value": "3"},
    ])
    request = awaiting(requester, offering, data_classification=2)
    svc.request_approve(actor=agency_approver, request=request)
    request.refresh_from_db()
    assert request.status == RequestStatus.APPLYING
    assert [s.status for s in request.stages.order_by("order")] == ["approved", "skipped", "skipped"]


def test_replan_with_a_new_hash_resets_the_approvals(journey):
    request = awaiting(journey["requester"], journey["offering"])
    svc.request_approve(actor=journey["approver"], request=request)
    request.refresh_from_db()
    svc.request_replan(actor=journey["owner"], request=request)
    request.refresh_from_db()
    assert request.status == RequestStatus.PLANNING
    finish_run(request.plan_run, sha="b" * 64)
    request.refresh_from_db()
    assert request.status == RequestStatus.AWAITING_APPROVAL
    assert request.approvals.filter(invalidated_at__isnull=True).count() == 0
    assert request.stages.get(order=1).status == StageStatus.OPEN
    assert AuditEvent.objects.filter(action="request.approvals_reset", object_id=str(request.pk)).exists()


def test_illegal_moves_are_conflicts(journey):
    request = awaiting(journey["requester"], journey["offering"])
    with pytest.raises(Conflict):
        svc.request_submit(actor=journey["requester"], request=request)
    with pytest.raises(Conflict):
        svc.request_retry(actor=journey["requester"], request=request)
    svc.request_cancel(actor=journey["requester"], request=request)
    request.refresh_from_db()
    with pytest.raises(Conflict):
        svc.request_approve(actor=journey["approver"], request=request)
    with pytest.raises(Conflict):
        svc.request_move(request, RequestStatus.COMPLETED, actor=None)


ALL_MOVES = [(before, after) for before in RequestStatus.values for after in RequestStatus.values]


@pytest.mark.parametrize(("before", "after"), ALL_MOVES, ids=[f"{b}->{a}" for b, a in ALL_MOVES])
def test_the_transition_table_is_the_only_way_to_move(journey, before, after):
    """Every ordered pair of statuses: a move in the table happens with its event row, in one
    transaction; any other move is a Conflict that changes nothing and records nothing."""
    request = create(journey["requester"], journey["offering"])
    Request.objects.filter(pk=request.pk).update(status=before)
    request.refresh_from_db()
    events = AuditEvent.objects.filter(object_id=str(request.pk), action=f"request.{after}")
    if after in REQUEST_TRANSITIONS[before]:
        svc.request_move(request, after, actor=journey["requester"])
        assert Request.objects.get(pk=request.pk).status == after
        assert [event.details["from"] for event in events] == [before]
    else:
        with pytest.raises(Conflict) as error:
            svc.request_move(request, after, actor=journey["requester"])
        assert request.number in error.value.message
        assert Request.objects.get(pk=request.pk).status == before
        assert not events.exists()


def test_a_move_from_a_stale_status_loses_the_race(journey):
    request = create(journey["requester"], journey["offering"])
    stale = Request.objects.get(pk=request.pk)
    svc.request_move(request, RequestStatus.CANCELLED, actor=journey["requester"])
    with pytest.raises(Conflict):
        svc.request_move(stale, RequestStatus.SUBMITTED, actor=journey["requester"])  # legal from draft, but too late
    assert Request.objects.get(pk=request.pk).status == RequestStatus.CANCELLED
    assert not AuditEvent.objects.filter(object_id=str(request.pk), action="request.submitted").exists()


def test_cancel_is_for_the_requester(journey):
    request = submitted(journey["requester"], journey["offering"])
    with pytest.raises(PermissionDenied):
        svc.request_cancel(actor=journey["approver"], request=request)
    svc.request_cancel(actor=journey["requester"], request=request)
    request.refresh_from_db()
    assert request.status == RequestStatus.CANCELLED
    assert Run.objects.get(pk=request.plan_run_id).status == RunStatus.CANCELLED


# Quotas -----------------------------------------------------------------------------------------------------


def approve_all(request, journey):
    svc.request_approve(actor=journey["approver"], request=request)
    request.refresh_from_db()
    svc.request_approve(actor=journey["owner"], request=request)
    request.refresh_from_db()
    return request


def test_final_approval_reserves_apply_consumes(journey, quota):
    vcpu = quota("vcpu", 10)
    request = approve_all(awaiting(journey["requester"], journey["offering"]), journey)
    vcpu.refresh_from_db()
    assert (vcpu.reserved, vcpu.used) == (Decimal(2), Decimal(0))
    finish_run(request.apply_run)
    vcpu.refresh_from_db()
    assert (vcpu.reserved, vcpu.used) == (Decimal(0), Decimal(2))
    assert request.reservations.get().status == ReservationStatus.CONSUMED


def test_failure_releases_and_retry_goes_back_to_the_last_stage(journey, quota):
    vcpu = quota("vcpu", 10)
    request = approve_all(awaiting(journey["requester"], journey["offering"]), journey)
    finish_run(request.apply_run, RunStatus.FAILED, error="Error: quota exceeded in the cloud")
    request.refresh_from_db()
    vcpu.refresh_from_db()
    assert request.status == RequestStatus.FAILED and "quota exceeded" in request.error
    assert vcpu.reserved == 0 and vcpu.used == 0
    svc.request_retry(actor=journey["requester"], request=request)
    request.refresh_from_db()
    finish_run(request.plan_run, sha="c" * 64)
    request.refresh_from_db()
    stages = {s.order: s.status for s in request.stages.all()}
    assert stages == {1: StageStatus.APPROVED, 2: StageStatus.OPEN}
    svc.request_approve(actor=journey["owner"], request=request)
    request.refresh_from_db()
    assert request.status == RequestStatus.APPLYING


def test_over_quota_at_final_approval_is_refused_and_nothing_moves(journey, quota):
    vcpu = quota("vcpu", 2)
    request = awaiting(journey["requester"], journey["offering"])
    QuotaLimit.objects.filter(pk=vcpu.pk).update(used=1)  # somebody else's apply landed meanwhile
    svc.request_approve(actor=journey["approver"], request=request)
    request.refresh_from_db()
    with pytest.raises(QuotaExceeded):
        svc.request_approve(actor=journey["owner"], request=request)
    request.refresh_from_db()
    vcpu.refresh_from_db()
    assert request.status == RequestStatus.AWAITING_APPROVAL and vcpu.reserved == 0
    assert request.approvals.filter(approver=journey["owner"]).count() == 0


def test_decommission_destroys_and_gives_quota_back(journey, quota):
    vcpu = quota("vcpu", 10)
    request = approve_all(awaiting(journey["requester"], journey["offering"]), journey)
    finish_run(request.apply_run)
    instance = Instance.objects.get()
    down = svc.request_create_day2(actor=journey["requester"], instance=instance, kind=RequestKind.DECOMMISSION)
    svc.request_submit(actor=journey["requester"], request=down)
    down.refresh_from_db()
    assert down.plan_run.plan_mode == "destroy"
    finish_run(down.plan_run, sha="d" * 64)
    down.refresh_from_db()
    down = approve_all(down, journey)
    assert down.apply_run.kind == RunKind.DESTROY
    finish_run(down.apply_run)
    instance.refresh_from_db()
    vcpu.refresh_from_db()
    assert instance.status == InstanceStatus.DESTROYED and vcpu.used == 0


def test_extend_needs_no_plan(journey):
    request = approve_all(awaiting(journey["requester"], journey["offering"]), journey)
    finish_run(request.apply_run)
    instance = Instance.objects.get()
    before = instance.lease_end
    extend = svc.request_create_day2(actor=journey["requester"], instance=instance, kind=RequestKind.EXTEND, lease_months=6)
    svc.request_submit(actor=journey["requester"], request=extend)
    extend.refresh_from_db()
    assert extend.status == RequestStatus.AWAITING_APPROVAL and extend.plan_run is None
    approve_all(extend, journey)
    extend.refresh_from_db()
    instance.refresh_from_db()
    assert extend.status == RequestStatus.COMPLETED and instance.lease_end > before


def test_modify_keeps_the_secret_and_reserves_only_the_growth(journey, quota):
    vcpu = quota("vcpu", 10)
    request = approve_all(awaiting(journey["requester"], journey["offering"]), journey)
    finish_run(request.apply_run)
    instance = Instance.objects.get()
    change = svc.request_create_day2(
        actor=journey["requester"], instance=instance, kind=RequestKind.MODIFY, parameters={"flavor": "large", "admin_password": ""}
    )
    assert change.secret_parameters == {"admin_password": PASSWORD}
    svc.request_submit(actor=journey["requester"], request=change)
    change.refresh_from_db()
    finish_run(change.plan_run, sha="e" * 64)
    change.refresh_from_db()
    approve_all(change, journey)
    vcpu.refresh_from_db()
    assert vcpu.reserved == Decimal(2)  # large (4) minus medium (2)
    change.refresh_from_db()
    finish_run(change.apply_run)
    vcpu.refresh_from_db()
    instance.refresh_from_db()
    assert vcpu.used == Decimal(4) and instance.parameters["flavor"] == "large"


def test_sla_reminder_goes_once_per_period(journey):
    from datetime import timedelta

    from django.utils import timezone

    request = awaiting(journey["requester"], journey["offering"])
    stage = request.stages.get(order=1)
    type(stage).objects.filter(pk=stage.pk).update(opened_at=timezone.now() - timedelta(hours=25))
    assert svc.request_remind_overdue() == 1
    assert svc.request_remind_overdue() == 0
    assert Notification.objects.filter(recipient=journey["approver"], subject__contains="超时").count() == 1


def test_a_rolled_back_submit_enqueues_nothing(journey, no_broker, django_capture_on_commit_callbacks):
    request = create(journey["requester"], journey["offering"])
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            svc.request_submit(actor=journey["requester"], request=request)
            raise RuntimeError("fails after submit")
    assert not no_broker["runs"].called
    request.refresh_from_db()
    assert request.status == RequestStatus.DRAFT and Run.objects.count() == 0
