"""Executes one claimed run on this worker: build the workspace, run Terraform, record the outcome.

The task (provisioning.tasks.run_execute) claims the run and calls `execute`. While Terraform runs, a reporter
thread appends the redacted log to the run and heartbeats; if the heartbeat stops (the worker died), the
janitor takes over. Status changes go through provisioning.services.runs.
"""
import base64
import ctypes
import hashlib
import json
import logging
import os
import signal
import socket
import tempfile
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, close_old_connections, connection
from django.utils import timezone
from django.utils.translation import gettext as _

from portal import crypto
from portal.services import audit_record

from . import state_store
from .choices import PlanMode, RunKind, RunStatus
from .models import Run, Workspace
from .outcomes import run_conclude
from .plan_summary import summarize
from .services.runs import run_heartbeat
from .terraform_client import MASK, TerraformClient, TerraformError
from .workspaces import PreparedWorkspace, prepare, run_imports

logger = logging.getLogger(__name__)
PLANFILE = "portal.tfplan"


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class StalePlan(Exception):
    """The state moved since the plan was made (or the plan was already applied): applying it is refused."""


class Reporter(threading.Thread):
    """Appends buffered log lines to the run and heartbeats, every second, until stopped."""

    def __init__(self, run_id: int, worker: str):
        super().__init__(name=f"run-{run_id}-reporter", daemon=True)
        self.run_id = run_id
        self.worker = worker
        self.buffer: list[str] = []
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.lost = False

    def write(self, text: str) -> None:
        with self.lock:
            self.buffer.append(text)

    def flush(self) -> None:
        with self.lock:
            chunk, self.buffer = "".join(self.buffer), []
        try:
            beating = run_heartbeat(run_id=self.run_id, worker=self.worker, log_chunk=chunk)
        except DatabaseError:
            # The database dropped the connection (a restart, a failover, a terminated backend) while Terraform
            # goes on: keep the lines and reconnect at the next beat, or the janitor would call a live run lost.
            logger.warning("run %s: heartbeat failed; reconnecting", self.run_id, exc_info=True)
            _reconnect()
            with self.lock:
                self.buffer.insert(0, chunk)
            return
        if not beating:
            self.lost = True

    def run(self) -> None:
        last_beat = 0.0
        try:
            while not self.stopped.wait(1.0):
                if self.buffer or time.monotonic() - last_beat >= settings.RUN_HEARTBEAT_SECONDS:
                    self.flush()
                    last_beat = time.monotonic()
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=10)
        self.flush()
        if self.buffer:
            self.flush()  # the first try found the connection dropped and reconnected


def _reconnect() -> None:
    """Let go of this thread's dropped database connection; the next query opens a new one."""
    try:
        connection.close()
    except DatabaseError:
        connection.connection = None


def _usable_connection() -> None:
    """Before the run's thread touches the database again after Terraform ran (seconds in which the database may
    have dropped the connection: a restart, a failover, a terminated backend), let go of a dead connection so
    that the next query opens a new one instead of failing the run."""
    close_old_connections()
    if connection.connection is not None and not connection.is_usable():
        _reconnect()


