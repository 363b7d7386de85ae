"""What a portal-driven plan, apply and destroy each cost over the same done by hand with terraform.

For each module, side by side in one run:

- portal: a plan Run, an apply Run of that plan, and a destroy (a destroy plan and its apply, as a
  decommission runs them), each from the moment it is queued to status succeeded as seen in the database,
  executed by a real Celery worker process;
- raw: `terraform init` + `terraform plan -out`, `terraform init` + `terraform apply -auto-approve`, and
  `terraform init` + `terraform destroy -auto-approve` of the same generated root module (written by
  provisioning.workspaces.prepare for the same run, at a fresh state key), in the same environment.

It also times a whole request: from the final approval (request_approve of its last stage) to its instance
active, as the requester sees it.

Repetitions interleave the two sides and alternate which goes first. Both start from empty state, and
everything is destroyed between repetitions, outside the timed parts. The bench also times the pcloud
provider's start-up (exec to handshake line) and counts, in Terraform's trace logs of untimed runs of the
same commands, how often Terraform starts it on each side. It prints medians per module with their spread,
where the portal's time goes, the provider's share, and the overall ratio portal ÷ raw last.

    python -m bench.run_overhead [--repeat N] [--modules vm,bucket,database,network] [--starts 16] [--keep]

Everything lives in a temporary directory and goes at the end: the database (SQLite, or a throwaway database
on the PostgreSQL server DATABASE_URL names), the moto server on a free port, the provider mirror, the worker
and its own queues. Nothing of a dev setup is read or written. bench/README.md says how to read the output.
"""
from __future__ import annotations

import argparse
import logging
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
MODULES = ("vm", "bucket", "database", "network")
# The variable that names each module's objects; every repetition adds its own suffix, so a leftover of one
# repetition can never collide with the next.
IDENTITY = {"vm": "name", "bucket": "name", "database": "identifier", "network": "name"}
POLL_SECONDS = 0.02
RUN_TIMEOUT = 300
POSTGRES_SCHEMES = ("postgres://", "postgresql://", "pgsql://")


class BenchError(Exception):
    pass


# The sandbox ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(process: subprocess.Popen) -> None:
    """Stop a process this bench started (in a session of its own) and everything it started."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def throwaway_database(stack: ExitStack, root: Path) -> str:
    """A database of the bench's own: a SQLite file in the sandbox, or, when DATABASE_URL points at
    PostgreSQL, a new database on that server, dropped at the end."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(POSTGRES_SCHEMES):
        return f"sqlite:///{root / 'bench.sqlite3'}"
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)._replace(scheme="postgresql")
    database = f"bench_run_overhead_{os.getpid()}"
    name = sql.Identifier(database)

    def connect() -> psycopg.Connection:
        # The server's maintenance database, as Django's test runner uses; else the one the URL names.
        try:
            return psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True)
        except psycopg.OperationalError:
            return psycopg.connect(urlunsplit(parts), autocommit=True)

    with connect() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))

    def drop() -> None:
        with connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))

    stack.callback(drop)
    return urlunsplit(parts._replace(path=f"/{database}"))


def start_cloud(stack: ExitStack, root: Path) -> str:
    """A moto server of the bench's own, in its own process (so polling here never competes with it)."""
    port = free_port()
    with (root / "moto.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    stack.callback(stop_process, process)
    return f"http://127.0.0.1:{port}"


def configure_environment(stack: ExitStack, root: Path) -> None:
    """Point the settings (of this process and of the worker it starts) into the sandbox; before Django."""
    cloud_url = start_cloud(stack, root)
    for name in ("TERRAFORM_MIRROR_DIR", "TERRAFORM_CLI_CONFIG", "TERRAFORM_EXTRA_PROVIDER_DIRS", "RUN_QUEUES_BY_TIER"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "PORTAL_ENV": "development",
            "PORTAL_VAR_DIR": str(root / "var"),
            "DATABASE_URL": throwaway_database(stack, root),
            "LOCAL_CLOUD_URL": cloud_url,
            "STATE_ENDPOINT": cloud_url,
            "STATE_DYNAMODB_ENDPOINT": cloud_url,
            "TERRAFORM_HOME": str(root / "terraform"),
            "RUN_QUEUE": f"bench-runs-{os.getpid()}",
            "NOTIFY_QUEUE": f"bench-notify-{os.getpid()}",
        }
    )


