"""Runs that lost their worker, closed by an operator after a reconciliation refresh; and drift checks.

A lost apply here is an apply claimed by a worker ("w") that the janitor then gives up on
(provisioning.outcomes.run_lost). The refresh that follows is finished the way the worker records a refresh: what the
state holds (resources, outputs), the state version it read, and the drift it found.
"""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from portal.errors import Conflict, DomainError, PermissionDenied
from portal.models import AuditEvent
from provisioning.choices import (
    DriftStatus,
    InstanceStatus,
    PlanMode,
    RequestKind,
    RequestStatus,
    ReservationStatus,
    RunKind,
    RunStatus,
)
from provisioning.models import Instance, Notification, Request, Run
from provisioning.outcomes import run_lost
from provisioning.services import requests as svc
from provisioning.services.reconcile import (
    drift_sweep,
    instance_drift_check,
    reconciliation_of,
    run_recheck,
    run_reconcile,
    runs_awaiting_reconciliation,
)
from provisioning.services.runs import run_claim
from tests.provisioning.conftest import finish_run
from tests.provisioning.test_requests import approve_all, awaiting

pytestmark = pytest.mark.django_db

# What finish_run's plan creates (conftest.finish_run), and what a state that holds it looks like.
PLANNED = "module.main.pcloud_instance.this"
HELD = [{"address": PLANNED, "type": "pcloud_instance", "id": "i-reconciled"}]
OUTPUTS = {"private_ip": "10.0.0.9"}
# An entry of a plan that changes the instance, or of a refresh that found it changed outside Terraform.
UPDATE = [{"address": PLANNED, "type": "pcloud_instance", "name": "this", "action": "update",
           "changes": [{"attribute": "instance_type", "before": "t3.medium", "after": "t3.large"}]}]
DRIFT = UPDATE


@pytest.fixture
def journey(requester, agency_approver, cloud_owner, offering, default_policy, operator):
    return {"requester": requester, "approver": agency_approver, "owner": cloud_owner, "offering": offering,
            "operator": operator}


def applying(journey) -> Request:
    return approve_all(awaiting(journey["requester"], journey["offering"]), journey)


def lose(apply: Run) -> tuple[Run, Run]:
    """A worker claims the apply and dies; the janitor gives its verdict."""
    claimed, why = run_claim(run_id=apply.pk, worker="w")
    assert claimed is not None, why
    refresh = run_lost(claimed)
    apply.refresh_from_db()
    return apply, refresh


def lost(journey) -> tuple[Request, Run, Run]:
    request = applying(journey)
    apply, refresh = lose(request.apply_run)
    return request, apply, refresh


def refreshed(refresh: Run, *, serial=4, lineage="lineage-after", resources=HELD, outputs=OUTPUTS, drift=(),
              has_changes=None) -> Run:
    """The reconciliation refresh as the worker records it: the state's version and contents, and the drift."""
    return finish_run(
        refresh,
        state_serial_before=serial, state_lineage_before=lineage, resources=list(resources), outputs=dict(outputs),
        plan_summary=list(drift), has_changes=bool(drift) if has_changes is None else has_changes,
    )


def completed_instance(journey) -> Instance:
    request = applying(journey)
    finish_run(request.apply_run, state_serial_after=1)
    request.refresh_from_db()
    assert request.status == RequestStatus.COMPLETED
    return request.instance


def modifying(journey, instance: Instance) -> Request:
    change = svc.request_create_day2(
        actor=journey["requester"], instance=instance, kind=RequestKind.MODIFY,
        parameters={"flavor": "large", "admin_password": ""},
    )
    svc.request_submit(actor=journey["requester"], request=change)
    change.refresh_from_db()
    finish_run(change.plan_run, sha="e" * 64, state_serial_before=1, state_lineage_before="lineage-1",
               plan_summary=list(UPDATE))
    change.refresh_from_db()
    return approve_all(change, journey)


# The janitor's verdict ----------------------------------------------------------------------------------------