# Loaded here, not in the forked child, where taking the loader's locks could deadlock.
_LIBC = ctypes.CDLL("libc.so.6", use_errno=True)
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the Terraform child before exec: if this worker dies, Terraform is killed too, so a run the
    janitor declares lost has no Terraform left holding its lock."""
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def execute(run: Run, worker: str) -> Run:
    """Run Terraform for a run this worker has claimed (status running) and record how it ended."""
    reporter = Reporter(run.pk, worker)
    reporter.start()
    started = time.monotonic()
    timings: dict[str, float] = {}
    try:
        # The system's temp dir keeps paths short: the provider's plugin socket lives below it (108-byte limit).
        with tempfile.TemporaryDirectory(prefix=f"run-{run.pk}-") as scratch:
            prepared = prepare(run, Path(scratch))
            client = TerraformClient(
                workdir=prepared.directory,
                env=prepared.env,
                redact=prepared.redact,
                on_output=reporter.write,
                preexec=_die_with_parent,
            )
            t0 = time.monotonic()
            client.init()
            timings["init"] = round(time.monotonic() - t0, 3)
            _usable_connection()  # the plan's imports and the apply's claim on its planfile read it next
            if run.kind in (RunKind.PLAN, RunKind.REFRESH):
                fields, state = _plan(run, client, prepared, reporter, timings)
            else:
                fields, state = _apply(run, client, prepared, timings)
        timings["total"] = round(time.monotonic() - started, 3)
        reporter.stop()
        return _finish(run, RunStatus.SUCCEEDED, worker, state=state, timings=timings, **fields)
    except (TerraformError, StalePlan) as exc:
        reporter.write(f"\n{exc}\n")
        reporter.stop()
        return _finish(run, RunStatus.FAILED, worker, error=str(exc), timings=timings)
    except BaseException as exc:
        # Time limit, shutdown or a bug: record it (Terraform got its SIGINT in the client) and re-raise.
        reporter.write(f"\n{type(exc).__name__}: {exc}\n")
        reporter.stop()
        _finish(run, RunStatus.FAILED, worker, error=_("运行中断：%(error)s") % {"error": f"{type(exc).__name__}: {exc}"}, timings=timings)
        raise


def _finish(run: Run, status: str, worker: str, *, state: tuple[int | None, str] | None = None, **fields) -> Run:
    """Record the outcome and the state version the workspace is now at: `state` when the run read it after
    Terraform ended, else read here, before the transaction, so that no network call holds the transaction."""
    if state is None:
        state = _stored_version(run.workspace)
    _usable_connection()  # the outcome must be recorded even if the connection dropped while Terraform ran
    try:
        return run_conclude(
            run, status, actor_username=worker[:150], state=state, finished_at=timezone.now(), **fields
        )
    except (OperationalError, InterfaceError):
        # Dropped in the middle of the outcome's transaction: it was rolled back, unless the commit itself got
        # through. Once more on a new connection, from the run as the database holds it.
        logger.warning("run %s: the connection dropped while recording the outcome; again", run.pk, exc_info=True)
        _reconnect()
        run = Run.objects.get(pk=run.pk)
        if run.status != RunStatus.RUNNING:
            return run
        return run_conclude(
            run, status, actor_username=worker[:150], state=state, finished_at=timezone.now(), **fields
        )


def _stored_version(workspace: Workspace) -> tuple[int | None, str] | None:
    try:
        return state_store.state_version(workspace.state_key)
    except Exception:  # the store being unreachable must not lose the run's outcome
        logger.warning("could not read state of workspace %s", workspace.pk, exc_info=True)
        return None


def _release_stale_lock(run: Run, client: TerraformClient, reporter: Reporter) -> None:
    """Break the lock a dead run left. Only the reconciliation refresh may do this: it exists because the
    janitor saw that run's heartbeat stop, and Terraform died with its worker (see _die_with_parent)."""
    lock = state_store.lock_info(run.workspace.state_key)
    if not lock:
        return
    reporter.write(f"[portal] releasing the state lock left by a lost run: {lock.get('ID')} ({lock.get('Who')})\n")
    client.force_unlock(lock["ID"])
    _usable_connection()
    audit_record(
        actor=None, actor_username="janitor", action="workspace.lock_released", obj=run.workspace,
        agency=run.workspace.agency, details={"lock_id": lock.get("ID"), "who": lock.get("Who"), "run": run.pk},
    )


def version_of(state: dict) -> tuple[int | None, str]:
    """(serial, lineage) of a state document; (None, "") when there is no state yet (Terraform shows an empty
    workspace as serial 0 without a lineage), as provisioning.state_store.state_version answers."""
    if not state.get("lineage"):
        return None, ""
    return state.get("serial"), state["lineage"]


def _plan(
    run: Run, client: TerraformClient, prepared: PreparedWorkspace, reporter: Reporter, timings: dict
) -> tuple[dict, tuple[int | None, str]]:
    if run.release_stale_lock:
        _release_stale_lock(run, client, reporter)
    # A plan writes no state: the version it is made from is also the one the workspace is at afterwards. The
    # one exception is adoption: the objects it takes over are imported into the new workspace's state first
    # (that changes nothing in the cloud), so the plan the approvers sign is what the apply does to them.
    state = client.state()
    imported = {f"module.main.{item['address']}" for item in run_imports(run)}
    pending = [item for item in run_imports(run) if f"module.main.{item['address']}" not in state_addresses(state)]
    for item in pending:
        client.import_resource(f"module.main.{item['address']}", item["id"])
    if pending:
        state = client.state()
    serial, lineage = version_of(state)
    t0 = time.monotonic()
    has_changes = client.plan(
        PLANFILE,
        destroy=run.plan_mode == PlanMode.DESTROY,
        refresh_only=run.plan_mode == PlanMode.REFRESH_ONLY,
    )
    timings["plan"] = round(time.monotonic() - t0, 3)
    plan_json = client.show_plan(PLANFILE)
    raw = (prepared.directory / PLANFILE).read_bytes()
    section = "resource_drift" if run.plan_mode == PlanMode.REFRESH_ONLY else "resource_changes"
    # A refresh also records what the state holds (what an operator weighs when a run lost its worker).
    held = (
        {"resources": resources_of(state), "outputs": masked_outputs(state.get("outputs", {}), prepared)}
        if run.kind == RunKind.REFRESH else {}
    )
    return {
        **held,
        "has_changes": has_changes,
        "plan_summary": summarize(plan_json, prepared.redact, section=section, imported=imported),
        "planfile_token": crypto.encrypt(base64.b64encode(raw).decode()).encode(),
        "planfile_sha256": hashlib.sha256(raw).hexdigest(),
        "state_serial_before": serial,
        "state_lineage_before": lineage,
    }, (serial, lineage)


