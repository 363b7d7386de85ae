"""Quotas that cannot race: 100 final approvals released at once on PostgreSQL against limits that fit 40.

Each request is built through the services and waits at its last stage (only the plan's completion is faked,
as in conftest.finish_run); then 100 threads, each with a database connection of its own, sign the last
stage at the same moment. Exactly 40 must reserve and move on to apply, 60 must be refused with a message
that names the dimension and its figures, and nothing may be left half-way: a refused approval leaves no
signature, no reservation and no run behind.

PostgreSQL only: SQLite serializes writers (every transaction is IMMEDIATE), so no race can happen there.
The server's max_connections (100 by default, and shared with other test processes) caps how many of the
threads hold a session at the same moment; they are all released at once and queue for a session.
"""
import threading
import traceback
from decimal import Decimal

import pytest
from django.db import connection

from catalogue.choices import QuotaDimension
from portal.models import AuditEvent, User
from portal.services import audit_verify
from provisioning.choices import (
    RequestStatus,
    ReservationStatus,
    RunKind,
    RunStatus,
    StageStatus,
)
from provisioning.models import Approval, QuotaLimit, QuotaReservation, Request
from provisioning.services import requests as svc
from provisioning.services.quotas import QuotaExceeded, demand_of, quota_reserve
from tests.provisioning.conftest import VM, finish_run

pytestmark = pytest.mark.django_db(transaction=True)

REQUESTS = 100
FITS = 40
# Sessions left free for the other test processes and workers sharing the server.
SESSION_MARGIN = 15


