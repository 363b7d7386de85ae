"""The fault suite: bucket requests go through the whole journey (submit, plan, approve, apply) on a real Celery
worker while the suite breaks things under them: it SIGKILLs workers at random moments of Terraform's init, plan
and apply (FAULT_KILLS times), restarts the broker (a Redis of its own), drops the worker's database connections
(pg_terminate_backend) and takes the local cloud away during an apply. Afterwards nothing may be lost: every
request is completed, failed with its reason, or waits for the operators with a verdict offered; the cloud holds
no duplicate; no state lock is left held; no apply ran again without a person deciding; the audit chain is
intact. Each test prints its counts (and writes them under the test var dir, shown at the end of the run).

FAULT_KILLS (default 20) and FAULT_SEED (default: random, printed) choose how many
kills and where; FAULT_REDIS_PORT picks the broker's port (default: a free one)."""
import itertools
import os
import random
import shutil
import time
from collections import Counter

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.test import Client
from django.urls import reverse
from django.utils.text import slugify

from catalogue.choices import CloudTier
from portal.choices import Role
from portal.errors import Conflict
from portal.models import AuditEvent
from portal.services import audit_verify
from provisioning import state_store
from provisioning.choices import RequestStatus, RunKind, RunStatus
from provisioning.models import Approval, Request, Run
from provisioning.outcomes import janitor_sweep
from provisioning.runner import resources_of
from provisioning.services import requests as svc
from provisioning.services.reconcile import reconciliation_of, runs_awaiting_reconciliation
from tests.catalogue.factories import CloudFactory, OfferingFactory, ServiceFactory
from tests.e2e.conftest import Worker
from tests.e2e.faults import CloudRelay, RedisServer, free_port, publishing_to, table, terraform_commands
from tests.e2e.helpers import cloud_client, count_objects, wait_for
from tests.portal.factories import UserFactory
from tests.provisioning.conftest import make_policy

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="the fault suite restarts a redis-server of its own"),
]
KILLS = int(os.environ.get("FAULT_KILLS", "20"))
SEED = int(os.environ.get("FAULT_SEED", "0")) or random.SystemRandom().randrange(1, 10**6)
PHASES = ("init", "plan", "apply")
LOST_AFTER = 6  # seconds without a heartbeat before the janitor calls a run lost (heartbeat every second)
SETTLE_TIMEOUT = 240
BUCKETS = itertools.count(1)  # bucket names are one namespace across the session's local cloud
OUTAGE_SECONDS = 20


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"), int(os.environ.get("FAULT_REDIS_PORT", 0)) or free_port())
    server.start()
    with publishing_to(server.url):
        yield server
    server.stop()


