"""Operators close what a lost worker left open, and check that the cloud still holds what the state says.

When an apply or destroy loses its worker, the janitor marks it needs_reconciliation and starts a refresh
that reconciles it (runs.run_recover_lost). That refresh records what the state holds and how the cloud
differs from it. An operator reads it and closes the run:

- failed: the request fails as any failed apply does (quota released, the requester told, a retry offered).
  The retry's apply adopts whatever the lost run made (the provider finds it by its workspace tag), so
  nothing is made twice.
- succeeded: only when the state moved on since the plan, holds every resource the plan created or
  changed and none it deleted, and the cloud matches it. The request then completes with what the state
  holds.

Drift checks are the same refresh, started by an operator for one instance or by beat for every instance
not checked for DRIFT_CHECK_HOURS.
"""
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.errors import Conflict, DomainError, PermissionDenied
from portal.permissions import user_can
from portal.services import audit_record

from ..choices import InstanceStatus, PlanMode, ResourceAction, RunKind, RunStatus
from ..models import Instance, Run
from ..outcomes import run_conclude
from .runs import run_enqueue, start_reconciliation

# What a plan entry's action leaves in the state once it is done.
MADE = {ResourceAction.CREATE, ResourceAction.UPDATE, ResourceAction.REPLACE}


class Outcome(models.TextChoices):
    SUCCEEDED = "succeeded", gettext_lazy("已完成（以状态为准）")
    FAILED = "failed", gettext_lazy("失败（申请人可重试）")


@dataclass
class Reconciliation:
    """What an operator reads before closing a lost run."""

    run: Run
    refresh: Run | None
    # Plan entries the state does not show done: (address, action).
    undone: list[tuple[str, str]] = field(default_factory=list)
    state_moved: bool = False

    @property
    def ready(self) -> bool:
        return self.refresh is not None and self.refresh.status == RunStatus.SUCCEEDED

    @property
    def refresh_active(self) -> bool:
        return self.refresh is not None and self.refresh.status in RunStatus.active()

    @property
    def cloud_matches_state(self) -> bool:
        # The drift the refresh found (resource_drift), as drift checks read it (requests._record_drift); not
        # has_changes, which a refresh-only plan also sets when only root outputs differ from the state, as
        # they do for every state a finished destroy emptied.
        return self.ready and not self.refresh.plan_summary

    @property
    def why_not_succeeded(self) -> str:
        """Empty when the run may be closed as succeeded; else the reason, for the operator."""
        if not self.ready:
            return _("核对刷新尚未成功完成。")
        if not self.state_moved:
            return _("状态自计划生成以来没有变化：这次执行没有写入状态。")
        if self.undone:
            return _("状态未体现计划的全部变更：%(addresses)s。") % {
                "addresses": ", ".join(f"{address} ({action})" for address, action in self.undone)
            }
        if not self.cloud_matches_state:
            return _("云上资源与状态不一致（见核对刷新的漂移）。")
        return ""


def reconciliation_of(run: Run) -> Reconciliation:
    refresh = run.reconciliations.order_by("-id").first()
    result = Reconciliation(run=run, refresh=refresh)
    plan = run.source_plan
    if refresh is None or refresh.status != RunStatus.SUCCEEDED or plan is None:
        return result
    held = {resource["address"] for resource in refresh.resources}
    for entry in plan.plan_summary:
        action = entry.get("action")
        if (action in MADE and entry["address"] not in held) or (
            action == ResourceAction.DELETE and entry["address"] in held
        ):
            result.undone.append((entry["address"], action))
    result.state_moved = (refresh.state_serial_before, refresh.state_lineage_before) != (
        plan.state_serial_before,
        plan.state_lineage_before,
    )
    return result


def runs_awaiting_reconciliation():
    return (
        Run.objects.filter(status=RunStatus.NEEDS_RECONCILIATION)
        .select_related("workspace__cloud", "workspace__agency", "request", "source_plan")
        .order_by("finished_at", "id")
    )


def _require_operator(actor, run: Run | None = None) -> None:
    if not user_can(actor, "provisioning.reconcile_run", run):
        raise PermissionDenied(_("您没有处置待核对运行的权限。"))


@transaction.atomic
def run_recheck(*, actor, run: Run) -> Run:
    """The reconciliation refresh failed (or the operator wants a fresher look): run another one."""
    _require_operator(actor, run)
    run = Run.objects.select_for_update().get(pk=run.pk)
    if run.status != RunStatus.NEEDS_RECONCILIATION:
        raise Conflict(_("运行 #%(id)s 不在待核对状态。") % {"id": run.pk})
    if reconciliation_of(run).refresh_active:
        raise Conflict(_("核对刷新正在进行，请等待它完成。"))
    return start_reconciliation(run, actor=actor)