def _consume_plan(run: Run) -> Run:
    """Mark the source plan applied, once: a second apply of the same planfile is refused here."""
    plan = run.source_plan
    consumed = Run.objects.filter(pk=plan.pk, planfile_consumed_at__isnull=True).update(
        planfile_consumed_at=timezone.now()
    )
    if consumed != 1:
        raise StalePlan(_("计划 #%(id)s 已执行过一次，不能再次执行。") % {"id": plan.pk})
    plan.refresh_from_db()
    return plan


def _apply(
    run: Run, client: TerraformClient, prepared: PreparedWorkspace, timings: dict
) -> tuple[dict, tuple[int | None, str]]:
    plan = _consume_plan(run)
    serial, lineage = version_of(client.state())
    # Terraform refuses a stale plan only when it knows the lineage; a plan made from empty state would be
    # applied again over a state written since (terraform issue 24078). Compare both ourselves.
    if (serial, lineage) != (plan.state_serial_before, plan.state_lineage_before):
        raise StalePlan(
            _("计划已过期：生成计划时状态为 %(then)s，现在为 %(now)s。请重新生成计划并审批。")
            % {"then": plan.state_serial_before, "now": serial}
        )
    raw = base64.b64decode(crypto.decrypt(bytes(plan.planfile_token).decode()))
    if hashlib.sha256(raw).hexdigest() != plan.planfile_sha256:
        raise StalePlan(_("计划文件校验失败（SHA-256 不符），已拒绝执行。"))
    (prepared.directory / PLANFILE).write_bytes(raw)
    t0 = time.monotonic()
    client.apply(PLANFILE)
    timings["apply"] = round(time.monotonic() - t0, 3)
    # One read of the new state gives the resources, the root outputs (what `terraform output -json` prints)
    # and the version the workspace is now at.
    state = client.state()
    serial, lineage = version_of(state)
    return {
        "outputs": masked_outputs(state.get("outputs", {}), prepared),
        "resources": resources_of(state),
        "state_serial_after": serial,
    }, (serial, lineage)


def masked_outputs(outputs: dict, prepared: PreparedWorkspace) -> dict:
    """Output values for pages and the API: sensitive ones masked, never stored."""
    result = {}
    for name, output in outputs.items():
        if output.get("sensitive") or name in prepared.sensitive_outputs:
            result[name] = MASK
        else:
            value = output.get("value")
            result[name] = prepared.redact(value) if isinstance(value, str) else value
    return result


def state_addresses(state: dict) -> set[str]:
    """Every resource address the state holds (module.main.type.name)."""
    return {
        ".".join(part for part in (resource.get("module", ""), resource.get("type", ""), resource.get("name", "")) if part)
        for resource in state.get("resources", []) if resource.get("mode", "managed") == "managed"
    }


def resources_of(state: dict) -> list[dict]:
    """What the state says exists: address, type and cloud id of every managed resource."""
    resources = []
    for resource in state.get("resources", []):
        if resource.get("mode") != "managed":
            continue
        prefix = f"{resource['module']}." if resource.get("module") else ""
        for instance in resource.get("instances", []):
            # Terraform's own address syntax (x[0], x["a"]), so addresses compare with the plan's.
            suffix = f"[{json.dumps(instance['index_key'], ensure_ascii=False)}]" if "index_key" in instance else ""
            resources.append(
                {
                    "address": f"{prefix}{resource['type']}.{resource['name']}{suffix}",
                    "type": resource["type"],
                    "id": instance.get("attributes", {}).get("id", ""),
                }
            )
    return resources
