"""Scale-out: two worker hosts (network namespaces with addresses of their own, bench/hosts.py), each a Celery
worker from this checkout with its own var dir, Terraform home and provider mirror, sharing only PostgreSQL,
Redis, the state store and the local cloud. Requests for four clouds of three tiers go through plan, approval
and apply; each host runs some; a tier's runs go only to the hosts that serve its queue; and no cloud ever had
more runs running at once than its cap, although the two hosts together had room for more."""
import itertools
import os

import pytest
from django.db import connection

from bench.hosts import Network, netns_refusal
from catalogue.choices import CloudTier
from portal.choices import Role
from provisioning.choices import RequestStatus, RunStatus
from provisioning.models import Request, Run
from provisioning.services import requests as svc
from tests.catalogue.factories import CloudFactory, OfferingFactory, ServiceFactory
from tests.e2e.conftest import database_url
from tests.e2e.helpers import count_objects, wait_for
from tests.portal.factories import UserFactory
from tests.provisioning.conftest import make_policy

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# (slug, tier, cap, requests): the two industry clouds are served by both hosts and capped at one run.
CLOUDS = [
    ("so-gov", CloudTier.GOVERNMENT, 2, 2),
    ("so-ind-a", CloudTier.INDUSTRY, 1, 3),
    ("so-ind-b", CloudTier.INDUSTRY, 1, 3),
    ("so-spe", CloudTier.SPECIALTY, 2, 2),
]
CONCURRENCY = 2


def max_overlap(runs) -> int:
    """The most runs that were running at one moment, from their started_at / finished_at."""
    events = sorted(
        itertools.chain.from_iterable(((run.started_at, 1), (run.finished_at, -1)) for run in runs),
        key=lambda event: (event[0], event[1]),  # an end before a start at the same instant
    )
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


@pytest.fixture
def network(tmp_path):
    reason = netns_refusal()
    if reason:
        pytest.skip(f"worker hosts need network namespaces: {reason}")
    if connection.vendor != "postgresql":
        pytest.skip("worker hosts share the database over TCP: set DATABASE_URL to PostgreSQL")
    with Network(workdir=tmp_path / "hosts", site=1) as net:
        yield net


def test_requests_complete_across_two_hosts_within_queues_and_caps(
    network, e2e_settings, local_clouds, requester, agency_approver
):
    if not e2e_settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("worker hosts share the broker over TCP: set CELERY_BROKER_URL to Redis")
    urls = network.open(database=database_url(), broker=e2e_settings.CELERY_BROKER_URL, cloud=e2e_settings.LOCAL_CLOUD_URL)
    # The one cloud address that this process and every host reach alike: it is what the clouds' rows store.
    for name in ("LOCAL_CLOUD_URL", "STATE_ENDPOINT", "STATE_DYNAMODB_ENDPOINT"):
        setattr(e2e_settings, name, urls["cloud"])
    queues = {tier: f"so-{tier}-{os.getpid()}" for tier in CloudTier.values}
    e2e_settings.RUN_QUEUES_BY_TIER = queues

    clouds, offerings = {}, {}
    for slug, tier, cap, _ in CLOUDS:
        cloud = CloudFactory(slug=slug, tier=tier, max_concurrent_runs=cap)
        local_clouds(cloud)
        clouds[slug] = cloud
        offerings[slug] = OfferingFactory(
            cloud=cloud, service=ServiceFactory(slug="bucket"), usage_rules={"storage_gb": {"from": "quota_gb"}}
        )
    owners = {slug: UserFactory(username=f"owner-{slug}", roles=[(Role.CLOUD_OWNER, cloud)]) for slug, cloud in clouds.items()}
    make_policy()

    shared = {
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "PATH": os.environ["PATH"],
        "SECRET_KEY": e2e_settings.SECRET_KEY,
        "CREDENTIALS_KEY": e2e_settings.CREDENTIALS_KEY,
        "AUDIT_HMAC_KEY": e2e_settings.AUDIT_HMAC_KEY,
        "AUDIT_CHECKPOINT_BUCKET": "",
        "RUN_QUEUE": e2e_settings.RUN_QUEUE,
        "NOTIFY_QUEUE": e2e_settings.NOTIFY_QUEUE,
        "RUN_QUEUES_BY_TIER": ",".join(f"{tier}={queue}" for tier, queue in queues.items()),
        "RUN_HEARTBEAT_SECONDS": str(e2e_settings.RUN_HEARTBEAT_SECONDS),
    }
    # Host 1 serves the government and industry tiers, host 2 the industry and specialty tiers.
    serves = {
        "so1-w1": [queues[CloudTier.GOVERNMENT], queues[CloudTier.INDUSTRY]],
        "so1-w2": [queues[CloudTier.INDUSTRY], queues[CloudTier.SPECIALTY]],
    }
    for index, (host, host_queues) in enumerate(serves.items(), start=1):
        worker = network.start_worker(index, env=shared, queues=host_queues, concurrency=CONCURRENCY)
        assert worker.host == host

    requests = []
    for slug, _, _, count in CLOUDS:
        for n in range(count):
            request = svc.request_create(
                actor=requester, offering=offerings[slug], justification="scale-out",
                parameters={"name": f"so-{slug}-{n}-{os.getpid()}", "versioning": False, "quota_gb": 1},
            )
            svc.request_submit(actor=requester, request=request)
            requests.append(request)

    def all_in(status):
        states = dict(Request.objects.filter(pk__in=[r.pk for r in requests]).values_list("pk", "status"))
        stuck = {number: s for number, s in states.items() if s in (RequestStatus.FAILED, RequestStatus.CANCELLED)}
        assert not stuck, f"requests ended early: {stuck}\n" + "\n".join(w.output()[-2000:] for w in network.workers)
        return all(s == status for s in states.values())

    wait_for(lambda: all_in(RequestStatus.AWAITING_APPROVAL), timeout=120, interval=0.5, what="every plan")
    for request in requests:
        request.refresh_from_db()
        svc.request_approve(actor=agency_approver, request=request)
        svc.request_approve(actor=owners[request.offering.cloud.slug], request=request)
    wait_for(lambda: all_in(RequestStatus.COMPLETED), timeout=120, interval=0.5, what="every apply")

    # Every request made its bucket, in its own cloud's account.
    for request in requests:
        request.refresh_from_db()
        assert count_objects(request.offering.cloud, "bucket", request.instance.workspace) == 1

    runs = list(Run.objects.filter(request__in=requests).select_related("workspace__cloud"))
    assert len(runs) == 2 * len(requests) and all(run.status == RunStatus.SUCCEEDED for run in runs)
    host_of = {run.pk: run.worker.split(":", 1)[0] for run in runs}
    assert set(host_of.values()) == set(serves), host_of
    for run in runs:
        assert queues[run.workspace.cloud.tier] in serves[host_of[run.pk]], (run.pk, run.worker)
    industry = [run for run in runs if run.workspace.cloud.tier == CloudTier.INDUSTRY]
    assert {host_of[run.pk] for run in industry} == set(serves), "both hosts serve the industry queue"

    for slug, _, cap, _ in CLOUDS:
        on_cloud = [run for run in runs if run.workspace.cloud.slug == slug]
        assert max_overlap(on_cloud) <= cap, (slug, [(r.worker, r.started_at, r.finished_at) for r in on_cloud])
    # The caps were what held the industry clouds back: the hosts did run several runs at once.
    assert max_overlap(runs) >= 2
