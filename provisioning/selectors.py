"""Reads of provisioning, filtered to what the user may see (another agency's objects answer 404)."""
from datetime import date
from decimal import Decimal

from django.db.models import CharField, F, Q, QuerySet
from django.db.models.functions import Cast
from django.http import Http404
from django.utils import timezone

from catalogue.choices import QuotaDimension
from catalogue.models import Cloud, Offering
from portal.choices import AuditOutcome, Role
from portal.models import Agency, AuditEvent
from portal.names import pick_name
from portal.permissions import agencies_where, clouds_where, has_role, objects_for_user, user_can

from .choices import (
    DriftStatus,
    InstanceStatus,
    RequestKind,
    RequestStatus,
    ReservationStatus,
    RunKind,
    RunStatus,
    StageStatus,
)
from .models import Approval, CloudFinding, Instance, Notification, QuotaLimit, Request, Run
from .plan_summary import action_counts
from .services.quotas import demand_of, limit_scope, limits_for
from .services.reconcile import reconciliation_of, runs_awaiting_reconciliation
from .services.requests import cost_estimate, stage_group


def request_scope(user) -> Q:
    """Whose requests a user reads without a grant on each: their own, and their agency's if they approve for
    it. Those who sign a later stage (cloud owners, reviewers) get a grant on the request when it opens."""
    return Q(requester=user) | Q(agency__in=agencies_where(user, "portal.approve_for_agency"))


def instance_scope(user) -> Q:
    """Whose resources a user reads: their agency's (requesters and approvers), and those on the clouds they
    own. An object grant on one instance is the exception beside it."""
    return Q(agency__in=agencies_where(user, "portal.request_for_agency", "portal.approve_for_agency")) | Q(
        offering__cloud__in=clouds_where(user, "catalogue.own_cloud")
    )


def request_list_for_user(user, *, status: str | None = None, mine: bool = False) -> QuerySet[Request]:
    requests = objects_for_user(
        user,
        "provisioning.view_request",
        Request.objects.select_related("offering", "offering__cloud", "offering__service", "agency", "requester"),
        scope=request_scope(user),
    )
    if status:
        requests = requests.filter(status=status)
    if mine:
        requests = requests.filter(requester=user)
    return requests.order_by("-created_at", "-id")