def delete_queues() -> None:
    """Remove the bench's queues from the broker (with Redis, their binding keys would stay behind)."""
    from kombu import Exchange, Queue

    from portal.celery import app

    with app.connection_for_write() as connection:
        for name in (os.environ["RUN_QUEUE"], os.environ["NOTIFY_QUEUE"]):
            queue = Queue(name, Exchange(name), routing_key=name, channel=connection.default_channel)
            queue.declare()  # a fresh channel knows no bindings to delete until it declares them
            queue.delete()


def start_worker(stack: ExitStack, root: Path) -> subprocess.Popen:
    """A real `celery worker` on the bench's queues, one process in its pool (one run at a time)."""
    log_path = root / "worker.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "portal", "worker", "-l", "info", "--pool", "prefork",
                "--concurrency", "1", "-Q", f"{os.environ['RUN_QUEUE']},{os.environ['NOTIFY_QUEUE']}",
                "-n", f"bench-{os.getpid()}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
            ],
            cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack.callback(stop_process, process)
    deadline = time.monotonic() + 60
    while " ready." not in log_path.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise BenchError(f"the worker did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)
    return process


# Measurements ----------------------------------------------------------------------------------------------


@dataclass
class Sample:
    portal: float
    raw: float
    raw_init: float
    raw_apply: float
    wake: float  # queued -> claimed (broker, worker wake-up, claim)
    worker: float  # claimed -> finished, as the worker recorded it
    worker_init: float
    worker_apply: float
    plan_portal: float = math.nan
    plan_raw: float = math.nan
    destroy_portal: float = math.nan
    destroy_raw: float = math.nan

    @property
    def ratio(self) -> float:
        return self.portal / self.raw


@dataclass
class ModuleResult:
    samples: list[Sample] = field(default_factory=list)
    traces: dict[str, TraceFigures] = field(default_factory=dict)  # "raw apply" -> provider processes
    approval_to_active: list[float] = field(default_factory=list)


class Bench:
    def __init__(self, root: Path):
        from django.conf import settings

        from catalogue.choices import CloudTier
        from catalogue.models import Cloud, Offering, Service
        from catalogue.services import module_publish
        from portal.choices import AgencyLevel, Role
        from portal.demo import OFFERING_TERMS
        from portal.models import Agency, User
        from portal.services import user_role_grant
        from provisioning import local_cloud, state_store
        from provisioning.models import ApprovalPolicy, PolicyStage
        from provisioning.terraform_setup import terraform_mirror_build
        from tests.e2e.helpers import MODULE_CASES

        self.root = root
        self.settings = settings
        self.worker: subprocess.Popen | None = None
        terraform_mirror_build()
        local_cloud.wait_until_up()
        state_store.bootstrap()
        self.agency = Agency.objects.create(code="bench", name="基准测试单位", level=AgencyLevel.PROVINCE)
        self.cloud = Cloud.objects.create(
            slug="bench", name="基准测试云", tier=CloudTier.INDUSTRY, owner_agency=self.agency,
            endpoint=settings.LOCAL_CLOUD_URL, region="cn-north-1", allowed_classifications=[1, 2, 3],
        )
        local_cloud.cloud_account_ensure(self.cloud)
        self.cloud.refresh_from_db()
        self.cases = {case.module: case for case in MODULE_CASES}
        self.modules = {}
        for name in MODULES:
            directory = Path(settings.TERRAFORM_MODULES_DIR) / name
            version = (directory / "VERSION").read_text().strip()
            self.modules[name] = module_publish(actor=None, name=name, version=version, directory=directory)
        # For whole requests: an offering per module, a one-stage policy, a requester and an approver.
        service_names = {"vm": "云主机", "bucket": "对象存储", "database": "云数据库", "network": "专有网络"}
        self.offerings = {}
        for name in MODULES:
            base, unit_prices, usage_rules, capabilities = OFFERING_TERMS[name]
            service = Service.objects.create(slug=name, name=service_names[name], module_name=name)
            self.offerings[name] = Offering.objects.create(
                cloud=self.cloud, service=service, module=self.modules[name], base_monthly_price=base,
                unit_prices=unit_prices, usage_rules=usage_rules, capabilities=capabilities,
            )
        policy = ApprovalPolicy.objects.create(name="基准审批", is_default=True)
        PolicyStage.objects.create(policy=policy, order=1, name="单位审批", approver_role=Role.AGENCY_APPROVER)
        self.requester = User.objects.create(username="bench-requester", agency=self.agency)
        self.approver = User.objects.create(username="bench-approver", agency=self.agency)
        user_role_grant(actor=None, user=self.requester, role=Role.REQUESTER)
        user_role_grant(actor=None, user=self.approver, role=Role.AGENCY_APPROVER)

    # One round: both plans, then both applies in the given order, each destroyed after it; all timed.

    def round(self, module: str, tag: str, portal_first: bool) -> Sample:
        from provisioning.choices import RunKind

        case = self.cases[module]
        variables = {**case.variables, IDENTITY[module]: f"{case.variables[IDENTITY[module]]}-{tag}"}
        started = time.perf_counter()
        plan = self._finished(self._enqueue(self._workspace(module, variables, case.secret), RunKind.PLAN))
        plan_portal = time.perf_counter() - started
        plan_raw = self._raw_plan(plan, self._workspace(module, variables, case.secret))
        measured: dict[str, dict] = {}
        for side in ("portal", "raw") if portal_first else ("raw", "portal"):
            if side == "portal":
                measured[side] = self._portal_apply(plan)
            else:
                measured[side] = self._raw_apply(plan, self._workspace(module, variables, case.secret))
        portal, raw = measured["portal"], measured["raw"]
        return Sample(
            portal=portal["elapsed"], raw=raw["init"] + raw["apply"], raw_init=raw["init"], raw_apply=raw["apply"],
            wake=portal["wake"], worker=portal["worker"], worker_init=portal["init"], worker_apply=portal["apply"],
            plan_portal=plan_portal, plan_raw=plan_raw, destroy_portal=portal["destroy"], destroy_raw=raw["destroy"],
        )

    # A whole request: final approval -> instance active.

    def journey(self, module: str, tag: str) -> float:
        """Seconds from the last stage's approval to the instance active, as the requester's page sees it."""
        from provisioning.choices import RequestStatus
        from provisioning.models import Request
        from provisioning.services import requests as request_services

        case = self.cases[module]
        variables = {**case.variables, IDENTITY[module]: f"{case.variables[IDENTITY[module]]}-{tag}"}
        request = request_services.request_create(
            actor=self.requester, offering=self.offerings[module], parameters={**variables, **case.secret},
            justification="bench",
        )
        request_services.request_submit(actor=self.requester, request=request)
        self._request_reaches(request, RequestStatus.AWAITING_APPROVAL)
        started = time.perf_counter()
        request_services.request_approve(actor=self.approver, request=Request.objects.get(pk=request.pk))
        request = self._request_reaches(request, RequestStatus.COMPLETED)
        elapsed = time.perf_counter() - started
        self._destroy(request.apply_run, request.workspace)
        return elapsed

    def _request_reaches(self, request, status: str):
        from provisioning.choices import RequestStatus
        from provisioning.models import Request

        deadline = time.monotonic() + RUN_TIMEOUT
        while True:
            current = Request.objects.select_related("apply_run", "workspace").get(pk=request.pk)
            if current.status == status:
                return current
            if current.status in (RequestStatus.FAILED, RequestStatus.CANCELLED, RequestStatus.REJECTED):
                raise BenchError(f"{current.number} ended {current.status}: {current.error}")
            if time.monotonic() > deadline:
                raise BenchError(f"{current.number} did not reach {status} in {RUN_TIMEOUT}s")
            time.sleep(POLL_SECONDS)

    def _workspace(self, module: str, variables: dict, secret: dict):
        from provisioning.models import Workspace

        workspace = Workspace(cloud=self.cloud, module=self.modules[module], agency=self.agency, variables=variables)
        workspace.secret_variables = secret
        workspace.save()
        return workspace

    def _enqueue(self, workspace, kind, source_plan=None, plan_mode="normal"):
        from provisioning.services.runs import run_enqueue

        return run_enqueue(actor=None, workspace=workspace, kind=kind, source_plan=source_plan, plan_mode=plan_mode)

    def _finished(self, run):
        from provisioning.choices import RunStatus
        from provisioning.models import Run

        deadline = time.monotonic() + RUN_TIMEOUT
        while True:
            status = Run.objects.filter(pk=run.pk).values_list("status", flat=True).first()
            if status not in RunStatus.active():
                break
            if self.worker is not None and self.worker.poll() is not None:
                raise BenchError(f"the worker exited while run #{run.pk} ({run.kind}) was {status}")
            if time.monotonic() > deadline:
                raise BenchError(f"run #{run.pk} ({run.kind}) did not finish in {RUN_TIMEOUT}s")
            time.sleep(POLL_SECONDS)
        run.refresh_from_db()
        if run.status != RunStatus.SUCCEEDED:
            raise BenchError(f"run #{run.pk} ({run.kind}) ended {run.status}: {run.error}\n{run.log[-3000:]}")
        return run

    def _portal_apply(self, plan) -> dict:
        from provisioning.choices import PlanMode, RunKind

        started = time.perf_counter()
        apply = self._finished(self._enqueue(plan.workspace, RunKind.APPLY, source_plan=plan))
        elapsed = time.perf_counter() - started
        result = {
            "elapsed": elapsed,
            "wake": (apply.started_at - apply.queued_at).total_seconds(),
            "worker": (apply.finished_at - apply.started_at).total_seconds(),
            "init": apply.timings.get("init", math.nan),
            "apply": apply.timings.get("apply", math.nan),
        }
        # A decommission's destroy: a destroy plan, then its apply.
        started = time.perf_counter()
        destroy_plan = self._finished(self._enqueue(apply.workspace, RunKind.PLAN, plan_mode=PlanMode.DESTROY))
        self._finished(self._enqueue(apply.workspace, RunKind.DESTROY, source_plan=destroy_plan))
        result["destroy"] = time.perf_counter() - started
        return result

    def _raw_plan(self, plan, workspace) -> float:
        with self._prepared(plan, workspace) as (directory, env):
            started = time.perf_counter()
            self.terraform(directory, env, "init", "-input=false", "-no-color")
            self.terraform(directory, env, "plan", "-input=false", "-no-color", "-out=raw.tfplan")
            return time.perf_counter() - started

    def _raw_apply(self, plan, workspace) -> dict:
        with self._prepared(plan, workspace) as (directory, env):
            t0 = time.perf_counter()
            self.terraform(directory, env, "init", "-input=false", "-no-color")
            t1 = time.perf_counter()
            self.terraform(directory, env, "apply", "-auto-approve", "-input=false", "-no-color")
            t2 = time.perf_counter()
        # The destroy by hand: a directory of its own, as a person coming back to it later would have.
        with self._prepared(plan, workspace) as (directory, env):
            t3 = time.perf_counter()
            self.terraform(directory, env, "init", "-input=false", "-no-color")
            self.terraform(directory, env, "destroy", "-auto-approve", "-input=false", "-no-color")
            t4 = time.perf_counter()
        return {"init": t1 - t0, "apply": t2 - t1, "destroy": t4 - t3}

    def _destroy(self, run, workspace) -> None:
        """Destroy what a portal apply made, by hand and untimed (the bench's database is thrown away)."""
        with self._prepared(run, workspace) as (directory, env):
            self.terraform(directory, env, "init", "-input=false", "-no-color")
            self.terraform(directory, env, "destroy", "-auto-approve", "-input=false", "-no-color")

    @contextmanager
    def _prepared(self, run, workspace):
        """The run's root module, as provisioning.workspaces.prepare writes it, at `workspace`'s state key."""
        from provisioning.models import Run
        from provisioning.workspaces import prepare

        run = Run.objects.get(pk=run.pk)
        run.workspace = workspace  # the same run's module and variables, at another state key
        # The system's temp dir, as the runner uses: the provider's socket path must stay short.
        with tempfile.TemporaryDirectory(prefix="bench-raw-") as scratch:
            prepared = prepare(run, Path(scratch))
            yield prepared.directory, prepared.env

    def count_starts(self, module: str, trace: Path) -> dict[str, TraceFigures]:
        """Provider processes Terraform starts for each command of the raw side and of the worker's apply,
        from TF_LOG=TRACE logs (untimed: tracing slows Terraform down)."""
        from provisioning.choices import RunKind

        case = self.cases[module]
        variables = {**case.variables, IDENTITY[module]: f"{case.variables[IDENTITY[module]]}-t"}
        plan = self._finished(self._enqueue(self._workspace(module, variables, case.secret), RunKind.PLAN))
        commands = {
            "raw": [("init", ["init", "-input=false"]), ("apply", ["apply", "-auto-approve", "-input=false"])],
            # What the runner runs for an apply (provisioning.runner.execute and _apply).
            "portal": [
                ("init", ["init", "-input=false"]),
                ("state pull", ["state", "pull"]),
                ("apply", ["apply", "-input=false", "-lock-timeout=30s", "portal.tfplan"]),
                ("state pull after", ["state", "pull"]),
            ],
        }
        figures: dict[str, TraceFigures] = {}
        for side, steps in commands.items():
            with self._prepared(plan, self._workspace(module, variables, case.secret)) as (directory, env):
                if side == "portal":
                    self.terraform(directory, env, "init", "-input=false")
                    self.terraform(directory, env, "plan", "-input=false", "-out=portal.tfplan")
                for label, args in steps:
                    log = trace / f"{side}-{label.replace(' ', '-')}.log"
                    self.terraform(directory, {**env, "TF_LOG": "TRACE", "TF_LOG_PATH": str(log)}, *args)
                    figures[f"{side} {label}"] = read_trace(log)
                self.terraform(directory, env, "destroy", "-auto-approve", "-input=false")
        return figures

    def terraform(self, directory: Path, env: dict, *args: str) -> None:
        # A session of its own, so that an interrupted bench takes Terraform's provider processes down with it.
        process = subprocess.Popen(
            [self.settings.TERRAFORM_BIN, *args], cwd=directory, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )
        try:
            output, _ = process.communicate()
        except BaseException:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise
        if process.returncode != 0:
            raise BenchError(f"terraform {args[0]} failed ({process.returncode}):\n{output[-3000:]}")

    # The provider on its own.

    def provider_startup(self) -> float:
        """Exec of the mirror's provider executable to its handshake line on stdout, in seconds."""
        from pcloud_provider import mirror

        from provisioning.terraform_client import base_environment

        executable = mirror.install(Path(self.settings.TERRAFORM_MIRROR_DIR))
        credentials = self.cloud.get_credentials()
        with tempfile.TemporaryDirectory(prefix="bench-provider-") as scratch:
            env = {
                **base_environment(),
                "HOME": str(Path(self.settings.TERRAFORM_HOME) / "home"),
                "TMPDIR": scratch,
                "PCLOUD_ACCESS_KEY_ID": credentials["access_key_id"],
                "PCLOUD_SECRET_ACCESS_KEY": credentials["secret_access_key"],
            }
            started = time.perf_counter()
            process = subprocess.Popen(
                [str(executable)], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
            )
            line = process.stdout.readline()
            elapsed = time.perf_counter() - started
            process.kill()
            process.wait()
            process.stdout.close()
        if not line.startswith("1|6|unix|"):
            raise BenchError(f"unexpected handshake from the provider: {line!r}")
        return elapsed


# The trace: how often Terraform starts the provider, and how long each start and stop takes there ----------

TRACE_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)\S*\s")


