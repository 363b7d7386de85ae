"""Throughput: approved create requests across many clouds, with one worker host and with two.

One run, the phases interleaved round by round (the order reverses every round):

- portal, 1 host: N bucket requests across C clouds are submitted and planned (untimed), then approved in
  turn; timed from the first approval to the last request completed, applied by the worker on host so2-w1 alone;
- portal, 2 hosts: the same with hosts so2-w1 and so2-w2 both on the queue (each at the same concurrency);
- raw at the same parallelism as each: `terraform init` + `terraform apply -auto-approve` of the same root
  modules (written by provisioning.workspaces.prepare, fresh state keys and bucket names), P at a time.

The hosts are network namespaces made by bench/hosts.py (needs root): each worker has its own var dir,
Terraform home and provider mirror and shares only PostgreSQL, Redis, the state store and the local cloud.
Printed last: wall time with 2 hosts ÷ with 1, and portal ÷ raw at the same parallelism.

    python -m bench.throughput [--requests 60] [--clouds 12] [--concurrency 1] [--rounds 1] [--keep]

Needs PostgreSQL (DATABASE_URL; a throwaway database on that server) and Redis (CELERY_BROKER_URL, the
bench's own queues). bench/README.md has the figures.
"""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

from bench.hosts import Network, netns_refusal
from bench.run_overhead import BenchError, start_cloud, throwaway_database

POLL_SECONDS = 0.1
PHASE_TIMEOUT = 900
TIERS = ("government", "industry", "specialty")


def cpu_times() -> tuple[int, int]:
    """The machine's busy and total CPU time so far (clock ticks, all cores), from /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def busy_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """How much of the machine's CPU (all cores) was busy between two cpu_times()."""
    return (after[0] - before[0]) / max(after[1] - before[1], 1)


def configure_environment(stack: ExitStack, root: Path, network: Network) -> None:
    """Settings for this process (and, through the forwarders, for the hosts); before Django starts."""
    database = throwaway_database(stack, root)
    urls = network.open(
        database=database,
        broker=os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/0",
        cloud=start_cloud(stack, root),
    )
    for name in ("TERRAFORM_MIRROR_DIR", "TERRAFORM_CLI_CONFIG", "TERRAFORM_EXTRA_PROVIDER_DIRS", "RUN_QUEUES_BY_TIER"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "PORTAL_ENV": "development",
            "PORTAL_VAR_DIR": str(root / "var"),
            "DATABASE_URL": database,
            "CELERY_BROKER_URL": urls["broker"],
            # The address every host and this process reach alike: it is what the clouds' rows store.
            "LOCAL_CLOUD_URL": urls["cloud"],
            "STATE_ENDPOINT": urls["cloud"],
            "STATE_DYNAMODB_ENDPOINT": urls["cloud"],
            "TERRAFORM_HOME": str(root / "terraform"),
            "RUN_QUEUE": f"tp-two-{os.getpid()}",
            "NOTIFY_QUEUE": f"tp-notify-{os.getpid()}",
            "AUDIT_CHECKPOINT_BUCKET": "",
        }
    )