@pytest.fixture
def stage(e2e_settings, broker, local_clouds, cloud_server, transactional_db):
    """A cloud reached through a relay the test can take down, a bucket offering with one approval stage, the
    people, and workers on the suite's own broker that call a run lost after LOST_AFTER seconds."""
    relay = CloudRelay(int(cloud_server.rsplit(":", 1)[1]), free_port())
    relay.up()
    e2e_settings.LOCAL_CLOUD_URL = relay.url  # the cloud; the state store stays on the server itself
    e2e_settings.CELERY_BROKER_URL = broker.url
    e2e_settings.RUN_HEARTBEAT_SECONDS = 1
    e2e_settings.RUN_LOST_AFTER_SECONDS = LOST_AFTER
    e2e_settings.RUN_STRANDED_AFTER_SECONDS = 10
    cloud = CloudFactory(slug=f"faults-{SEED}", name="工业云", tier=CloudTier.INDUSTRY, allowed_classifications=[1, 2, 3],
                         max_concurrent_runs=4)
    local_clouds(cloud)
    offering = OfferingFactory(cloud=cloud, service=ServiceFactory(slug="bucket"),
                               usage_rules={"storage_gb": {"from": "quota_gb"}})
    requester = UserFactory(username="fault_requester", roles=[Role.REQUESTER])
    approver = UserFactory(username="fault_approver", agency=requester.agency, roles=[Role.AGENCY_APPROVER])
    operator = UserFactory(username="fault_operator", roles=[Role.OPERATOR])
    make_policy(stages=[{"name": "单位审批", "approver_role": "agency_approver"}])

    class Stage:
        pass

    s = Stage()
    s.relay, s.broker, s.cloud, s.offering = relay, broker, cloud, offering
    s.requester, s.approver, s.operator = requester, approver, operator
    s.requests: list[Request] = []
    # A short visibility timeout: the broker hands the killed runs' messages out again, and each must be refused.
    s.workers: list[Worker] = []

    def worker(*, wait: bool = True) -> Worker:
        # A short visibility timeout: the broker hands a killed run's message out again, and it must be refused.
        started = Worker(e2e_settings, extra_env={
            "RUN_LOST_AFTER_SECONDS": str(LOST_AFTER), "CELERY_VISIBILITY_TIMEOUT": "20",
        }).launch()
        s.workers.append(started)
        if wait:
            started.wait_ready()
        return started

    s.worker = worker

    def submit():
        request = svc.request_create(
            actor=requester, offering=offering, justification="fault suite",
            parameters={"name": f"fault-{SEED}-{os.getpid()}-{next(BUCKETS)}", "quota_gb": 10, "versioning": False},
        )
        s.requests.append(request)  # kept before submitting: a submit that answers with an error is counted too
        svc.request_submit(actor=requester, request=request)
        return request

    s.submit = submit
    yield s
    for started in s.workers:
        started.stop()
    relay.down()


def approve_waiting(stage) -> int:
    """The approver signs every request that waits for them (the driver of the journeys)."""
    signed = 0
    for request in Request.objects.filter(pk__in=[r.pk for r in stage.requests], status=RequestStatus.AWAITING_APPROVAL):
        try:
            svc.request_approve(actor=stage.approver, request=request)
            signed += 1
        except Conflict:
            continue
    return signed


def at_rest(request: Request) -> bool:
    request.refresh_from_db()
    if request.status in (RequestStatus.COMPLETED, RequestStatus.FAILED):
        return True
    run = request.apply_run
    if run is None or run.status != RunStatus.NEEDS_RECONCILIATION:
        return False
    check = reconciliation_of(run)
    return check.refresh is not None and not check.refresh_active


def settle(stage, timeout: float = SETTLE_TIMEOUT) -> None:
    """Let the janitor and the approver work until every request is at rest."""

    def done():
        janitor_sweep()
        approve_waiting(stage)
        return all(at_rest(request) for request in stage.requests)

    wait_for(done, timeout=timeout, interval=1.0, what="every request to come to rest")