def _trace_time(line: str) -> datetime | None:
    match = TRACE_TIME.match(line)
    return datetime.fromisoformat(match.group(1)) if match else None


@dataclass
class TraceFigures:
    starts: int
    handshakes: list[float]  # "starting plugin" -> "using plugin" (seconds)
    lifetimes: list[float]  # "starting plugin" -> "plugin process exited"


def read_trace(path: Path) -> TraceFigures:
    """Provider processes Terraform started for one command, from its TF_LOG=TRACE log."""
    starting: dict[str, datetime] = {}
    handshakes, lifetimes, starts = [], [], 0
    pending: list[datetime] = []
    if not path.exists():
        return TraceFigures(0, [], [])
    for line in path.read_text(errors="replace").splitlines():
        if "terraform-provider-pcloud" not in line and "using plugin" not in line:
            continue
        when = _trace_time(line)
        if when is None:
            continue
        if "starting plugin" in line:
            starts += 1
            pending.append(when)
        elif "plugin started" in line:
            pid = re.search(r"pid=(\d+)", line)
            if pid and pending:
                starting[pid.group(1)] = pending[0]
        elif "using plugin" in line and pending:
            handshakes.append((when - pending.pop(0)).total_seconds())
        elif "plugin process exited" in line:
            pid = re.search(r"pid=(\d+)", line)
            if pid and pid.group(1) in starting:
                lifetimes.append((when - starting.pop(pid.group(1))).total_seconds())
    return TraceFigures(starts, handshakes, lifetimes)