def test_lost_apply_needs_reconciliation_and_a_refresh_that_may_break_the_lock(
    journey, no_broker, django_capture_on_commit_callbacks
):
    request = applying(journey)
    claimed, _why = run_claim(run_id=request.apply_run_id, worker="w")
    with django_capture_on_commit_callbacks(execute=True):
        refresh = run_lost(claimed)
    apply = Run.objects.get(pk=request.apply_run_id)
    assert apply.status == RunStatus.NEEDS_RECONCILIATION and apply.finished_at is not None
    assert "失联" in apply.error
    refresh.refresh_from_db()
    assert refresh.kind == RunKind.REFRESH and refresh.plan_mode == PlanMode.REFRESH_ONLY
    assert refresh.reconciles_id == apply.pk and refresh.release_stale_lock
    assert refresh.request_id == request.pk and refresh.workspace_id == apply.workspace_id
    assert refresh.status == RunStatus.QUEUED and refresh.woken_at is not None
    assert any(call.args[0] == (refresh.pk,) for call in no_broker["runs"].call_args_list)
    queued = AuditEvent.objects.get(action="run.queued", object_id=str(refresh.pk))
    assert queued.actor_username == "janitor" and queued.details["reconciles"] == apply.pk
    assert AuditEvent.objects.filter(action="run.needs_reconciliation", object_id=str(apply.pk)).exists()
    # The request waits for the operator; nothing is applied again.
    request.refresh_from_db()
    assert request.status == RequestStatus.APPLYING
    assert not Run.objects.filter(kind=RunKind.APPLY, status__in=RunStatus.active()).exists()
    assert list(runs_awaiting_reconciliation()) == [apply]
    note = Notification.objects.get(recipient=journey["operator"], request=request)
    assert str(apply.pk) in note.body
    assert not Notification.objects.filter(recipient=journey["requester"], subject__contains="失联").exists()


def test_a_lost_change_flags_its_instance(journey):
    instance = completed_instance(journey)
    change = modifying(journey, instance)
    instance.refresh_from_db()
    assert instance.status == InstanceStatus.CHANGING
    apply, refresh = lose(change.apply_run)
    instance.refresh_from_db()
    assert apply.status == RunStatus.NEEDS_RECONCILIATION
    assert instance.status == InstanceStatus.NEEDS_RECONCILIATION
    assert refresh.reconciles_id == apply.pk and refresh.request_id == change.pk


def test_a_lost_plan_goes_back_to_the_queue_without_a_reconciliation(journey):
    request = awaiting(journey["requester"], journey["offering"])
    svc.request_replan(actor=journey["requester"], request=request)
    request.refresh_from_db()
    claimed, _why = run_claim(run_id=request.plan_run_id, worker="w")
    assert not claimed.release_stale_lock
    assert run_lost(claimed) is None
    again = Run.objects.get(pk=request.plan_run_id)
    assert again.status == RunStatus.QUEUED
    # The dead plan's Terraform held the state lock when it died: the next attempt may break it, or every
    # attempt after it (and every retry of the request) would fail on that lock.
    assert again.release_stale_lock
    assert not Run.objects.filter(kind=RunKind.REFRESH).exists()


# Closing as failed --------------------------------------------------------------------------------------------


def test_closing_as_failed_fails_the_request_releases_quota_and_allows_a_retry(journey, quota):
    vcpu = quota("vcpu", 10)
    request, apply, refresh = lost(journey)
    vcpu.refresh_from_db()
    assert vcpu.reserved == Decimal(2)
    refreshed(refresh, serial=None, lineage="", resources=[], outputs={})

    run = run_reconcile(actor=journey["operator"], run=apply, outcome="failed", note="  状态为空，云上留下了一台主机  ")

    apply.refresh_from_db()
    assert run.status == apply.status == RunStatus.FAILED
    assert "失联" in apply.error and "状态为空，云上留下了一台主机" in apply.error
    request.refresh_from_db()
    vcpu.refresh_from_db()
    assert request.status == RequestStatus.FAILED
    assert (vcpu.reserved, vcpu.used) == (Decimal(0), Decimal(0))
    assert request.reservations.get().status == ReservationStatus.RELEASED
    assert Notification.objects.filter(recipient=journey["requester"], request=request, subject__contains="失败").exists()
    event = AuditEvent.objects.get(action="run.reconciled", object_id=str(apply.pk))
    assert event.details == {"outcome": "failed", "note": "状态为空，云上留下了一台主机", "refresh": refresh.pk}
    assert event.actor == journey["operator"]
    assert not runs_awaiting_reconciliation().exists()
    assert not Instance.objects.exists()

    svc.request_retry(actor=journey["requester"], request=request)
    request.refresh_from_db()
    assert request.status == RequestStatus.PLANNING
    plan = request.plan_run
    assert plan.kind == RunKind.PLAN and plan.status == RunStatus.QUEUED
    assert plan.workspace_id == apply.workspace_id  # the retry plans where the lost apply left its objects