def verify(stage, title: str, faults: list[tuple[str, object]]) -> dict:
    """Assert that nothing was lost, duplicated, left locked or re-applied unasked; print and keep the counts."""
    outcome, reasons = Counter(), Counter()
    lost, duplicates, locks, reapplied = [], [], [], []
    cloud_buckets = inventory_buckets = 0
    page = Client()
    page.force_login(stage.operator)
    operations = page.get(reverse("provisioning:operations")).content.decode()
    awaiting = set(runs_awaiting_reconciliation().values_list("pk", flat=True))
    for request in stage.requests:
        request.refresh_from_db()
        workspace = request.plan_run.workspace if request.plan_run_id else None
        if request.status == RequestStatus.COMPLETED:
            outcome["completed"] += 1
            instance = request.instance
            held = [r for r in resources_of(state_store.read_state(workspace.state_key) or {}) if r["type"] == "pcloud_bucket"]
            inventory = [r for r in instance.resources if r["type"] == "pcloud_bucket"]
            inventory_buckets += len(inventory)
            if len(inventory) != 1 or [r["id"] for r in held] != [r["id"] for r in inventory]:
                lost.append(f"{request.number}: completed but the inventory {inventory} is not the state {held}")
        elif request.status == RequestStatus.FAILED:
            outcome["failed"] += 1
            reasons[" ".join(request.error.split())[:110]] += 1
            if not request.error.strip():
                lost.append(f"{request.number}: failed without a reason")
        elif request.apply_run_id and request.apply_run.status == RunStatus.NEEDS_RECONCILIATION:
            outcome["awaiting reconciliation"] += 1
            run = request.apply_run
            form = reverse("provisioning:run_reconcile", args=[run.pk])
            if run.pk not in awaiting or form not in operations or not reconciliation_of(run).refresh:
                lost.append(f"{request.number}: run #{run.pk} waits, but no operator is offered a verdict on it")
        else:
            lost.append(f"{request.number}: {request.status}")
        if workspace is None:
            continue
        in_cloud = count_objects(stage.cloud, "bucket", workspace)
        cloud_buckets += in_cloud
        if in_cloud > 1:
            duplicates.append(f"{request.number}: {in_cloud} buckets carry workspace {workspace.pk}")
        if request.status == RequestStatus.COMPLETED and in_cloud != 1:
            duplicates.append(f"{request.number}: completed, yet {in_cloud} buckets in the cloud")
        if state_store.lock_info(workspace.state_key) is not None:
            locks.append(f"{request.number}: {state_store.lock_info(workspace.state_key)}")
        # Each apply was claimed once (a lost apply is never taken up again), and each one follows an approval a
        # person gave after the apply before it: only people start an apply again (retry, then approve).
        applies = list(Run.objects.filter(request=request, kind__in=(RunKind.APPLY, RunKind.DESTROY)).order_by("id"))
        signed = list(Approval.objects.filter(request=request, approver__isnull=False).values_list("created_at", flat=True))
        previous = None
        for run in applies:
            asked = [at for at in signed if at <= run.queued_at and (previous is None or at > previous.queued_at)]
            if run.attempt > 1 or not asked:
                reapplied.append(f"{request.number}: apply #{run.pk} ({run.status}, attempt {run.attempt})")
            previous = run
    plans_applied_twice = (
        Run.objects.filter(kind=RunKind.APPLY).values("source_plan").order_by().annotate(n=Count("id")).filter(n__gt=1)
    )
    chain = audit_verify()
    janitor = AuditEvent.objects.filter(actor_username="janitor")
    runs = Counter(Run.objects.values_list("kind", "status"))
    rows = [
        *faults,
        ("seed (FAULT_SEED)", SEED),
        ("requests", len(stage.requests)),
        *((f"  {name}", n) for name, n in sorted(outcome.items())),
        ("runs by kind/status", ", ".join(f"{k}/{s}={n}" for (k, s), n in sorted(runs.items()))),
        ("lost plans/refreshes queued again by the janitor", janitor.filter(action="run.queued", details__reconciles__isnull=True).count()),
        ("lost applies sent to reconciliation", janitor.filter(action="run.needs_reconciliation").count()),
        ("buckets in the cloud / in the inventory", f"{cloud_buckets} / {inventory_buckets}"),
        *((f"  failed: {reason}", n) for reason, n in sorted(reasons.items())),
        ("lost requests", len(lost)),
        ("duplicates", len(duplicates)),
        ("state locks held", len(locks)),
        ("applies re-run without a person", len(reapplied) + plans_applied_twice.count()),
        ("audit chain", f"intact ({chain.checked} events)" if chain.intact else f"BROKEN: {chain}"),
    ]
    report = table(title, rows)
    summary_dir = settings.VAR_DIR / "faults"
    summary_dir.mkdir(parents=True, exist_ok=True)
    (summary_dir / f"{slugify(title)}.txt").write_text(report)
    print("\n" + report)
    assert not lost, lost
    assert not duplicates, duplicates
    assert not locks, locks
    assert not reapplied and not plans_applied_twice.exists(), reapplied
    assert chain.intact, chain
    assert sum(outcome.values()) == len(stage.requests)
    return outcome



