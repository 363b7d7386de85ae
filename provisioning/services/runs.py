"""Runs: enqueue, claim, heartbeat, log, finish and cancel. What a run's end does to its request, instance and
quota is provisioning.outcomes'; the janitor's sweep over runs whose worker died is there too."""
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, OperationalError, models, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone
from django.utils.translation import gettext as _

from catalogue.models import Cloud
from portal.errors import Conflict
from portal.services import audit_record

from ..choices import RUN_TRANSITIONS, PlanMode, RunKind, RunStatus
from ..models import Run, Workspace
from ..wakeups import wake_run
from .transitions import compare_and_set

JANITOR = "janitor"
# deadlock_detected, serialization_failure: the transaction was rolled back and may simply be tried again.
RETRYABLE_SQLSTATES = {"40P01", "40001"}


def run_move(run: Run, to_status: str, *, actor=None, actor_username: str = "", **fields) -> Run:
    """Move `run` to `to_status` by compare-and-set from the status it has in memory; audit in the same
    transaction. Raises Conflict when the move is illegal or somebody else moved it first."""
    return compare_and_set(
        run,
        to_status,
        transitions=RUN_TRANSITIONS,
        illegal=lambda from_status, to: _("运行 #%(id)s 不能从“%(from)s”变为“%(to)s”。")
        % {"id": run.pk, "from": RunStatus(from_status).label, "to": RunStatus(to).label},
        stale=_("运行 #%(id)s 的状态已被其他操作改变，请刷新后重试。") % {"id": run.pk},
        audit={
            "actor": actor,
            "actor_username": actor_username,
            "action": f"run.{to_status}",
            "obj": run,
            "agency": run.workspace.agency,
            "details": {"kind": run.kind, **({"error": fields["error"][:500]} if fields.get("error") else {})},
        },
        **fields,
    )


def _new_run(*, workspace: Workspace, kind: str, plan_mode: str, source_plan: Run | None, request, actor,
             module=None, variables: dict | None = None, secret_variables: dict | None = None, **fields) -> Run:
    """The run row, with the module and variables it runs with: those given (a plan for a change), else its
    source plan's (an apply applies exactly that plan), else the workspace's last applied ones."""
    origin = source_plan or workspace
    run = Run(
        workspace=workspace,
        kind=kind,
        plan_mode=plan_mode,
        source_plan=source_plan,
        request=request,
        created_by=actor if actor is not None and actor.pk else None,
        module=module or origin.module,
        variables=origin.variables if variables is None else variables,
        **fields,
    )
    run.secret_variables = origin.secret_variables if secret_variables is None else secret_variables
    run.save()
    return run


@transaction.atomic
def run_enqueue(
    *,
    actor,
    workspace: Workspace,
    kind: str,
    plan_mode: str = PlanMode.NORMAL,
    source_plan: Run | None = None,
    request=None,
    module=None,
    variables: dict | None = None,
    secret_variables: dict | None = None,
) -> Run:
    """Save the run, then (after commit) wake a worker. A rolled-back transaction enqueues nothing."""
    if kind in (RunKind.APPLY, RunKind.DESTROY):
        if source_plan is None or source_plan.status != RunStatus.SUCCEEDED or not source_plan.planfile_sha256:
            raise Conflict(_("只能执行一个已成功生成的计划。"))
        if source_plan.workspace_id != workspace.pk:
            raise Conflict(_("该计划不属于此工作区。"))
        if source_plan.planfile_consumed_at is not None:
            raise Conflict(_("该计划已执行过，不能再次执行；请重新生成计划。"))
        if (kind == RunKind.DESTROY) != (source_plan.plan_mode == PlanMode.DESTROY):
            raise Conflict(_("销毁只能执行销毁计划，执行只能执行变更计划。"))
    if kind == RunKind.REFRESH:
        plan_mode = PlanMode.REFRESH_ONLY
    run = _new_run(
        workspace=workspace, kind=kind, plan_mode=plan_mode, source_plan=source_plan, request=request, actor=actor,
        module=module, variables=variables, secret_variables=secret_variables,
    )
    audit_record(actor=actor, action="run.queued", obj=run, agency=workspace.agency, details={"kind": kind})
    wake_run(run)
    return run