def test_closing_a_lost_change_as_failed_makes_its_instance_active_again(journey):
    instance = completed_instance(journey)
    change = modifying(journey, instance)
    apply, refresh = lose(change.apply_run)
    refreshed(refresh, serial=1, lineage="lineage-1")
    run_reconcile(actor=journey["operator"], run=apply, outcome="failed", note="变更未写入状态")
    instance.refresh_from_db()
    change.refresh_from_db()
    assert instance.status == InstanceStatus.ACTIVE
    assert instance.parameters["flavor"] == "medium"  # the change did not happen
    assert change.status == RequestStatus.FAILED


def test_failed_needs_a_finished_refresh_too(journey):
    _request, apply, refresh = lost(journey)
    with pytest.raises(Conflict) as error:
        run_reconcile(actor=journey["operator"], run=apply, outcome="failed", note="看过了")
    assert "核对刷新尚未成功完成" in error.value.message
    finish_run(refresh, RunStatus.FAILED, error="Error acquiring the state lock")
    with pytest.raises(Conflict):
        run_reconcile(actor=journey["operator"], run=apply, outcome="failed", note="看过了")
    assert Run.objects.get(pk=apply.pk).status == RunStatus.NEEDS_RECONCILIATION


# Closing as succeeded -----------------------------------------------------------------------------------------


def test_closing_as_succeeded_completes_the_request_with_what_the_state_holds(journey, quota):
    vcpu = quota("vcpu", 10)
    request, apply, refresh = lost(journey)
    refreshed(refresh, serial=4, lineage="lineage-after")
    check = reconciliation_of(apply)
    assert check.ready and check.state_moved and check.undone == [] and check.why_not_succeeded == ""

    run = run_reconcile(actor=journey["operator"], run=apply, outcome="succeeded", note="状态里有主机，云上一致")

    apply.refresh_from_db()
    assert run.status == apply.status == RunStatus.SUCCEEDED
    assert apply.resources == HELD and apply.outputs == OUTPUTS and apply.state_serial_after == 4
    request.refresh_from_db()
    vcpu.refresh_from_db()
    assert request.status == RequestStatus.COMPLETED
    instance = request.instance
    assert instance.status == InstanceStatus.ACTIVE
    assert instance.outputs == OUTPUTS and instance.resources == HELD
    assert instance.workspace_id == apply.workspace_id
    assert (vcpu.reserved, vcpu.used) == (Decimal(0), Decimal(2))
    assert request.reservations.get().status == ReservationStatus.CONSUMED
    event = AuditEvent.objects.get(action="run.reconciled", object_id=str(apply.pk))
    assert event.details["outcome"] == "succeeded" and event.details["refresh"] == refresh.pk
    assert Notification.objects.filter(recipient=journey["requester"], subject__contains="已完成").exists()


def test_closing_a_lost_change_as_succeeded_updates_the_instance(journey):
    instance = completed_instance(journey)
    change = modifying(journey, instance)
    apply, refresh = lose(change.apply_run)
    refreshed(refresh, serial=2, lineage="lineage-1")
    run_reconcile(actor=journey["operator"], run=apply, outcome="succeeded", note="变更已写入状态")
    instance.refresh_from_db()
    assert instance.status == InstanceStatus.ACTIVE and instance.parameters["flavor"] == "large"
    assert instance.outputs == OUTPUTS


@pytest.mark.parametrize("refresh_status", ["queued", "running", "failed"])
def test_succeeded_is_refused_until_the_refresh_succeeded(journey, refresh_status):
    _request, apply, refresh = lost(journey)
    if refresh_status == "running":
        run_claim(run_id=refresh.pk, worker="w2")
    elif refresh_status == "failed":
        finish_run(refresh, RunStatus.FAILED, error="Error: timeout")
    with pytest.raises(Conflict) as error:
        run_reconcile(actor=journey["operator"], run=apply, outcome="succeeded", note="看过了")
    assert "核对刷新尚未成功完成" in error.value.message
    assert Run.objects.get(pk=apply.pk).status == RunStatus.NEEDS_RECONCILIATION