# Seconds to wait, at random, once the phase is seen running: init is over in a fraction of a second.
MOMENT = {"init": 0.15, "plan": 1.2, "apply": 1.5}
AIM_TIMEOUT = 240  # seconds to find a worker in the phase, on a machine the rest of the suite loads too


def kill_at_a_random_moment(stage, workers: list[Worker], phase: str, rng: random.Random) -> tuple[Worker, list[str]]:
    """Keep work coming until a worker runs `terraform <phase>`, wait a random moment, and SIGKILL that worker if
    it is still in the phase (else aim again, at a shorter moment: a loaded machine stretches and shrinks the
    phases). Returns the worker and the Terraform commands it was running when it died."""
    deadline = time.monotonic() + AIM_TIMEOUT
    moment, missed = MOMENT[phase], 0
    while time.monotonic() < deadline:
        for worker in workers:
            if phase in terraform_commands(worker.process.pid):
                time.sleep(rng.uniform(0.0, moment))
                hit = terraform_commands(worker.process.pid)
                if phase not in hit:
                    missed += 1
                    moment /= 2
                    break
                worker.kill()
                return worker, hit
        mine = Run.objects.filter(request__in=stage.requests, status__in=(RunStatus.QUEUED, RunStatus.RUNNING))
        if phase == "apply" or rng.random() < 0.3:
            approve_waiting(stage)
        if phase == "apply":
            if not mine.exists() and not Request.objects.filter(
                pk__in=[r.pk for r in stage.requests], status=RequestStatus.AWAITING_APPROVAL
            ).exists():
                stage.submit()
        elif not mine.filter(kind=RunKind.PLAN, status=RunStatus.QUEUED).exists():
            stage.submit()  # a plan waiting for a worker is enough; a running one may be a killed one's
        janitor_sweep()
        time.sleep(0.05)
    raise AssertionError(f"no worker ran terraform {phase} in {AIM_TIMEOUT}s ({missed} aims missed):\n"
                         + "\n".join(w.output()[-2000:] for w in workers))


def refused_wakeups(stage) -> int:
    return sum(worker.output().count("'not-queued'") for worker in stage.workers)


def test_workers_killed_during_init_plan_and_apply_lose_nothing(stage):
    rng = random.Random(SEED)
    phases = [PHASES[i % 3] for i in range(KILLS)]
    rng.shuffle(phases)
    hits = Counter()
    started = time.monotonic()
    # Two workers take the runs; each one killed is replaced at once, and works as soon as it is up.
    workers = [stage.worker(wait=False), stage.worker()]
    for phase in phases:
        dead, hit = kill_at_a_random_moment(stage, workers, phase, rng)
        hits.update(command for command in set(hit) if command in (*PHASES, "refresh"))
        hits["kills"] += 1
        workers[workers.index(dead)] = stage.worker(wait=False)
    kill_seconds = time.monotonic() - started
    settle(stage)
    verify(stage, "faults: workers SIGKILLed", [
        ("SIGKILLs of a worker (FAULT_KILLS)", f"{hits['kills']} in {kill_seconds:.0f}s"),
        ("  terraform init running at the kill", hits["init"]),
        ("  terraform plan running at the kill", hits["plan"]),
        ("  terraform apply running at the kill", hits["apply"]),
        ("  terraform plan -refresh-only (a reconciliation's) running", hits["refresh"]),
        ("wake-ups refused as not queued (redelivered or stale)", refused_wakeups(stage)),
    ])


