"""What happens when a run ends or loses its worker: the run's outcome, the state version and the parameters its
workspace now holds, and what that means for its request, instance and quota, all in one transaction.

The runner calls `run_conclude` when Terraform returns, the operators' verdict on a lost run calls it too
(provisioning.services.reconcile), and the janitor calls `run_lost` for a run whose heartbeat stopped. Status
changes go through each machine's door (run_move, request_move, instance_move, the quota functions).
"""
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from portal.choices import EventKind, Role
from portal.errors import Conflict
from portal.models import User
from portal.services import audit_record

from .choices import (
    DriftStatus,
    InstanceStatus,
    PlanMode,
    RequestKind,
    RequestStatus,
    RunKind,
    RunStatus,
    StageStatus,
)
from .models import Instance, Request, Run, Workspace
from .services import quotas
from .services.adopt import finding_adopted
from .services.instances import instance_create, instance_move, instance_usage
from .services.notifications import notify
from .services.requests import request_advance, request_move, stage_move
from .services.runs import JANITOR, run_move, runs_lost, runs_stranded, start_reconciliation
from .wakeups import wake_run


def run_conclude(
    run: Run, to_status: str, *, actor=None, actor_username: str = "", state: tuple[int | None, str] | None = None,
    **fields,
) -> Run:
    """Record how the run ended and move what depends on it, in one transaction. `state` is the (serial,
    lineage) the workspace is at now, when the caller read it."""
    with transaction.atomic():
        run = run_move(run, to_status, actor=actor, actor_username=actor_username, **fields)
        if state is not None:
            serial, lineage = state
            Workspace.objects.filter(pk=run.workspace_id).update(state_serial=serial, state_lineage=lineage)
        if run.status == RunStatus.SUCCEEDED and run.kind == RunKind.APPLY:
            _workspace_applied(run)
        _request_outcome(run)
    return run


def _workspace_applied(run: Run) -> None:
    """The workspace now holds what this apply applied: later destroys, refreshes, drift checks and changes
    start from these values, never from those of the first request."""
    Workspace.objects.filter(pk=run.workspace_id).update(
        module=run.module_id, variables=run.variables, secret_variables_token=run.secret_variables_token
    )


def _request_outcome(run: Run) -> None:
    if run.kind == RunKind.REFRESH:
        _record_drift(run)
        return
    if run.request_id is None:
        if run.kind == RunKind.APPLY and run.plan_mode == PlanMode.REFRESH_ONLY and run.status == RunStatus.SUCCEEDED:
            _drift_accepted(run)
        return
    request = (
        Request.objects.select_for_update(of=("self",))
        .select_related("offering__cloud", "agency", "requester", "instance")
        .get(pk=run.request_id)
    )
    if run.kind == RunKind.PLAN:
        if request.status != RequestStatus.PLANNING or request.plan_run_id != run.pk:
            return  # cancelled meanwhile, or an older plan
        if run.status != RunStatus.SUCCEEDED:
            _fail(request, run.error or _("生成计划失败。"))
        elif request.kind == RequestKind.MODIFY and not run.plan_summary:
            _unchanged(request)
        else:
            _plan_ready(request, run)
        return
    if request.status != RequestStatus.APPLYING or request.apply_run_id != run.pk:
        return
    if run.status == RunStatus.SUCCEEDED:
        _complete(request, run)
    else:
        _fail(request, run.error or _("执行失败。"))


def _plan_ready(request: Request, run: Run) -> None:
    """The plan is in. Approvals that saw a different plan or cost are reset, except on a retry, where the
    last stage alone signs again (request_retry reopened it); then approving starts (again)."""
    outdated = request.approvals.filter(invalidated_at__isnull=True).filter(
        ~Q(plan_sha256=run.planfile_sha256) | ~Q(monthly_cost=request.monthly_cost)
    )
    if request.retrying:
        Request.objects.filter(pk=request.pk).update(retrying=False)
        request.retrying = False
    elif outdated.exists():
        reset_orders = set(outdated.values_list("stage__order", flat=True))
        outdated.update(invalidated_at=timezone.now())
        for stage in request.stages.filter(order__in=reset_orders).exclude(status=StageStatus.WAITING):
            stage_move(stage, StageStatus.WAITING, opened_at=None, decided_at=None)
        audit_record(
            actor=None, action="request.approvals_reset", obj=request, agency=request.agency,
            details={"plan_sha256": run.planfile_sha256, "stages": sorted(reset_orders)},
        )
    request_move(request, RequestStatus.AWAITING_APPROVAL, actor=None)
    request_advance(request)


def _unchanged(request: Request) -> None:
    """A change whose plan changes nothing: it ends here, unsent, and the instance stays free for other changes."""
    request_move(request, RequestStatus.UNCHANGED, actor=None, completed_at=timezone.now())
    notify(
        [request.requester],
        kind=EventKind.REQUEST_COMPLETED,
        subject=gettext_noop("无需变更：%(number)s"),
        body=gettext_noop("申请“%(title)s”的执行计划显示云上资源没有任何变化，因此未送审批。"),
        params={"number": request.number, "title": request.title},
        request=request,
    )


def _fail(request: Request, error: str) -> None:
    request_move(request, RequestStatus.FAILED, actor=None, error=error[:4000])
    quotas.quota_release(request)
    instance = request.instance
    if instance is not None and instance.status in (InstanceStatus.CHANGING, InstanceStatus.NEEDS_RECONCILIATION):
        # Back to what its state says it is; the drift check tells whether the cloud agrees.
        instance_move(instance, InstanceStatus.ACTIVE, details={"request": request.pk, "outcome": "failed"})
    notify(
        [request.requester],
        kind=EventKind.REQUEST_FAILED,
        subject=gettext_noop("申请失败：%(number)s"),
        body=gettext_noop("您的申请“%(title)s”执行失败，可在申请详情页查看错误并重试。"),
        params={"number": request.number, "title": request.title},
        request=request,
    )