def test_succeeded_is_refused_when_the_state_has_not_moved_since_the_plan(journey):
    request, apply, refresh = lost(journey)
    plan = request.plan_run
    # The plan was made from an empty workspace; the lost apply never wrote state, though the resource
    # entries (read from elsewhere) would match.
    refreshed(refresh, serial=plan.state_serial_before, lineage=plan.state_lineage_before)
    check = reconciliation_of(apply)
    assert check.ready and not check.state_moved
    with pytest.raises(Conflict) as error:
        run_reconcile(actor=journey["operator"], run=apply, outcome="succeeded", note="看过了")
    assert "状态自计划生成以来没有变化" in error.value.message
    request.refresh_from_db()
    assert request.status == RequestStatus.APPLYING and not Instance.objects.exists()


def test_succeeded_is_refused_when_a_planned_create_is_not_in_the_state(journey):
    request, apply, refresh = lost(journey)
    other = [{"address": "module.main.pcloud_volume.data[0]", "type": "pcloud_volume", "id": "vol-1"}]
    refreshed(refresh, resources=other)
    assert reconciliation_of(apply).undone == [(PLANNED, "create")]
    with pytest.raises(Conflict) as error:
        run_reconcile(actor=journey["operator"], run=apply, outcome="succeeded", note="看过了")
    assert PLANNED in error.value.message and "create" in error.value.message
    assert error.value.params["undone"] == [(PLANNED, "create")]
    assert Run.objects.get(pk=apply.pk).status == RunStatus.NEEDS_RECONCILIATION
    request.refresh_from_db()
    assert request.status == RequestStatus.APPLYING


def test_succeeded_is_refused_when_a_planned_delete_is_still_in_the_state(journey):
    request, apply, refresh = lost(journey)
    Run.objects.filter(pk=request.plan_run_id).update(plan_summary=[
        {"address": PLANNED, "type": "pcloud_instance", "name": "this", "action": "delete", "changes": []},
    ])
    refreshed(refresh)  # the state still holds it
    assert reconciliation_of(apply).undone == [(PLANNED, "delete")]
    with pytest.raises(Conflict) as error:
        run_reconcile(actor=journey["operator"], run=apply, outcome="succeeded", note="看过了")
    assert PLANNED in error.value.message and "delete" in error.value.message


def test_succeeded_is_refused_when_the_refresh_found_drift(journey):
    request, apply, refresh = lost(journey)
    refreshed(refresh, drift=DRIFT)
    check = reconciliation_of(apply)
    assert check.state_moved and check.undone == [] and not check.cloud_matches_state
    with pytest.raises(Conflict) as error:
        run_reconcile(actor=journey["operator"], run=apply, outcome="succeeded", note="看过了")
    assert "云上资源与状态不一致" in error.value.message
    request.refresh_from_db()
    assert request.status == RequestStatus.APPLYING
    # Failed is still open to the operator.
    run_reconcile(actor=journey["operator"], run=apply, outcome="failed", note="云上被改过")
    request.refresh_from_db()
    assert request.status == RequestStatus.FAILED


def test_output_changes_alone_are_not_drift(journey):
    """A refresh-only plan exits 2 when only the root outputs differ from the state (for instance a state a
    destroy emptied, or no state yet): that is no drift of the cloud, and the refresh lists none."""
    _request, apply, refresh = lost(journey)
    refreshed(refresh, has_changes=True)
    check = reconciliation_of(apply)
    assert check.cloud_matches_state and check.why_not_succeeded == ""
    run_reconcile(actor=journey["operator"], run=apply, outcome="succeeded", note="状态完整")
    assert Run.objects.get(pk=apply.pk).status == RunStatus.SUCCEEDED


def test_a_lost_destroy_that_finished_closes_as_succeeded(journey, quota):
    vcpu = quota("vcpu", 10)
    instance = completed_instance(journey)
    down = svc.request_create_day2(actor=journey["requester"], instance=instance, kind=RequestKind.DECOMMISSION)
    svc.request_submit(actor=journey["requester"], request=down)
    down.refresh_from_db()
    finish_run(down.plan_run, sha="d" * 64, state_serial_before=1, state_lineage_before="lineage-1",
               plan_summary=[{"address": PLANNED, "type": "pcloud_instance", "name": "this", "action": "delete",
                              "changes": []}])
    down.refresh_from_db()
    down = approve_all(down, journey)
    apply, refresh = lose(down.apply_run)
    assert apply.kind == RunKind.DESTROY
    # The destroy emptied the state (its outputs too), so the refresh-only plan reports output changes.
    refreshed(refresh, serial=2, lineage="lineage-1", resources=[], outputs={}, has_changes=True)
    run_reconcile(actor=journey["operator"], run=apply, outcome="succeeded", note="状态已空，云上无主机")
    instance.refresh_from_db()
    vcpu.refresh_from_db()
    down.refresh_from_db()
    assert down.status == RequestStatus.COMPLETED
    assert instance.status == InstanceStatus.DESTROYED and vcpu.used == 0