@transaction.atomic
def run_reconcile(*, actor, run: Run, outcome: str, note: str) -> Run:
    """Close a run that lost its worker, after reading its reconciliation; the request moves on with it."""
    _require_operator(actor, run)
    note = (note or "").strip()
    if not note:
        raise DomainError(_("请填写核对说明：看到了什么，为何这样处置。"), field="note")
    if len(note) > 2000:
        raise DomainError(_("核对说明不能超过 2000 个字符。"), field="note")
    if outcome not in Outcome.values:
        raise DomainError(_("请选择处置结果。"), field="outcome")
    run = Run.objects.select_for_update(of=("self",)).select_related("workspace__agency", "source_plan").get(pk=run.pk)
    if run.status != RunStatus.NEEDS_RECONCILIATION:
        raise Conflict(_("运行 #%(id)s 不在待核对状态。") % {"id": run.pk})
    check = reconciliation_of(run)
    if not check.ready:
        raise Conflict(_("核对刷新尚未成功完成：请等待它完成，或重新发起核对刷新。"))
    error = f"{run.error}\n{_('核对说明')}: {note}".strip()
    if outcome == Outcome.SUCCEEDED:
        if check.why_not_succeeded:
            raise Conflict(check.why_not_succeeded, params={"undone": check.undone})
        run = run_conclude(
            run, RunStatus.SUCCEEDED, actor=actor, error=error, resources=check.refresh.resources,
            outputs=check.refresh.outputs, state_serial_after=check.refresh.state_serial_before,
        )
    else:
        # The request fails as any failed apply does; its instance goes back to what the state says it is,
        # and the drift status from the refresh tells whether the cloud agrees.
        run = run_conclude(run, RunStatus.FAILED, actor=actor, error=error)
    audit_record(
        actor=actor, action="run.reconciled", obj=run, agency=run.workspace.agency,
        details={"outcome": outcome, "note": note[:500], "refresh": check.refresh.pk},
    )
    return run


# Drift checks ------------------------------------------------------------------------------------------------


def _check_drift(instance: Instance, *, actor=None) -> Run:
    if instance.workspace.runs.filter(status__in=RunStatus.active()).exists():
        raise Conflict(_("该资源有进行中的运行，请在其完成后再检查。"))
    return run_enqueue(actor=actor, workspace=instance.workspace, kind=RunKind.REFRESH)


@transaction.atomic
def instance_drift_check(*, actor, instance: Instance) -> Run:
    """An operator asks whether the cloud still holds what the state says, for one instance."""
    _require_operator(actor)
    if instance.status == InstanceStatus.DESTROYED:
        raise Conflict(_("资源已销毁，无需检查漂移。"))
    return _check_drift(instance, actor=actor)


def drift_sweep(now=None, limit: int = 50) -> int:
    """Beat: refresh instances whose last drift check is older than DRIFT_CHECK_HOURS (0 turns it off),
    oldest first, at most `limit` per pass; the cloud's run cap paces them."""
    hours = settings.DRIFT_CHECK_HOURS
    if hours <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(hours=hours)
    due = (
        Instance.objects.filter(status=InstanceStatus.ACTIVE)
        .filter(models.Q(drift_checked_at__lt=cutoff) | models.Q(drift_checked_at__isnull=True))
        .exclude(workspace__runs__status__in=RunStatus.active())
        .select_related("workspace")
        .order_by(models.F("drift_checked_at").asc(nulls_first=True), "id")[:limit]
    )
    started = 0
    for instance in due:
        with transaction.atomic():
            try:
                _check_drift(instance)
            except Conflict:
                continue
        started += 1
    return started


# Acting on drift -------------------------------------------------------------------------------------------


def drift_to_accept(instance: Instance) -> Run | None:
    """The instance's latest drift check, when it found a difference and its plan can still be applied."""
    latest = (
        Run.objects.filter(workspace=instance.workspace_id, kind=RunKind.REFRESH).order_by("-queued_at", "-id").first()
    )
    if latest is None or latest.status != RunStatus.SUCCEEDED or not latest.plan_summary:
        return None
    if latest.planfile_consumed_at is not None or not latest.planfile_sha256:
        return None
    return latest


@transaction.atomic
def instance_accept_drift(*, actor, instance: Instance, note: str) -> Run:
    """The cloud's values become the state's: apply the latest drift check's refresh-only plan. Nothing changes
    in the cloud; Terraform forgets what the cloud no longer has and takes what it now holds. Audited."""
    _require_operator(actor)
    note = (note or "").strip()
    if not note:
        raise DomainError(_("请写明为何接受云上的现状。"), field="note")
    if instance.status != InstanceStatus.ACTIVE:
        raise Conflict(_("资源当前为“%(status)s”，不能接受漂移。") % {"status": instance.get_status_display()})
    refresh = drift_to_accept(instance)
    if refresh is None:
        raise Conflict(_("没有可接受的漂移：请先检查漂移，且检查结果须有差异。"))
    if instance.workspace.runs.filter(status__in=RunStatus.active()).exists():
        raise Conflict(_("该资源有进行中的运行，请在其完成后再处置。"))
    run = run_enqueue(
        actor=actor, workspace=instance.workspace, kind=RunKind.APPLY, plan_mode=PlanMode.REFRESH_ONLY,
        source_plan=refresh,
    )
    audit_record(actor=actor, action="instance.drift_accept_asked", obj=instance, agency=instance.agency,
                 details={"refresh": refresh.pk, "apply": run.pk, "note": note[:500]})
    return run