class Throughput:
    def __init__(self, *, clouds: int, requests: int, concurrency: int):
        from django.conf import settings

        from catalogue.models import Cloud
        from portal.choices import Role
        from provisioning import local_cloud, state_store
        from provisioning.models import ApprovalPolicy, PolicyStage
        from provisioning.terraform_setup import terraform_mirror_build
        from tests.catalogue.factories import CloudFactory, OfferingFactory, ServiceFactory
        from tests.portal.factories import AgencyFactory, UserFactory

        self.settings = settings
        self.requests_per_phase = requests
        self.concurrency = concurrency
        terraform_mirror_build()
        local_cloud.wait_until_up()
        state_store.bootstrap()
        agency = AgencyFactory(code="bench", name="基准测试单位")
        self.requester = UserFactory(username="bench-requester", agency=agency, roles=[Role.REQUESTER])
        self.approver = UserFactory(username="bench-approver", agency=agency, roles=[Role.AGENCY_APPROVER])
        policy = ApprovalPolicy.objects.create(name="基准审批", is_default=True)
        PolicyStage.objects.create(policy=policy, order=1, name="单位审批", approver_role="agency_approver")
        PolicyStage.objects.create(policy=policy, order=2, name="云主管部门审批", approver_role="cloud_owner")
        self.offerings, self.owners = [], {}
        for index in range(clouds):
            # The cap is not what this bench measures: room for every run the hosts can take at once.
            cloud = CloudFactory(
                slug=f"tp-{index:02d}", tier=TIERS[index % len(TIERS)], endpoint=settings.LOCAL_CLOUD_URL,
                max_concurrent_runs=2 * concurrency,
            )
            local_cloud.cloud_account_ensure(cloud)
            cloud.refresh_from_db()
            self.owners[cloud.pk] = UserFactory(username=f"owner-{cloud.slug}", roles=[(Role.CLOUD_OWNER, cloud)])
            self.offerings.append(
                OfferingFactory(cloud=cloud, service=ServiceFactory(slug="bucket"), usage_rules={"storage_gb": {"from": "quota_gb"}})
            )
        self.cloud_model = Cloud

    def planned(self, tag: str) -> list:
        """N requests, round-robin over the clouds, submitted and planned (on both hosts), awaiting approval."""
        from provisioning.choices import RequestStatus
        from provisioning.services import requests as svc

        self.settings.RUN_QUEUE = f"tp-two-{os.getpid()}"
        made = []
        for n in range(self.requests_per_phase):
            offering = self.offerings[n % len(self.offerings)]
            request = svc.request_create(
                actor=self.requester, offering=offering, justification="bench",
                parameters={"name": f"tp-{tag}-{n}", "versioning": False, "quota_gb": 1},
            )
            svc.request_submit(actor=self.requester, request=request)
            made.append(request)
        self.wait(made, RequestStatus.AWAITING_APPROVAL)
        for request in made:
            request.refresh_from_db()
        return made

    def wait(self, requests: list, status: str) -> None:
        from provisioning.choices import RequestStatus
        from provisioning.models import Request

        ids = [request.pk for request in requests]
        deadline = time.monotonic() + PHASE_TIMEOUT
        while True:
            states = list(Request.objects.filter(pk__in=ids).values_list("status", "error"))
            failed = [error for state, error in states if state in (RequestStatus.FAILED, RequestStatus.CANCELLED)]
            if failed:
                raise BenchError(f"{len(failed)} requests failed, e.g.: {failed[0]}")
            if all(state == status for state, _ in states):
                return
            if time.monotonic() > deadline:
                raise BenchError(f"requests not {status} after {PHASE_TIMEOUT}s")
            time.sleep(POLL_SECONDS)

    def portal(self, hosts: int, tag: str) -> dict:
        """Approve the planned requests and time them to completed, on the queue `hosts` hosts serve."""
        from provisioning.choices import RequestStatus
        from provisioning.models import Run
        from provisioning.services import requests as svc

        requests = self.planned(tag)
        self.settings.RUN_QUEUE = f"tp-{'one' if hosts == 1 else 'two'}-{os.getpid()}"
        cpu, started = cpu_times(), time.perf_counter()
        for request in requests:
            svc.request_approve(actor=self.approver, request=request)
            svc.request_approve(actor=self.owners[request.offering.cloud_id], request=request)
        approving = time.perf_counter() - started
        self.wait(requests, RequestStatus.COMPLETED)
        elapsed = time.perf_counter() - started
        busy = busy_share(cpu, cpu_times())
        applies = list(Run.objects.filter(request__in=requests, kind="apply").values_list("worker", "started_at", "finished_at"))
        per_host: dict[str, int] = {}
        for worker, _, _ in applies:
            per_host[worker.split(":", 1)[0]] = per_host.get(worker.split(":", 1)[0], 0) + 1
        run = statistics.median((end - begin).total_seconds() for _, begin, end in applies)
        return {"wall": elapsed, "per_host": per_host, "run_median": run, "cpu": busy, "approving": approving}

    def raw(self, parallelism: int, tag: str) -> dict:
        """The same root modules, applied by terraform directly, `parallelism` at a time."""
        from bench.run_overhead import Bench
        from provisioning.choices import PlanMode, RunKind
        from provisioning.models import Run, Workspace
        from provisioning.workspaces import prepare

        scratch = Path(tempfile.mkdtemp(prefix="tp-raw-"))
        jobs = []
        for n in range(self.requests_per_phase):
            offering = self.offerings[n % len(self.offerings)]
            variables = {"name": f"tp-{tag}-{n}", "versioning": False, "quota_gb": 1}
            workspace = Workspace.objects.create(
                cloud=offering.cloud, module=offering.module, agency=self.requester.agency, variables=variables
            )
            run = Run(workspace=workspace, kind=RunKind.PLAN, plan_mode=PlanMode.NORMAL, module=offering.module, variables=variables)
            run.secret_variables = {}
            directory = scratch / str(n)
            directory.mkdir()
            prepared = prepare(run, directory)
            jobs.append((prepared.directory, prepared.env))
        terraform = Bench.terraform.__get__(self)  # the same subprocess handling as bench.run_overhead

        def apply(job) -> float:
            directory, env = job
            t0 = time.perf_counter()
            terraform(directory, env, "init", "-input=false", "-no-color")
            terraform(directory, env, "apply", "-auto-approve", "-input=false", "-no-color")
            return time.perf_counter() - t0

        cpu, started = cpu_times(), time.perf_counter()
        with ThreadPoolExecutor(max_workers=parallelism) as pool:
            durations = list(pool.map(apply, jobs))
        elapsed = time.perf_counter() - started
        busy = busy_share(cpu, cpu_times())
        shutil.rmtree(scratch, ignore_errors=True)
        return {"wall": elapsed, "run_median": statistics.median(durations), "cpu": busy}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.throughput", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=60, help="approved create requests per phase (default 60)")
    parser.add_argument("--clouds", type=int, default=12, help="clouds they spread over (default 12)")
    # One run at a time per host: a run keeps about one core busy (Terraform, the provider, the worker), so on the
    # 2-core build machine each "host" then has a core of its own, as real hosts would.
    parser.add_argument("--concurrency", type=int, default=1, help="runs each worker host takes at once (default 1)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds of the four phases (default 1)")
    parser.add_argument("--keep", action="store_true", help="keep the sandbox (worker logs) and print its path")
    args = parser.parse_args(argv)
    if min(args.requests, args.clouds, args.concurrency, args.rounds) < 1:
        parser.error("every count must be at least 1")
    reason = netns_refusal()
    if reason:
        print(f"bench.throughput needs worker hosts (network namespaces): {reason}", file=sys.stderr)
        return 2

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    root = Path(tempfile.mkdtemp(prefix="bench-throughput-"))
    with ExitStack() as stack:
        if args.keep:
            stack.callback(print, f"sandbox kept: {root}")
        else:
            stack.callback(shutil.rmtree, root, ignore_errors=True)
        network = Network(workdir=root / "hosts", site=2)
        stack.callback(network.close)
        print(f"setting up in {root} …", flush=True)
        configure_environment(stack, root, network)
        import django

        django.setup()
        logging.getLogger("kombu.connection").setLevel(logging.ERROR)
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connections

        from bench.run_overhead import delete_queues

        stack.callback(connections.close_all)
        call_command("migrate", verbosity=0, interactive=False)
        bench = Throughput(clouds=args.clouds, requests=args.requests, concurrency=args.concurrency)
        one, two = f"tp-one-{os.getpid()}", f"tp-two-{os.getpid()}"
        shared = {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "PATH": os.environ["PATH"],
            "PORTAL_ENV": "development",
            "SECRET_KEY": settings.SECRET_KEY,
            "CREDENTIALS_KEY": settings.CREDENTIALS_KEY,
            "AUDIT_HMAC_KEY": settings.AUDIT_HMAC_KEY,
            "AUDIT_CHECKPOINT_BUCKET": "",
            "RUN_QUEUE": two,
            "NOTIFY_QUEUE": os.environ["NOTIFY_QUEUE"],
        }

        def forget_queues() -> None:
            for name in (one, two):
                os.environ["RUN_QUEUE"] = name
                delete_queues()

        stack.callback(forget_queues)  # after the workers stop (callbacks run last registered first)
        for index, queues in ((1, [one, two]), (2, [two])):
            print(f"starting worker host {network.prefix}-w{index} …", flush=True)
            network.start_worker(index, env=shared, queues=queues, concurrency=args.concurrency)

        p1, p2 = args.concurrency, 2 * args.concurrency
        phases = [
            ("portal, 1 host", lambda tag: bench.portal(1, tag)),
            ("portal, 2 hosts", lambda tag: bench.portal(2, tag)),
            (f"raw, {p1} at a time", lambda tag: bench.raw(p1, tag)),
            (f"raw, {p2} at a time", lambda tag: bench.raw(p2, tag)),
        ]
        print("warm-up (untimed): a few requests on both hosts …", flush=True)
        bench.requests_per_phase, full = min(args.clouds, args.requests), args.requests
        bench.portal(2, "w")
        bench.requests_per_phase = full
        results: dict[str, list[dict]] = {name: [] for name, _ in phases}
        for round_index in range(args.rounds):
            order = phases if round_index % 2 == 0 else list(reversed(phases))
            for name, phase in order:
                result = phase(f"r{round_index}p{[n for n, _ in phases].index(name)}")
                results[name].append(result)
                hosts = (f"  approvals {result['approving']:.1f} s, applies per host {result['per_host']}"
                         if "per_host" in result else "")
                print(
                    f"  round {round_index + 1}/{args.rounds} {name:<18} {result['wall']:7.1f} s"
                    f"  (one request's run median {result['run_median']:.2f} s, CPU {100 * result['cpu']:.0f} % busy)"
                    f"{hosts}",
                    flush=True,
                )
        report(results, phases, args, p1, p2)
    return 0