def running(workers: list[Worker], phase: str, stage, timeout: float = 120) -> Worker:
    """Wait (approving what waits and sweeping) until a worker runs `terraform <phase>`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for worker in workers:
            if phase in terraform_commands(worker.process.pid):
                return worker
        approve_waiting(stage)
        janitor_sweep()
        time.sleep(0.05)
    raise AssertionError(f"no worker ran terraform {phase}")


def test_broker_restarts_during_runs_lose_nothing(stage):
    """Redis restarts twice while Terraform runs, and people act while it is down: the worker reconnects, runs in
    flight end, and a wake-up the portal could not send is sent again by the janitor."""
    rng = random.Random(SEED + 1)
    workers = [stage.worker(wait=False), stage.worker()]
    for _ in range(3):
        stage.submit()
    during, refused = 0, []
    for phase in ("plan", "apply"):
        running(workers, phase, stage)
        time.sleep(rng.uniform(0.0, 1.0))
        stage.broker.stop()
        # While the broker is down a requester submits and the approver signs: the database takes both.
        for act in (stage.submit, lambda: approve_waiting(stage)):
            during += 1
            try:
                act()
            except Exception as exc:  # noqa: BLE001 - counted and shown: the action must still have happened
                refused.append(f"{type(exc).__name__}: {exc}")
        time.sleep(3)
        stage.broker.start()
        stage.broker.restarts += 1
    settle(stage)
    verify(stage, "faults: broker restarted", [
        ("broker (Redis) restarts during runs", stage.broker.restarts),
        ("people's actions while it was down", during),
        ("  of which answered with an error", len(refused)),
        ("wake-ups refused as not queued (redelivered or stale)", refused_wakeups(stage)),
    ])
    assert not refused, refused


def test_database_connections_dropped_during_runs_lose_nothing(stage):
    """pg_terminate_backend on every connection the workers hold, during a plan and during applies."""
    if connection.vendor != "postgresql":
        pytest.skip("pg_terminate_backend is PostgreSQL's: on SQLite the worker holds no server connection to drop")
    rng = random.Random(SEED + 2)
    workers = [stage.worker(wait=False), stage.worker()]
    for _ in range(3):
        stage.submit()
    dropped, drops = 0, []
    for phase in ("plan", "apply", "apply"):
        running(workers, phase, stage)
        time.sleep(rng.uniform(0.0, 1.0))
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            dropped += cursor.fetchone()[0]
        drops.append(phase)
    settle(stage)
    outcome = verify(stage, "faults: database connections dropped", [
        ("drops (pg_terminate_backend) during " + ", ".join(drops), len(drops)),
        ("worker connections terminated", dropped),
    ])
    # The workers lived on: a dropped connection must not turn a run that went on into a lost one.
    assert outcome["completed"] == len(stage.requests), outcome


def test_cloud_outage_during_an_apply_loses_nothing(stage):
    """The cloud's endpoint goes away for a while in the middle of applies; what failed is retried by its
    requester once the cloud is back, and the retry adopts whatever the failed apply had made."""
    workers = [stage.worker(wait=False), stage.worker()]
    for _ in range(2):
        stage.submit()
    running(workers, "apply", stage)
    stage.relay.down()
    time.sleep(OUTAGE_SECONDS)
    stage.relay.up()
    settle(stage)
    failed = [r for r in stage.requests if r.status == RequestStatus.FAILED]
    first = Counter(r.status for r in stage.requests)
    for request in failed:
        svc.request_retry(actor=stage.requester, request=request)
    settle(stage)
    # A bucket made just before the outage whose tagging the outage cut off would be in the cloud without the
    # workspace tag, where the provider cannot adopt it: counted, and its request must have failed naming it.
    names = {bucket["Name"] for bucket in cloud_client(stage.cloud, "s3").list_buckets()["Buckets"]}
    untagged = [r for r in stage.requests if r.parameters["name"] in names and count_objects(
        stage.cloud, "bucket", r.plan_run.workspace) == 0]
    for request in untagged:
        request.refresh_from_db()
        assert request.status == RequestStatus.FAILED and request.parameters["name"] in request.error
    verify(stage, "faults: cloud outage", [
        ("cloud outages during an apply", f"{stage.relay.outages} of {OUTAGE_SECONDS}s"),
        ("untagged buckets the outage left (retry fails naming them)", len(untagged)),
        ("requests completed / failed after the outage", f"{first[RequestStatus.COMPLETED]} / {len(failed)}"),
        ("failed ones retried by their requester", len(failed)),
    ])