@pytest.fixture
def postgresql(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL (DATABASE_URL=postgres://…): SQLite runs one write transaction at a time, "
            "so concurrent final approvals cannot race there"
        )


def free_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('max_connections')::int - (SELECT count(*) FROM pg_stat_activity)")
        return cursor.fetchone()[0]


def awaiting_last_stage(requester, approver, offering) -> Request:
    request = svc.request_create(actor=requester, offering=offering, parameters=dict(VM), justification="并发审批")
    request = svc.request_submit(actor=requester, request=request)
    finish_run(request.plan_run)
    request.refresh_from_db()
    svc.request_approve(actor=approver, request=request, comment="单位同意")
    request.refresh_from_db()
    assert request.status == RequestStatus.AWAITING_APPROVAL
    assert request.stages.get(status=StageStatus.OPEN).order == 2
    return request


def test_concurrent_final_approvals_reserve_exactly_what_fits(
    postgresql, requester, agency_approver, cloud_owner, offering, default_policy, quota, no_broker
):
    # Given 100 requests at their last stage, and a vCPU limit on 教育云 that fits exactly 40 of them; a
    # monthly cost limit across all clouds fits them all, so two limit rows are locked by every approval.
    requests = [awaiting_last_stage(requester, agency_approver, offering) for _ in range(REQUESTS)]
    demand = demand_of(requests[0])
    vcpu = quota(QuotaDimension.VCPU, FITS * demand[QuotaDimension.VCPU])
    cost = quota(QuotaDimension.MONTHLY_COST, REQUESTS * demand[QuotaDimension.MONTHLY_COST], cloud_scope=None)
    no_broker["runs"].reset_mock()
    audit_before = AuditEvent.objects.count()

    sessions = max(1, min(REQUESTS, free_sessions() - SESSION_MARGIN))
    session_slots = threading.BoundedSemaphore(sessions)
    start = threading.Barrier(REQUESTS)
    outcomes: dict[int, object] = {}

    def sign(request_id: int) -> None:
        try:
            start.wait(timeout=120)
            with session_slots:
                try:
                    owner = User.objects.get(pk=cloud_owner.pk)  # a user object (and permission cache) per thread
                    svc.request_approve(actor=owner, request=Request(pk=request_id), comment="云主管部门同意")
                    outcomes[request_id] = "approved"
                except QuotaExceeded as exc:
                    outcomes[request_id] = exc
                finally:
                    connection.close()
        except Exception:  # anything else is a finding: keep it for the assertion
            outcomes[request_id] = traceback.format_exc()

    # When the last approver signs all 100 at the same moment
    threads = [threading.Thread(target=sign, args=(r.pk,), name=f"approve-{r.pk}") for r in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "approval threads still running after 300 s"

    # Then exactly 40 reserved and 60 were refused, and nothing else happened to any of them
    unexpected = {pk: outcome for pk, outcome in outcomes.items() if isinstance(outcome, str) and outcome != "approved"}
    assert unexpected == {}, f"({sessions} concurrent sessions) " + "\n".join(unexpected.values())
    approved = sorted(pk for pk, outcome in outcomes.items() if outcome == "approved")
    refused = {pk: outcome for pk, outcome in outcomes.items() if isinstance(outcome, QuotaExceeded)}
    assert (len(approved), len(refused)) == (FITS, REQUESTS - FITS), f"{sessions} concurrent sessions"

    # Each refusal names the dimension, its limit, what is used, what is reserved and what was asked.
    full = {"limit": FITS * demand["vcpu"], "used": Decimal(0), "reserved": FITS * demand["vcpu"], "requested": demand["vcpu"]}
    for exc in refused.values():
        assert [s["dimension_code"] for s in exc.shortfalls] == [QuotaDimension.VCPU]
        shortfall = exc.shortfalls[0]
        assert {key: Decimal(shortfall[key]) for key in full} == full, shortfall
        for text in (
            "超出配额", "教育云", str(QuotaDimension.VCPU.label), f"上限为 {shortfall['limit']}",
            f"已使用 {shortfall['used']}", f"已预留 {shortfall['reserved']}", f"本次申请 {shortfall['requested']}",
        ):
            assert text in exc.message, (text, exc.message)

    # The limit rows hold exactly 40 demands, and so do the reservations behind them.
    for limit, dimension in ((vcpu, QuotaDimension.VCPU), (cost, QuotaDimension.MONTHLY_COST)):
        limit.refresh_from_db()
        assert (limit.reserved, limit.used) == (FITS * demand[dimension], 0), dimension
        reservations = QuotaReservation.objects.filter(limit=limit)
        assert sorted(reservations.values_list("request_id", flat=True)) == approved, dimension
        assert {(r.status, r.amount) for r in reservations} == {(ReservationStatus.RESERVED, demand[dimension])}

    # Every request is wholly on one side: signed, reserved and applying, or untouched and still waiting.
    apply_run_ids = []
    for request in Request.objects.filter(pk__in=[r.pk for r in requests]).select_related("apply_run"):
        stages = {stage.order: stage for stage in request.stages.all()}
        first, last = stages[1], stages[2]
        assert first.status == StageStatus.APPROVED and first.approvals.count() == 1
        last_signatures = list(Approval.objects.filter(stage=last))
        if request.pk in refused:
            assert request.status == RequestStatus.AWAITING_APPROVAL, request.number
            assert last.status == StageStatus.OPEN and last.decided_at is None, request.number
            assert last_signatures == [] and request.apply_run_id is None and request.decided_at is None
            assert not request.reservations.exists() and request.approved_plan_sha256 == ""
        else:
            assert request.status == RequestStatus.APPLYING, request.number
            assert last.status == StageStatus.APPROVED and last.decided_at is not None, request.number
            assert [(a.approver_id, a.invalidated_at) for a in last_signatures] == [(cloud_owner.pk, None)]
            assert request.apply_run.kind == RunKind.APPLY and request.apply_run.status == RunStatus.QUEUED
            assert request.apply_run.source_plan_id == request.plan_run_id
            assert request.approved_plan_sha256 == "a" * 64
            apply_run_ids.append(request.apply_run_id)
    assert Approval.objects.count() == REQUESTS + FITS

    # Exactly the 40 applies were enqueued (after their commits), and the audit trail is still one chain.
    enqueued = sorted(call.args[0][0] for call in no_broker["runs"].call_args_list)
    assert enqueued == sorted(apply_run_ids)
    new_events = AuditEvent.objects.order_by("id")[audit_before:]
    assert sum(1 for e in new_events if e.action == "approval.approve") == FITS
    assert sum(1 for e in new_events if e.action == "request.applying") == FITS
    result = audit_verify()
    assert result.intact and result.checked == AuditEvent.objects.count()


@pytest.mark.parametrize("limit_of", ["agency", "cloud"], ids=["agency-quota", "cloud-capacity"])
def test_the_limit_row_locks_alone_keep_reservations_within_the_limit(
    postgresql, requester, other_requester, offering, quota, limit_of
):
    """The same race one level down, at quota_reserve itself, with no approval and no audit event around it:
    the audit trail's chain lock serializes audited transactions too, so this shows the limit rows' own locks
    are what keeps the sum of reservations within the limit. A cloud's capacity is raced by two agencies'
    requests at once, half each."""
    requesters = [requester, other_requester] if limit_of == "cloud" else [requester]
    requests = [
        svc.request_create(actor=requesters[n % len(requesters)], offering=offering, parameters=dict(VM),
                           justification="并发预留")
        for n in range(REQUESTS)
    ]
    demand = demand_of(requests[0])
    if limit_of == "cloud":
        vcpu = QuotaLimit.objects.create(agency=None, cloud=offering.cloud, dimension=QuotaDimension.VCPU,
                                         limit=FITS * demand[QuotaDimension.VCPU])
    else:
        vcpu = quota(QuotaDimension.VCPU, FITS * demand[QuotaDimension.VCPU])
    audit_before = AuditEvent.objects.count()

    sessions = max(1, min(REQUESTS, free_sessions() - SESSION_MARGIN))
    session_slots = threading.BoundedSemaphore(sessions)
    start = threading.Barrier(REQUESTS)
    outcomes: dict[int, object] = {}

    def reserve(request: Request) -> None:
        try:
            start.wait(timeout=120)
            with session_slots:
                try:
                    quota_reserve(Request.objects.select_related("offering").get(pk=request.pk))
                    outcomes[request.pk] = "reserved"
                except QuotaExceeded as exc:
                    outcomes[request.pk] = exc
                finally:
                    connection.close()
        except Exception:
            outcomes[request.pk] = traceback.format_exc()

    threads = [threading.Thread(target=reserve, args=(r,)) for r in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads)

    unexpected = [outcome for outcome in outcomes.values() if isinstance(outcome, str) and outcome != "reserved"]
    assert unexpected == [], "\n".join(unexpected)
    reserved = sorted(pk for pk, outcome in outcomes.items() if outcome == "reserved")
    assert (len(reserved), len(outcomes) - len(reserved)) == (FITS, REQUESTS - FITS), f"{sessions} sessions"
    vcpu.refresh_from_db()
    assert vcpu.reserved == FITS * demand[QuotaDimension.VCPU]
    assert sorted(QuotaReservation.objects.filter(limit=vcpu).values_list("request_id", flat=True)) == reserved
    # Only the reservations themselves are audited (their chain lock is taken after the limit rows are read).
    assert AuditEvent.objects.exclude(action__startswith="quota.").count() == audit_before