def report(results: dict, phases: list, args, p1: int, p2: int) -> None:
    median = statistics.median
    wall = {name: median(r["wall"] for r in results[name]) for name, _ in phases}
    one, two = wall["portal, 1 host"], wall["portal, 2 hosts"]
    raw1, raw2 = wall[f"raw, {p1} at a time"], wall[f"raw, {p2} at a time"]
    n = args.requests
    print()
    print(
        f"Throughput: {n} approved bucket requests over {args.clouds} clouds, first approval → last completed;"
        f" each host at concurrency {args.concurrency}; medians over {args.rounds} round(s), seconds."
    )
    print()
    print(f"{'phase':<20} {'wall':>8} {'requests/min':>13} {'run median':>11} {'CPU busy':>9}")
    for name, _ in phases:
        run = median(r["run_median"] for r in results[name])
        cpu = median(r["cpu"] for r in results[name])
        print(f"{name:<20} {wall[name]:>8.1f} {60 * n / wall[name]:>13.1f} {run:>10.2f}s {100 * cpu:>8.0f}%")
    print()
    print(f"portal, 1 host ÷ raw at parallelism {p1}: {one / raw1:.2f}")
    print(f"raw at {p2} ÷ raw at {p1} (what the machine itself gives the doubled parallelism): {raw2 / raw1:.2f}")
    print(f"wall time 2 hosts ÷ 1 host (target ≤ 0.55): {two / one:.2f}")
    print(f"portal, 2 hosts ÷ raw at parallelism {p2} (target ≤ 1.15): {two / raw2:.2f}")


if __name__ == "__main__":
    sys.exit(main())