# Output ------------------------------------------------------------------------------------------------------


def spread(values: list[float]) -> str:
    return f"{min(values):.2f}–{max(values):.2f}"


def report(results: dict[str, ModuleResult], startups: list[float], repeat: int) -> None:
    median = statistics.median
    print()
    print("Run overhead: portal apply (queued → succeeded, real Celery worker) ÷ raw terraform init + apply,")
    print(f"{repeat} interleaved repetitions per module; medians in seconds (min–max).")
    print()
    header = (
        f"{'module':<9} {'portal':>18} {'raw':>18} {'raw init':>9} {'raw apply':>9}   {'ratio':>5} {'ratio min–max':>13}"
    )
    print(header)
    print("-" * len(header))
    for module, result in results.items():
        s = result.samples
        portal, raw = [x.portal for x in s], [x.raw for x in s]
        print(
            f"{module:<9} {median(portal):>6.2f} ({spread(portal):>9}) {median(raw):>6.2f} ({spread(raw):>9})"
            f" {median(x.raw_init for x in s):>9.2f} {median(x.raw_apply for x in s):>9.2f}"
            f"   {median(portal) / median(raw):>5.2f} {spread([x.ratio for x in s]):>13}"
        )
    print()
    print("Where the portal's time goes (medians, seconds): wake = queued → claimed by the worker; worker =")
    print("claimed → finished, of which terraform init and terraform apply <planfile> (as the run recorded them),")
    print("the rest being state reads, the workspace and the outcome; rest = enqueueing and seeing the status.")
    print(f"{'module':<9} {'wake':>6} {'worker':>7} {'init':>6} {'apply':>6} {'other':>6} {'rest':>6}")
    for module, result in results.items():
        s = result.samples
        other = median(x.worker - x.worker_init - x.worker_apply for x in s)
        rest = median(x.portal - x.wake - x.worker for x in s)
        print(
            f"{module:<9} {median(x.wake for x in s):>6.2f} {median(x.worker for x in s):>7.2f}"
            f" {median(x.worker_init for x in s):>6.2f} {median(x.worker_apply for x in s):>6.2f} {other:>6.2f}"
            f" {rest:>6.2f}"
        )
    print()
    startup = median(startups)
    print(
        f"Provider start-up, exec → handshake line: median {startup * 1000:.0f} ms "
        f"(min–max {min(startups) * 1000:.0f}–{max(startups) * 1000:.0f} ms, {len(startups)} starts)."
    )
    print("Provider processes Terraform starts (counted in TF_LOG=TRACE runs) × that median, against the medians:")
    print(f"{'module':<9} {'raw init+apply':>15} {'share of raw':>19} {'portal init+apply':>18} {'share of portal':>19}")
    for module, result in results.items():
        starts = {label: figures.starts for label, figures in result.traces.items()}
        raw_starts = sum(n for label, n in starts.items() if label.startswith("raw "))
        portal_starts = sum(n for label, n in starts.items() if label.startswith("portal "))
        raw = median(x.raw for x in result.samples)
        portal = median(x.portal for x in result.samples)

        def share(count: int, total: float) -> str:
            return f"{count * startup:.2f} s = {count * startup / total:>3.0%}"

        raw_detail = f"{starts.get('raw init', 0)} + {starts.get('raw apply', 0)}"
        portal_detail = f"{starts.get('portal init', 0)} + {starts.get('portal apply', 0)}"
        other = portal_starts - starts.get("portal init", 0) - starts.get("portal apply", 0)
        portal_detail += f" + {other}" if other else ""
        print(
            f"{module:<9} {raw_detail:>15} {share(raw_starts, raw):>19} {portal_detail:>18}"
            f" {share(portal_starts, portal):>19}"
        )
    handshakes = [h for r in results.values() for figures in r.traces.values() for h in figures.handshakes]
    lifetimes = [t for r in results.values() for figures in r.traces.values() for t in figures.lifetimes]
    if handshakes and lifetimes:
        print(
            f"Inside Terraform (traced, so slower): start → handshake median {median(handshakes) * 1000:.0f} ms, "
            f"start → exit median {median(lifetimes) * 1000:.0f} ms, over {len(lifetimes)} processes."
        )
    print()
    print("Each kind of run, portal ÷ raw (medians, seconds): plan = a plan Run ÷ init + plan -out; apply as above;")
    print("destroy = a destroy plan Run and its apply ÷ init + destroy -auto-approve.")
    print(f"{'module':<9} {'plan':>19} {'apply':>19} {'destroy':>19}")
    kinds = {}
    for module, result in results.items():
        s = result.samples
        cells = []
        for kind, portal_of, raw_of in (
            ("plan", lambda x: x.plan_portal, lambda x: x.plan_raw),
            ("apply", lambda x: x.portal, lambda x: x.raw),
            ("destroy", lambda x: x.destroy_portal, lambda x: x.destroy_raw),
        ):
            portal, raw = median(portal_of(x) for x in s), median(raw_of(x) for x in s)
            kinds.setdefault(kind, [0.0, 0.0])
            kinds[kind][0] += portal
            kinds[kind][1] += raw
            cells.append(f"{portal:5.2f}/{raw:5.2f} = {portal / raw:4.2f}")
        print(f"{module:<9} " + " ".join(f"{cell:>19}" for cell in cells))
    print(f"{'all':<9} " + " ".join(f"{f'{p / r:4.2f}':>19}" for p, r in kinds.values()))
    print()
    print("From the final approval to the instance active (a whole request, one-stage policy; medians, min–max):")
    for module, result in results.items():
        times = result.approval_to_active
        print(f"{module:<9} {median(times):6.2f} s ({spread(times)})")
    portal_total = sum(median(x.portal for x in r.samples) for r in results.values())
    raw_total = sum(median(x.raw for x in r.samples) for r in results.values())
    ratios = [x.ratio for r in results.values() for x in r.samples]
    print()
    print(
        f"Overall apply portal ÷ raw (sum of the medians, {portal_total:.2f} s ÷ {raw_total:.2f} s; "
        f"single repetitions {spread(ratios)}): {portal_total / raw_total:.2f}"
    )