# Who, what and when -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("note", ["", "   ", None])
def test_a_note_is_required(journey, note):
    _request, apply, refresh = lost(journey)
    refreshed(refresh)
    with pytest.raises(DomainError) as error:
        run_reconcile(actor=journey["operator"], run=apply, outcome="failed", note=note)
    assert error.value.field == "note"
    assert Run.objects.get(pk=apply.pk).status == RunStatus.NEEDS_RECONCILIATION


def test_a_note_has_a_limit(journey):
    _request, apply, refresh = lost(journey)
    refreshed(refresh)
    with pytest.raises(DomainError) as error:
        run_reconcile(actor=journey["operator"], run=apply, outcome="failed", note="长" * 2001)
    assert error.value.field == "note"
    run_reconcile(actor=journey["operator"], run=apply, outcome="failed", note="长" * 2000)
    event = AuditEvent.objects.get(action="run.reconciled", object_id=str(apply.pk))
    assert event.details["note"] == "长" * 500


@pytest.mark.parametrize("outcome", ["", "cancelled", "SUCCEEDED", None])
def test_an_outcome_must_be_one_of_the_two(journey, outcome):
    _request, apply, refresh = lost(journey)
    refreshed(refresh)
    with pytest.raises(DomainError) as error:
        run_reconcile(actor=journey["operator"], run=apply, outcome=outcome, note="看过了")
    assert error.value.field == "outcome"
    assert Run.objects.get(pk=apply.pk).status == RunStatus.NEEDS_RECONCILIATION


@pytest.mark.parametrize("who", ["requester", "approver", "owner"])
def test_only_operators_close_or_recheck(journey, who, quota):
    vcpu = quota("vcpu", 10)
    request, apply, refresh = lost(journey)
    refreshed(refresh)
    events = AuditEvent.objects.count()
    for attempt in (
        lambda: run_reconcile(actor=journey[who], run=apply, outcome="succeeded", note="我来处置"),
        lambda: run_reconcile(actor=journey[who], run=apply, outcome="failed", note="我来处置"),
        lambda: run_recheck(actor=journey[who], run=apply),
    ):
        with pytest.raises(PermissionDenied):
            attempt()
    apply.refresh_from_db()
    request.refresh_from_db()
    vcpu.refresh_from_db()
    assert apply.status == RunStatus.NEEDS_RECONCILIATION
    assert request.status == RequestStatus.APPLYING and vcpu.reserved == Decimal(2)
    assert Run.objects.filter(kind=RunKind.REFRESH).count() == 1
    assert AuditEvent.objects.count() == events


def test_only_a_run_awaiting_reconciliation_is_closed(journey):
    request = applying(journey)
    apply = request.apply_run
    with pytest.raises(Conflict):
        run_reconcile(actor=journey["operator"], run=apply, outcome="failed", note="看过了")  # queued
    finish_run(apply)
    apply.refresh_from_db()
    with pytest.raises(Conflict) as error:
        run_reconcile(actor=journey["operator"], run=apply, outcome="failed", note="看过了")
    assert str(apply.pk) in error.value.message
    with pytest.raises(Conflict):
        run_recheck(actor=journey["operator"], run=apply)
    assert Run.objects.get(pk=apply.pk).status == RunStatus.SUCCEEDED


def test_a_run_is_closed_once(journey):
    _request, apply, refresh = lost(journey)
    refreshed(refresh)
    stale = Run.objects.get(pk=apply.pk)
    run_reconcile(actor=journey["operator"], run=apply, outcome="failed", note="第一次")
    with pytest.raises(Conflict):
        run_reconcile(actor=journey["operator"], run=stale, outcome="succeeded", note="第二次")
    assert Run.objects.get(pk=apply.pk).status == RunStatus.FAILED
    assert AuditEvent.objects.filter(action="run.reconciled", object_id=str(apply.pk)).count() == 1


# Re-checking --------------------------------------------------------------------------------------------------