def run_claim(*, run_id: int, worker: str) -> tuple[Run | None, str]:
    """Take a queued run for this worker. Returns (run, "") or (None, why): "not-queued" (somebody has it or it
    ended: drop the message), "busy" (the workspace or the cloud is at its limit: try again later)."""
    now = timezone.now()
    try:
        with transaction.atomic():
            run = Run.objects.select_related("workspace", "workspace__cloud").filter(pk=run_id).first()
            if run is None or run.status != RunStatus.QUEUED:
                return None, "not-queued"
            # Lock the cloud row so two workers cannot both see room under the cloud's cap. NO KEY UPDATE: a
            # plain FOR UPDATE also blocks inserting a workspace of this cloud (the foreign key's KEY SHARE
            # lock), and a submit that already holds the audit chain's lock then deadlocks with this claim.
            cloud = Cloud.objects.select_for_update(no_key=True).get(pk=run.workspace.cloud_id)
            running = Run.objects.filter(workspace__cloud=cloud, status=RunStatus.RUNNING).count()
            if running >= cloud.max_concurrent_runs:
                return None, "busy"
            with transaction.atomic():  # savepoint: the one-running-run constraint may refuse us
                run_move(
                    run,
                    RunStatus.RUNNING,
                    actor_username=worker[:150],
                    worker=worker,
                    started_at=now,
                    heartbeat_at=now,
                    finished_at=None,
                    attempt=F("attempt") + 1,
                )
    except IntegrityError:
        return None, "busy"
    except OperationalError as exc:
        # PostgreSQL chose this claim as a deadlock's victim: nothing was taken, try again like a busy cloud
        # (re-raised, the message would be acked and the run left for the janitor's stranded sweep).
        if getattr(exc.__cause__, "sqlstate", None) in RETRYABLE_SQLSTATES:
            return None, "busy"
        raise
    except Conflict:
        return None, "not-queued"
    run.refresh_from_db()
    return run, ""


def run_heartbeat(*, run_id: int, worker: str, log_chunk: str = "") -> bool:
    """Record that the worker is alive (and append log lines); False when the run is no longer ours."""
    fields = {"heartbeat_at": timezone.now()}
    if log_chunk:
        fields["log"] = Concat(F("log"), Value(log_chunk))
    return Run.objects.filter(pk=run_id, status=RunStatus.RUNNING, worker=worker).update(**fields) == 1


@transaction.atomic
def run_cancel(*, actor, run: Run) -> Run:
    if run.status != RunStatus.QUEUED:
        raise Conflict(_("只有排队中的运行可以取消。"))
    return run_move(run, RunStatus.CANCELLED, actor=actor, finished_at=timezone.now())


def runs_lost(now=None):
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.RUN_LOST_AFTER_SECONDS)
    return Run.objects.filter(status=RunStatus.RUNNING, heartbeat_at__lt=cutoff).select_related("workspace")


def runs_stranded(now=None):
    """Queued runs whose last wake-up went unanswered for a while (the message may have died with a broker)."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.RUN_STRANDED_AFTER_SECONDS)
    return Run.objects.filter(status=RunStatus.QUEUED).filter(models.Q(woken_at__lt=cutoff) | models.Q(woken_at__isnull=True))


def start_reconciliation(run: Run, *, actor=None, actor_username: str = "") -> Run:
    """Queue a refresh-only plan that reconciles `run`, allowed to break the dead run's state lock."""
    refresh = _new_run(
        workspace=run.workspace, kind=RunKind.REFRESH, plan_mode=PlanMode.REFRESH_ONLY, source_plan=None,
        request=run.request, actor=actor, release_stale_lock=True, reconciles=run,
    )
    audit_record(
        actor=actor, actor_username=actor_username, action="run.queued", obj=refresh, agency=run.workspace.agency,
        details={"kind": RunKind.REFRESH, "reconciles": run.pk},
    )
    wake_run(refresh)
    return refresh