def _complete(request: Request, run: Run) -> None:
    now = timezone.now()
    if request.kind == RequestKind.DECOMMISSION:
        instance = request.instance
        usage = instance_usage(instance)
        instance_move(
            instance, InstanceStatus.DESTROYED, action="instance.destroyed", details={"request": request.pk},
            destroyed_at=now, resources=[], outputs={}, drift_status=DriftStatus.UNKNOWN, drift_checked_at=None,
        )
        quotas.quota_give_back(request, usage)
    elif request.kind == RequestKind.CREATE:
        quotas.quota_consume(request)
        instance = instance_create(request=request, run=run)
        Request.objects.filter(pk=request.pk).update(instance=instance)
        request.instance = instance
        if request.adopts_id:
            finding_adopted(request)
    else:  # modify
        quotas.quota_consume(request)
        instance_move(
            request.instance, InstanceStatus.ACTIVE, action="instance.modified", details={"request": request.pk},
            parameters=request.parameters, resources=run.resources, outputs=run.outputs,
            monthly_cost=request.monthly_cost, usage=request.usage,
        )
    request_move(request, RequestStatus.COMPLETED, actor=None, completed_at=now)
    notify(
        [request.requester],
        kind=EventKind.REQUEST_COMPLETED,
        subject=gettext_noop("申请已完成：%(number)s"),
        body=gettext_noop("您的申请“%(title)s”已执行完成。"),
        params={"number": request.number, "title": request.title},
        request=request,
    )


def _drift_accepted(run: Run) -> None:
    """An operator's accepted drift is applied: the state holds what the cloud holds, and so does the instance."""
    for instance in Instance.objects.filter(workspace=run.workspace_id, status=InstanceStatus.ACTIVE):
        Instance.objects.filter(pk=instance.pk).update(
            resources=run.resources, outputs=run.outputs, drift_status=DriftStatus.IN_SYNC,
            drift_checked_at=timezone.now(),
        )
        audit_record(actor=None, action="instance.drift_accepted", obj=instance, agency=instance.agency,
                     details={"run": run.pk, "resources": len(run.resources or [])})


def _record_drift(run: Run) -> None:
    if run.status != RunStatus.SUCCEEDED:
        return
    Instance.objects.filter(workspace=run.workspace_id).exclude(status=InstanceStatus.DESTROYED).update(
        drift_status=DriftStatus.DRIFTED if run.plan_summary else DriftStatus.IN_SYNC,
        drift_checked_at=timezone.now(),
    )


# Runs whose worker died --------------------------------------------------------------------------------------


def run_lost(run: Run) -> Run | None:
    """The janitor's verdict on a run whose heartbeat stopped: a plan or refresh runs again (breaking the lock
    its dead Terraform may have left); an apply or
    destroy is never blindly retried: it needs reconciliation, and a refresh-only plan (allowed to break the
    dead run's state lock) shows what the cloud really holds. Returns the reconciliation refresh, if any."""
    with transaction.atomic():
        if run.kind in (RunKind.PLAN, RunKind.REFRESH):
            # The dead Terraform may have held the state lock (it took it for the plan); nothing else can hold it
            # while this run is claimed, so the run's next attempt breaks it, as a reconciliation refresh does.
            run_move(
                run, RunStatus.QUEUED, actor_username=JANITOR, worker="", started_at=None, heartbeat_at=None,
                release_stale_lock=True, log=Concat(F("log"), Value("\n[janitor] worker lost; queued again\n")),
            )
            wake_run(run)
            return None
        run_move(
            run, RunStatus.NEEDS_RECONCILIATION, actor_username=JANITOR, finished_at=timezone.now(),
            error=_("执行节点在运行中失联；资源状态未知，需核对后由运维人员处置。"),
        )
        refresh = start_reconciliation(run, actor_username=JANITOR)
        _request_waits_for_operators(run)
        return refresh


def _request_waits_for_operators(run: Run) -> None:
    """An apply or destroy lost its worker: the request waits for the operators; the instance is flagged."""
    if run.request_id is None:
        return
    request = Request.objects.select_related("instance").get(pk=run.request_id)
    instance = request.instance
    if instance is not None and instance.status == InstanceStatus.CHANGING:
        instance_move(instance, InstanceStatus.NEEDS_RECONCILIATION, details={"run": run.pk})
    notify(
        User.objects.filter(groups__name=Role.OPERATOR, is_active=True),
        kind=EventKind.OPERATIONS,
        subject=gettext_noop("运行失联待核对：%(number)s"),
        body=gettext_noop("申请“%(title)s”的执行运行 #%(run)s 失联，已自动发起刷新比对，请核对后处置。"),
        params={"number": request.number, "title": request.title, "run": run.pk},
        request=request,
    )


def janitor_sweep() -> dict[str, int]:
    """One pass of the janitor: recover lost runs, wake stranded ones."""
    counts = {"lost": 0, "woken": 0}
    for run in runs_lost():
        try:
            run_lost(run)
            counts["lost"] += 1
        except Conflict:
            continue  # it moved on its own (the worker came back) between the query and the move
    for run in runs_stranded():
        with transaction.atomic():
            wake_run(run)
        counts["woken"] += 1
    return counts