def request_get_for_user(user, pk) -> Request:
    try:
        return request_list_for_user(user).select_related("plan_run", "apply_run", "instance", "workspace").get(pk=pk)
    except (Request.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def approval_inbox_for_user(user) -> QuerySet[Request]:
    """Requests waiting at a stage the user may sign now (not their own)."""
    return (
        objects_for_user(
            user,
            "provisioning.approve_request",
            Request.objects.select_related("offering__cloud", "offering__service", "agency", "requester"),
        )
        .filter(status=RequestStatus.AWAITING_APPROVAL, stages__status=StageStatus.OPEN)
        .exclude(requester=user)
        # Once they have signed, the request is no longer theirs to sign (one signature per request).
        .exclude(pk__in=Approval.objects.filter(approver=user, invalidated_at__isnull=True).values("request_id"))
        .distinct()
        .order_by("submitted_at", "id")
    )


def instance_list_for_user(user) -> QuerySet[Instance]:
    return objects_for_user(
        user,
        "provisioning.view_instance",
        Instance.objects.select_related("offering__cloud", "offering__service", "agency"),
        scope=instance_scope(user),
    ).order_by("-created_at", "-id")


def instance_get_for_user(user, pk) -> Instance:
    try:
        return instance_list_for_user(user).select_related("workspace").get(pk=pk)
    except (Instance.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def run_get_for_user(user, pk) -> Run:
    """A run is visible with its request (or, for operators, globally)."""
    run = Run.objects.select_related("workspace", "request").filter(pk=pk).first()
    if run is None:
        raise Http404
    if run.request_id is not None:
        request_get_for_user(user, run.request_id)
        return run
    if not objects_for_user(user, "provisioning.view_run", Run.objects.filter(pk=pk)).exists():
        raise Http404
    return run


def run_list_for_user(user, *, status: str | None = None) -> QuerySet[Run]:
    """Every run, for those who look after runs (operators); anybody else lists nothing, since their runs are
    read under their requests."""
    runs = objects_for_user(
        user, "provisioning.reconcile_run",
        Run.objects.select_related("workspace__cloud", "workspace__agency", "request"),
    )
    if status:
        runs = runs.filter(status=status)
    return runs.order_by("-queued_at", "-id")


def run_get_for_reconciler(user, pk) -> Run:
    """A run to reconcile or re-check. Whoever may not reconcile runs gets 404, even where the run's request is
    theirs to read: the action does not exist for them. Whether the run still awaits reconciliation is the
    service's to say (a conflict, not a missing run)."""
    run = run_list_for_user(user).select_related("source_plan").filter(pk=pk).first()
    if run is None:
        raise Http404
    return run


def reconciliation_list_for_user(user) -> list:
    """Each run awaiting reconciliation with what its reconciliation refresh found; 404 for anybody who may not
    close such runs (nobody else learns they exist)."""
    if not user_can(user, "provisioning.reconcile_run"):
        raise Http404
    return [reconciliation_of(run) for run in runs_awaiting_reconciliation()]


def instance_attention_list_for_user(user) -> QuerySet[Instance]:
    """Instances an operator should look at: drifted from their state, or waiting for a lost run's verdict."""
    return instance_list_for_user(user).filter(
        Q(drift_status=DriftStatus.DRIFTED) | Q(status=InstanceStatus.NEEDS_RECONCILIATION)
    )


def open_findings_for_user(user, limit: int = 200) -> list:
    """What the cloud scans found and nobody has closed, for those who look after runs (operators)."""
    if not user_can(user, "provisioning.reconcile_run"):
        return []
    findings = list(
        CloudFinding.objects.filter(resolved_at__isnull=True).select_related("cloud", "instance")
        .order_by("kind", "cloud__slug", "-last_seen_at")[:limit]
    )
    # The adoption in flight, if any, so the page links to it instead of offering a second one.
    adopting = {
        request.adopts_id: request for request in Request.objects.filter(
            adopts__in=[finding.pk for finding in findings], status__in=RequestStatus.active()
        ).only("pk", "adopts", "status")
    }
    for finding in findings:
        finding.adoption = adopting.get(finding.pk)
    return findings


def finding_get_for_adopter(user, pk) -> CloudFinding:
    """An open finding an operator may act on; 404 for whoever may not (nobody else learns it exists)."""
    if not user_can(user, "provisioning.reconcile_run"):
        raise Http404
    finding = CloudFinding.objects.select_related("cloud").filter(pk=pk, resolved_at__isnull=True).first()
    if finding is None:
        raise Http404
    return finding


def failed_requests_for_user(user, limit: int = 50) -> list[Request]:
    """Requests whose run failed and that nobody has retried or cancelled yet, newest first."""
    return list(request_list_for_user(user, status=RequestStatus.FAILED)[:limit])


def leases_ending_for_user(user, days: int = 7, limit: int = 100) -> list[Instance]:
    """Active resources whose lease ends within `days` (or has ended and waits for its decommission)."""
    horizon = date.fromordinal(timezone.localdate().toordinal() + days)
    return list(
        instance_list_for_user(user).filter(status=InstanceStatus.ACTIVE, lease_end__lte=horizon)
        .order_by("lease_end", "id")[:limit]
    )


def instance_get_for_drift_check(user, pk) -> Instance:
    """An instance whose drift the user may check; 404 for anybody who may not, even if they may see it."""
    if not user_can(user, "provisioning.reconcile_run"):
        raise Http404
    return instance_get_for_user(user, pk)


def instance_latest_refresh_for_user(user, instance: Instance) -> Run | None:
    """The instance's last drift check or reconciliation refresh, for those who read runs apart from their
    request (operators, auditors)."""
    refreshes = Run.objects.filter(workspace=instance.workspace_id, kind=RunKind.REFRESH)
    return objects_for_user(user, "provisioning.view_run", refreshes).order_by("-queued_at", "-id").first()


def reconcile_count(user) -> int:
    """How many runs wait for an operator's verdict, for the nav of those who give it."""
    if not user_can(user, "provisioning.reconcile_run"):
        return 0
    return runs_awaiting_reconciliation().count()


def notification_list_for_user(user) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient=user).select_related("request")


def unread_count(user) -> int:
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


# An instance page shows at most this many of its latest events (drift checks add one run a day).
TIMELINE_MAX = 200


def _events_of(label: str, ids: QuerySet) -> QuerySet[AuditEvent]:
    """The trail's events on the objects of type `label` whose ids `ids` (a values("pk") subquery) lists."""
    as_text = ids.annotate(as_text=Cast("pk", CharField())).values("as_text")
    return AuditEvent.objects.filter(object_type=label, object_id__in=as_text)


def _timeline(events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
    # Denied attempts are the audit admin's to read (on the audit pages), not the object's readers'.
    return events.exclude(outcome=AuditOutcome.DENIED).select_related("actor")


def request_timeline(request: Request):
    """The request's history from the audit trail: its own events and its runs'."""
    return _timeline(
        AuditEvent.objects.filter(object_type="provisioning.request", object_id=str(request.pk))
        | _events_of("provisioning.run", request.runs.values("pk"))
    ).order_by("id")


def instance_timeline(instance: Instance) -> list[AuditEvent]:
    """The instance's history from the audit trail: its own events, its requests' (the create and each day-2
    change) and the runs on its workspace or of those requests; the latest TIMELINE_MAX, oldest first."""
    requests = Request.objects.filter(instance=instance)
    runs = Run.objects.filter(Q(request__in=requests.values("pk")) | Q(workspace=instance.workspace_id))
    events = _timeline(
        AuditEvent.objects.filter(object_type="provisioning.instance", object_id=str(instance.pk))
        | _events_of("provisioning.request", requests.values("pk"))
        | _events_of("provisioning.run", runs.values("pk"))
    )
    return list(reversed(events.order_by("-id")[:TIMELINE_MAX]))


def request_detail_context(user, request: Request) -> dict:
    """Everything the request page shows, and which actions this user may take on it."""
    open_stage = request.stages.filter(status=StageStatus.OPEN).first()
    can_sign = (
        open_stage is not None
        and request.requester_id != user.pk
        and user_can(user, "provisioning.approve_request", request)
        and stage_group(open_stage).user_set.filter(pk=user.pk).exists()
        and not request.approvals.filter(approver=user, invalidated_at__isnull=True).exists()
    )
    plan = request.plan_run
    runs = list(request.runs.order_by("-queued_at", "-id"))
    live_run = next((run for run in runs if run.status in RunStatus.active()), runs[0] if runs else None)
    return {
        "req": request,
        "policy_name": pick_name(request.policy_name, request.policy_name_en),
        "stages": request.stages.prefetch_related("approvals__approver").order_by("order"),
        "plan": plan,
        "plan_counts": action_counts(plan.plan_summary) if plan and plan.status == RunStatus.SUCCEEDED else None,
        "quota_rows": request_quota_table(request)
        if request.kind != RequestKind.DECOMMISSION and request.status not in RequestStatus.terminal() else [],
        "timeline": request_timeline(request),
        "live_run": live_run,
        "runs": runs,
        "can_sign": can_sign,
        "can_cancel": request.status in {RequestStatus.DRAFT, RequestStatus.SUBMITTED, RequestStatus.PLANNING,
                                         RequestStatus.AWAITING_APPROVAL, RequestStatus.FAILED}
        and user_can(user, "provisioning.cancel_request", request),
        "can_submit": request.status == RequestStatus.DRAFT and request.requester_id == user.pk,
        "can_retry": request.status == RequestStatus.FAILED
        and (request.requester_id == user.pk or user_can(user, "provisioning.change_request")),
    }


def request_polls(request: Request) -> bool:
    """Whether the request's page should keep itself current: while the request moves on without the reader
    (a plan, approvals by others, the apply). A draft or a failed request waits for its requester."""
    return request.status in RequestStatus.active()


def instance_polls(instance: Instance) -> bool:
    """Whether the instance's page should keep itself current: while a change is applied to it, or one of its
    requests is on its way."""
    return instance.status == InstanceStatus.CHANGING or Request.objects.filter(
        instance=instance, status__in=RequestStatus.active()
    ).exists()


# Cost and quota before and after submit -----------------------------------------------------------------------

# Requests whose demand is not reserved yet but will be if they are approved.
PENDING_STATUSES = (RequestStatus.SUBMITTED, RequestStatus.PLANNING, RequestStatus.AWAITING_APPROVAL)


def request_quota_table(request: Request) -> list[dict]:
    """Per limit that binds the request: the limit, what is used, what requests already approved reserved, what
    the agency's pending requests (submitted, planning or awaiting approval, nothing reserved yet) would take,
    this request's demand, and what is left after it. The request's own reservation is not counted among the
    reserved, so a row reads the same before and after its final approval. `fits` is the submit check;
    `tight` says the request fits only if the pending ones are not approved first."""
    demand = demand_of(request)
    own_reserved: dict[int, Decimal] = {}
    if request.pk:
        for limit_id, amount in request.reservations.filter(status=ReservationStatus.RESERVED).values_list(
            "limit_id", "amount"
        ):
            own_reserved[limit_id] = own_reserved.get(limit_id, Decimal(0)) + amount
    # The agency's pending requests anywhere, and every agency's on this cloud (for the cloud's capacity).
    cloud_id = request.offering.cloud_id
    pending = [
        (other.agency_id, other.offering.cloud_id, demand_of(other))
        for other in Request.objects.filter(Q(agency=request.agency_id) | Q(offering__cloud=cloud_id),
                                            status__in=PENDING_STATUSES)
        .exclude(pk=request.pk)
        .select_related("offering", "instance")
    ]
    rows = []
    for limit in limits_for(request).select_related("cloud").order_by(
        F("agency").asc(nulls_last=True), F("cloud").asc(nulls_last=True), "dimension"
    ):
        dimension = limit.dimension
        requested = demand.get(dimension, Decimal(0))
        reserved = limit.reserved - own_reserved.get(limit.pk, Decimal(0))
        pending_amount = sum(
            (max(other.get(dimension, Decimal(0)), Decimal(0))
             for agency_id, other_cloud, other in pending
             if (limit.agency_id is None or agency_id == limit.agency_id)
             and (limit.cloud_id is None or other_cloud == limit.cloud_id)),
            Decimal(0),
        )
        after = limit.limit - limit.used - reserved - max(requested, Decimal(0))
        fits = requested <= 0 or limit.used + reserved + requested <= limit.limit
        rows.append({
            "scope": limit_scope(limit),
            "capacity": limit.is_capacity,
            "dimension": QuotaDimension(dimension).label,
            "dimension_code": dimension,
            "limit": limit.limit,
            "used": limit.used,
            "reserved": reserved,
            "pending": pending_amount,
            "requested": requested,
            "after": after,
            "fits": fits,
            "tight": fits and requested > 0 and after < pending_amount,
        })
    return rows


def request_estimate(*, offering: Offering, parameters: dict, agency: Agency) -> dict:
    """What a request with these (cleaned) parameters would cost a month, the usage it counts, and its quota
    table: computed by the very function submit records the cost with, so the form's figure is the request's.
    A pricing rule that cannot read the parameters raises the same DomainError as submit."""
    cost, usage = cost_estimate(offering, parameters)
    draft = Request(agency=agency, offering=offering, kind=RequestKind.CREATE, usage=usage, monthly_cost=cost)
    return {
        "monthly_cost": cost,
        "usage": [(QuotaDimension(dim).label, Decimal(amount)) for dim, amount in usage.items()],
        "quota_rows": request_quota_table(draft),
    }


def capacity_for_user(user) -> list[dict] | None:
    """Each cloud's capacity the user may watch, per dimension: the limit, what is used, what approved requests
    reserved, and the headroom. Cloud owners see their own clouds; those who read quotas see every cloud. None
    for anybody else (the page refuses them)."""
    if user_can(user, "provisioning.view_quotalimit"):
        clouds = Cloud.objects.all()
    elif has_role(user, Role.CLOUD_OWNER):
        clouds = objects_for_user(user, "catalogue.own_cloud", Cloud.objects.all())
    else:
        return None
    limits = QuotaLimit.objects.filter(agency__isnull=True, cloud__in=clouds).order_by("dimension")
    by_cloud: dict[int, list[QuotaLimit]] = {}
    for limit in limits:
        by_cloud.setdefault(limit.cloud_id, []).append(limit)
    sheets = []
    for cloud in clouds.order_by("tier", "slug"):
        rows = []
        for limit in by_cloud.get(cloud.pk, []):
            taken = limit.used + limit.reserved
            rows.append({
                "dimension": QuotaDimension(limit.dimension).label,
                "dimension_code": limit.dimension,
                "limit": limit.limit,
                "used": limit.used,
                "reserved": limit.reserved,
                "available": limit.available,
                "taken": taken,
                "high": limit.limit * Decimal("0.8"),  # the meter turns amber from here
                "percent": int(taken * 100 / limit.limit) if limit.limit else 100,
            })
        sheets.append({"cloud": cloud, "rows": rows, "full": any(row["available"] <= 0 for row in rows)})
    return sheets