def test_recheck_waits_for_the_refresh_then_queues_a_new_one(journey, no_broker, django_capture_on_commit_callbacks):
    _request, apply, first = lost(journey)
    with pytest.raises(Conflict):
        run_recheck(actor=journey["operator"], run=apply)  # queued
    claimed, _why = run_claim(run_id=first.pk, worker="w2")
    with pytest.raises(Conflict):
        run_recheck(actor=journey["operator"], run=apply)  # running
    assert run_lost(claimed) is None  # its worker died too: the janitor queues it again
    first.refresh_from_db()
    assert first.status == RunStatus.QUEUED and first.reconciles_id == apply.pk and first.release_stale_lock
    with pytest.raises(Conflict):
        run_recheck(actor=journey["operator"], run=apply)  # queued again
    finish_run(first, RunStatus.FAILED, error="Error: cloud unreachable")
    assert not reconciliation_of(apply).ready

    with django_capture_on_commit_callbacks(execute=True):
        second = run_recheck(actor=journey["operator"], run=apply)
    assert second.pk != first.pk
    assert second.kind == RunKind.REFRESH and second.status == RunStatus.QUEUED
    assert second.reconciles_id == apply.pk and second.release_stale_lock and second.request_id == apply.request_id
    assert second.created_by == journey["operator"]
    assert any(call.args[0] == (second.pk,) for call in no_broker["runs"].call_args_list)
    event = AuditEvent.objects.get(action="run.queued", object_id=str(second.pk))
    assert event.actor == journey["operator"] and event.details["reconciles"] == apply.pk
    assert reconciliation_of(apply).refresh == second

    refreshed(second)
    check = reconciliation_of(apply)
    assert check.refresh == second and check.ready and check.why_not_succeeded == ""
    assert Run.objects.get(pk=apply.pk).status == RunStatus.NEEDS_RECONCILIATION


def test_the_newest_refresh_decides(journey):
    _request, apply, first = lost(journey)
    refreshed(first)  # would allow succeeded
    second = run_recheck(actor=journey["operator"], run=apply)
    with pytest.raises(Conflict):
        run_reconcile(actor=journey["operator"], run=apply, outcome="succeeded", note="看过了")
    refreshed(second, resources=[])
    assert reconciliation_of(apply).undone == [(PLANNED, "create")]
    with pytest.raises(Conflict):
        run_reconcile(actor=journey["operator"], run=apply, outcome="succeeded", note="看过了")


# Drift checks -------------------------------------------------------------------------------------------------


def test_drift_check_is_for_operators(journey):
    instance = completed_instance(journey)
    for who in ("requester", "approver", "owner"):
        with pytest.raises(PermissionDenied):
            instance_drift_check(actor=journey[who], instance=instance)
    assert not Run.objects.filter(kind=RunKind.REFRESH).exists()


def test_drift_check_waits_for_the_run_in_progress(journey):
    instance = completed_instance(journey)
    change = modifying(journey, instance)  # its apply is queued on the instance's workspace
    with pytest.raises(Conflict):
        instance_drift_check(actor=journey["operator"], instance=instance)
    assert not Run.objects.filter(kind=RunKind.REFRESH).exists()
    finish_run(change.apply_run)
    run = instance_drift_check(actor=journey["operator"], instance=instance)
    assert run.kind == RunKind.REFRESH and run.plan_mode == PlanMode.REFRESH_ONLY and run.status == RunStatus.QUEUED
    assert run.workspace_id == instance.workspace_id and run.request_id is None
    assert not run.release_stale_lock and run.reconciles_id is None
    with pytest.raises(Conflict):
        instance_drift_check(actor=journey["operator"], instance=instance)


def test_a_destroyed_instance_is_not_checked(journey):
    instance = completed_instance(journey)
    Instance.objects.filter(pk=instance.pk).update(status=InstanceStatus.DESTROYED)
    instance.refresh_from_db()
    with pytest.raises(Conflict):
        instance_drift_check(actor=journey["operator"], instance=instance)


@pytest.mark.parametrize(
    ("drift", "has_changes", "expected"),
    [
        (DRIFT, True, DriftStatus.DRIFTED),
        ([], False, DriftStatus.IN_SYNC),
        ([], True, DriftStatus.IN_SYNC),  # only the outputs differ: the cloud matches the state
    ],
)
def test_a_finished_drift_check_records_what_it_found(journey, drift, has_changes, expected):
    instance = completed_instance(journey)
    assert instance.drift_status == DriftStatus.UNKNOWN and instance.drift_checked_at is None
    run = instance_drift_check(actor=journey["operator"], instance=instance)
    before = timezone.now()
    refreshed(run, serial=1, lineage="lineage-1", drift=drift, has_changes=has_changes)
    instance.refresh_from_db()
    assert instance.drift_status == expected
    assert instance.drift_checked_at >= before


