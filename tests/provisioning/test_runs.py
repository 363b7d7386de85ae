"""Runs as the database sees them: saved before they are enqueued, claimed by compare-and-set, one running
per workspace, a cap per cloud, and the janitor's verdict on runs whose worker died."""
from datetime import timedelta
from unittest import mock

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from portal.errors import Conflict
from portal.models import AuditEvent
from provisioning.choices import PlanMode, RunKind, RunStatus
from provisioning.models import Run
from provisioning.outcomes import janitor_sweep
from provisioning.services.runs import run_claim, run_enqueue, run_move
from tests.provisioning.factories import RunFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent():
    with mock.patch("provisioning.tasks.run_execute.apply_async") as apply_async:
        yield apply_async


def test_enqueue_saves_the_run_first_and_wakes_a_worker_after_commit(django_capture_on_commit_callbacks, sent):
    workspace = WorkspaceFactory()
    with django_capture_on_commit_callbacks(execute=True):
        run = run_enqueue(actor=None, workspace=workspace, kind=RunKind.PLAN)
        assert not sent.called  # nothing leaves before the commit
    assert Run.objects.get(pk=run.pk).status == RunStatus.QUEUED
    sent.assert_called_once()
    assert sent.call_args.args[0] == (run.pk,)
    assert AuditEvent.objects.filter(action="run.queued", object_id=str(run.pk)).exists()


def test_a_broker_that_is_down_neither_fails_nor_undoes_the_enqueue(django_capture_on_commit_callbacks, sent, settings):
    """A Redis restart while someone approves: the run is saved and the caller is answered; the janitor wakes
    the run again once it has waited RUN_STRANDED_AFTER_SECONDS."""
    settings.RUN_STRANDED_AFTER_SECONDS = 10
    sent.side_effect = OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    workspace = WorkspaceFactory()
    with django_capture_on_commit_callbacks(execute=True):
        run = run_enqueue(actor=None, workspace=workspace, kind=RunKind.PLAN)
    assert Run.objects.get(pk=run.pk).status == RunStatus.QUEUED
    assert sent.call_count == 1
    sent.side_effect = None
    assert janitor_sweep()["woken"] == 0  # not yet stranded
    Run.objects.filter(pk=run.pk).update(woken_at=timezone.now() - timedelta(seconds=11))
    with django_capture_on_commit_callbacks(execute=True):
        assert janitor_sweep()["woken"] == 1
    assert sent.call_count == 2 and sent.call_args.args[0] == (run.pk,)


def test_rolled_back_transaction_enqueues_nothing(django_capture_on_commit_callbacks, sent):
    workspace = WorkspaceFactory()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                run_enqueue(actor=None, workspace=workspace, kind=RunKind.PLAN)
                raise RuntimeError("the caller fails after enqueueing")
        except RuntimeError:
            pass
    assert callbacks == []
    assert not sent.called
    assert Run.objects.count() == 0


def test_claim_is_compare_and_set():
    run = RunFactory()
    claimed, why = run_claim(run_id=run.pk, worker="w1")
    assert claimed is not None and claimed.status == RunStatus.RUNNING and claimed.worker == "w1"
    assert claimed.attempt == 1
    again, why = run_claim(run_id=run.pk, worker="w2")
    assert again is None and why == "not-queued"
    assert Run.objects.get(pk=run.pk).worker == "w1"


def test_database_allows_one_running_run_per_workspace():
    first = RunFactory(status=RunStatus.RUNNING)
    with pytest.raises(IntegrityError), transaction.atomic():
        RunFactory(workspace=first.workspace, status=RunStatus.RUNNING)
    second = RunFactory(workspace=first.workspace)
    claimed, why = run_claim(run_id=second.pk, worker="w2")
    assert claimed is None and why == "busy"
    assert Run.objects.get(pk=second.pk).status == RunStatus.QUEUED