# Main --------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run_overhead", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=4, help="timed repetitions per module (default 4)")
    parser.add_argument("--modules", default=",".join(MODULES), help="comma-separated, of " + ", ".join(MODULES))
    parser.add_argument("--starts", type=int, default=16, help="provider start-up samples (default 16)")
    parser.add_argument("--keep", action="store_true", help="keep the sandbox (logs, traces) and print its path")
    args = parser.parse_args(argv)
    modules = [m.strip() for m in args.modules.split(",") if m.strip()]
    unknown = set(modules) - set(MODULES)
    if unknown or not modules or args.repeat < 1 or args.starts < 1:
        parser.error(f"unknown modules {sorted(unknown)}" if unknown else "nothing to measure")

    # A terminated bench still stops its worker and cloud and removes its sandbox (on the way out of `with`).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    root = Path(tempfile.mkdtemp(prefix="bench-run-overhead-"))
    with ExitStack() as stack:
        if args.keep:
            stack.callback(print, f"sandbox kept: {root}")
        else:
            stack.callback(shutil.rmtree, root, ignore_errors=True)
        print(f"setting up in {root} …", flush=True)
        configure_environment(stack, root)
        import django

        django.setup()
        # The file-system broker (the default) has no host name, and kombu warns about it on every send.
        logging.getLogger("kombu.connection").setLevel(logging.ERROR)
        from django.core.management import call_command
        from django.db import connections

        stack.callback(connections.close_all)
        call_command("migrate", verbosity=0, interactive=False)
        bench = Bench(root)
        stack.callback(delete_queues)  # after the worker stops (callbacks run last registered first)
        bench.worker = start_worker(stack, root)

        # Warm-up, untimed: one round per module (the worker's first imports, moto's services, compiled
        # bytecode), then the traced runs that count provider processes.
        results = {module: ModuleResult() for module in modules}
        for module in modules:
            print(f"warm-up {module} …", flush=True)
            bench.round(module, "w", portal_first=True)
            trace = root / "trace" / module
            trace.mkdir(parents=True)
            results[module].traces = bench.count_starts(module, trace)

        startups: list[float] = []
        per_round = max(1, math.ceil(args.starts / (args.repeat * len(modules))))
        for rep in range(args.repeat):
            for index, module in enumerate(modules):
                sample = bench.round(module, f"r{rep}", portal_first=(rep + index) % 2 == 0)
                results[module].samples.append(sample)
                results[module].approval_to_active.append(bench.journey(module, f"j{rep}"))
                startups.extend(bench.provider_startup() for _ in range(per_round))
                print(
                    f"  rep {rep + 1}/{args.repeat} {module:<9} apply portal {sample.portal:6.2f} s  raw {sample.raw:6.2f} s"
                    f"  plan {sample.plan_portal:5.2f}/{sample.plan_raw:5.2f}  destroy {sample.destroy_portal:5.2f}/"
                    f"{sample.destroy_raw:5.2f}  approval→active {results[module].approval_to_active[-1]:5.2f} s",
                    flush=True,
                )
        report(results, startups, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