def test_a_failed_drift_check_records_nothing(journey):
    instance = completed_instance(journey)
    run = instance_drift_check(actor=journey["operator"], instance=instance)
    finish_run(run, RunStatus.FAILED, error="Error: cloud unreachable")
    instance.refresh_from_db()
    assert instance.drift_status == DriftStatus.UNKNOWN and instance.drift_checked_at is None


def test_the_reconciliation_refresh_of_a_change_records_drift_too(journey):
    instance = completed_instance(journey)
    change = modifying(journey, instance)
    _apply, refresh = lose(change.apply_run)
    refreshed(refresh, serial=1, lineage="lineage-1", drift=DRIFT)
    instance.refresh_from_db()
    assert instance.drift_status == DriftStatus.DRIFTED and instance.drift_checked_at is not None


# The beat's sweep ---------------------------------------------------------------------------------------------


def make_instances(journey, count: int) -> list[Instance]:
    return [completed_instance(journey) for _ in range(count)]


@override_settings(DRIFT_CHECK_HOURS=24)
def test_sweep_checks_active_instances_not_checked_lately(journey):
    now = timezone.now()
    never, stale, fresh, busy, destroyed, reconciling = make_instances(journey, 6)
    Instance.objects.filter(pk=stale.pk).update(drift_checked_at=now - timedelta(hours=25))
    Instance.objects.filter(pk=fresh.pk).update(drift_checked_at=now - timedelta(hours=23))
    Instance.objects.filter(pk__in=[busy.pk, destroyed.pk, reconciling.pk]).update(
        drift_checked_at=now - timedelta(days=3)
    )
    Instance.objects.filter(pk=destroyed.pk).update(status=InstanceStatus.DESTROYED)
    Instance.objects.filter(pk=reconciling.pk).update(status=InstanceStatus.NEEDS_RECONCILIATION)
    instance_drift_check(actor=journey["operator"], instance=busy)  # a refresh already queued there

    assert drift_sweep(now=now) == 2
    swept = Run.objects.filter(kind=RunKind.REFRESH, created_by__isnull=True)
    assert sorted(swept.values_list("workspace", flat=True)) == sorted([never.workspace_id, stale.workspace_id])
    assert all(run.status == RunStatus.QUEUED and run.request_id is None for run in swept)
    assert Run.objects.filter(kind=RunKind.REFRESH, workspace=busy.workspace_id).count() == 1
    # The queued checks count as active: the next pass starts nothing twice.
    assert drift_sweep(now=now) == 0


@override_settings(DRIFT_CHECK_HOURS=24)
def test_sweep_takes_the_oldest_first_up_to_the_limit(journey):
    now = timezone.now()
    a, b, c = make_instances(journey, 3)
    Instance.objects.filter(pk=a.pk).update(drift_checked_at=now - timedelta(hours=30))
    Instance.objects.filter(pk=b.pk).update(drift_checked_at=now - timedelta(hours=90))
    Instance.objects.filter(pk=c.pk).update(drift_checked_at=None)
    assert drift_sweep(now=now, limit=2) == 2
    checked = set(Run.objects.filter(kind=RunKind.REFRESH).values_list("workspace", flat=True))
    assert checked == {c.workspace_id, b.workspace_id}
    # Their checks are queued (active), so the next pass takes the one left.
    assert drift_sweep(now=now, limit=2) == 1
    assert Run.objects.filter(kind=RunKind.REFRESH, workspace=a.workspace_id).count() == 1


@override_settings(DRIFT_CHECK_HOURS=0)
def test_sweep_is_off_at_zero_hours(journey):
    make_instances(journey, 1)
    assert drift_sweep() == 0
    assert not Run.objects.filter(kind=RunKind.REFRESH).exists()


@override_settings(DRIFT_CHECK_HOURS=1)
def test_the_beat_task_runs_the_sweep(journey):
    from provisioning.tasks import drift_checks

    instance = completed_instance(journey)
    assert drift_checks.run() == 1
    assert Run.objects.filter(kind=RunKind.REFRESH, workspace=instance.workspace_id).count() == 1