def test_cloud_cap_holds_runs_back():
    first = RunFactory(status=RunStatus.RUNNING)
    cloud = first.workspace.cloud
    cloud.max_concurrent_runs = 1
    cloud.save()
    other = RunFactory(workspace=WorkspaceFactory(cloud=cloud))
    assert run_claim(run_id=other.pk, worker="w") == (None, "busy")
    cloud.max_concurrent_runs = 2
    cloud.save()
    claimed, _ = run_claim(run_id=other.pk, worker="w")
    assert claimed is not None


def test_illegal_move_is_a_clear_error():
    run = RunFactory(status=RunStatus.SUCCEEDED)
    with pytest.raises(Conflict) as error:
        run_move(run, RunStatus.RUNNING)
    assert "不能从" in str(error.value)


def test_stale_in_memory_status_loses_the_race():
    run = RunFactory()
    stale = Run.objects.get(pk=run.pk)
    run_move(run, RunStatus.CANCELLED)
    with pytest.raises(Conflict):
        run_move(stale, RunStatus.RUNNING)


def test_apply_needs_an_unconsumed_successful_plan_of_the_same_kind():
    plan = RunFactory(status=RunStatus.SUCCEEDED, planfile_sha256="a" * 64)
    workspace = plan.workspace
    with pytest.raises(Conflict):
        run_enqueue(actor=None, workspace=workspace, kind=RunKind.DESTROY, source_plan=plan)
    failed = RunFactory(workspace=workspace, status=RunStatus.FAILED)
    with pytest.raises(Conflict):
        run_enqueue(actor=None, workspace=workspace, kind=RunKind.APPLY, source_plan=failed)
    Run.objects.filter(pk=plan.pk).update(planfile_consumed_at=timezone.now())
    plan.refresh_from_db()
    with pytest.raises(Conflict):
        run_enqueue(actor=None, workspace=workspace, kind=RunKind.APPLY, source_plan=plan)


def test_janitor_requeues_a_lost_plan(sent, django_capture_on_commit_callbacks):
    old = timezone.now() - timedelta(minutes=10)
    run = RunFactory(status=RunStatus.RUNNING, worker="dead:1", heartbeat_at=old, started_at=old)
    with django_capture_on_commit_callbacks(execute=True):
        counts = janitor_sweep()
    run.refresh_from_db()
    assert counts["lost"] == 1
    assert run.status == RunStatus.QUEUED and run.worker == ""
    assert sent.called


def test_janitor_never_retries_a_lost_apply(sent, django_capture_on_commit_callbacks):
    old = timezone.now() - timedelta(minutes=10)
    plan = RunFactory(status=RunStatus.SUCCEEDED, planfile_sha256="b" * 64, planfile_consumed_at=old)
    apply = RunFactory(
        workspace=plan.workspace, kind=RunKind.APPLY, source_plan=plan, status=RunStatus.RUNNING,
        heartbeat_at=old, started_at=old, worker="dead:2",
    )
    with django_capture_on_commit_callbacks(execute=True):
        janitor_sweep()
    apply.refresh_from_db()
    assert apply.status == RunStatus.NEEDS_RECONCILIATION
    refresh = Run.objects.get(workspace=plan.workspace, kind=RunKind.REFRESH)
    assert refresh.plan_mode == PlanMode.REFRESH_ONLY and refresh.release_stale_lock
    assert refresh.status == RunStatus.QUEUED
    assert not Run.objects.filter(kind=RunKind.APPLY, status=RunStatus.QUEUED).exists()


def test_janitor_leaves_live_runs_alone():
    run = RunFactory(status=RunStatus.RUNNING, heartbeat_at=timezone.now(), worker="alive:1")
    janitor_sweep()
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING


def test_task_returns_at_once_when_the_run_is_not_queued():
    from provisioning.tasks import run_execute

    run = RunFactory(status=RunStatus.SUCCEEDED)
    with mock.patch("provisioning.tasks.execute") as execute:
        assert run_execute.run(run.pk) == "not-queued"
    execute.assert_not_called()
