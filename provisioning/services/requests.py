"""The request journey: create, submit, plan, approve or reject stage by stage, apply, complete.

Each function checks the actor's permission, moves the request by compare-and-set against
REQUEST_TRANSITIONS, writes the audit event in the same transaction, and leaves Terraform and email to
after commit. Object permissions follow the request: its requester and agency approvers may view it; the
group of the open stage may approve it while that stage is open, and not after.
"""
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop, pgettext
from guardian.shortcuts import assign_perm, remove_perm

from catalogue.choices import CloudStatus, DataClassification
from catalogue.models import Offering
from catalogue.module_i18n import translate_module_text
from catalogue.module_schema import validate_values
from catalogue.pricing import UsageRuleError, estimate
from catalogue.selectors import offering_variables
from portal.choices import EventKind, Role
from portal.denials import refusals_audited
from portal.errors import Conflict, DomainError, PermissionDenied
from portal.models import Agency, User
from portal.names import both_names
from portal.permissions import agency_group, cloud_group, user_can
from portal.services import audit_record

from ..choices import (
    REQUEST_TRANSITIONS,
    STAGE_TRANSITIONS,
    ApproverRole,
    Decision,
    InstanceStatus,
    PlanMode,
    RequestKind,
    RequestStatus,
    RunKind,
    RunStatus,
    StageMode,
    StageStatus,
)
from ..models import Approval, Instance, Request, RequestStage, Workspace
from . import quotas
from .instances import add_months, instance_move
from .notifications import notify
from .policies import stage_applies, stage_snapshots
from .runs import run_cancel, run_enqueue
from .transitions import compare_and_set

# A change asked for while another is in flight on the same instance.
IN_FLIGHT = gettext_lazy("该资源已有进行中的申请，请等待其完成或撤销后再发起。")
# An adoption asked for while another of the same object is in flight.
ADOPTING = gettext_lazy("该对象已有进行中的纳管申请，请等待其完成或撤销后再发起。")


class ParameterErrors(DomainError):
    """Parameters that break the module's rules: one message list per field."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(_("申请参数有误，请按提示修改。"), code="invalid_parameters", params={"errors": errors})
        self.errors = errors


# Transitions ------------------------------------------------------------------------------------------------


def request_move(request: Request, to_status: str, *, actor, details: dict | None = None, **fields) -> Request:
    """Compare-and-set the request's status (from what it holds in memory) and audit it, in one transaction.

    The database holds at most one request in flight per instance (one_change_in_flight_per_instance) and per
    adopted finding (one_adoption_in_flight_per_finding): two changes submitted at once, or a failed one retried
    beside a newer one, end here as a Conflict."""
    try:
        return compare_and_set(
            request,
            to_status,
            transitions=REQUEST_TRANSITIONS,
            illegal=lambda from_status, to: _("申请 %(number)s 当前为“%(from)s”，不能变为“%(to)s”。")
            % {"number": request.number, "from": RequestStatus(from_status).label, "to": RequestStatus(to).label},
            stale=_("申请 %(number)s 已被其他操作改变，请刷新后重试。") % {"number": request.number},
            audit={"actor": actor, "action": f"request.{to_status}", "obj": request, "agency": request.agency,
                   "details": details or {}},
            **fields,
        )
    except IntegrityError as exc:
        raise Conflict(str(ADOPTING if "one_adoption_in_flight" in str(exc) else IN_FLIGHT)) from exc


def stage_move(stage: RequestStage, to_status: str, *, actor=None, **fields) -> RequestStage:
    """The one door of a request stage's status (compare-and-set, audited in the same transaction)."""
    return compare_and_set(
        stage,
        to_status,
        transitions=STAGE_TRANSITIONS,
        illegal=lambda from_status, to: _("审批环节“%(stage)s”当前为“%(from)s”，不能变为“%(to)s”。")
        % {"stage": stage.name, "from": StageStatus(from_status).label, "to": StageStatus(to).label},
        stale=_("审批环节“%(stage)s”已被其他操作改变，请刷新后重试。") % {"stage": stage.name},
        audit={"actor": actor, "action": f"stage.{to_status}", "obj": stage.request, "agency": stage.request.agency,
               "details": {"stage": stage.name, "order": stage.order}},
        **fields,
    )


# Reading parameters -----------------------------------------------------------------------------------------


def clean_parameters(offering: Offering, values: dict) -> tuple[dict, dict]:
    """Validate against the module's variables; return (plain, sensitive) or raise ParameterErrors."""
    variables = offering_variables(offering)
    cleaned, errors = validate_values(variables, values, translate=translate_module_text)
    if errors:
        raise ParameterErrors(errors)
    sensitive_names = {variable.name for variable in variables if variable.sensitive}
    plain = {name: value for name, value in cleaned.items() if name not in sensitive_names}
    secret = {name: value for name, value in cleaned.items() if name in sensitive_names and value is not None}
    return plain, secret


def cost_estimate(offering: Offering, parameters: dict) -> tuple[Decimal, dict]:
    """Monthly cost and usage per quota dimension: what submit records and the request form shows live."""
    try:
        cost, usage = estimate(offering, parameters)
    except UsageRuleError as exc:
        raise DomainError(_("无法计算费用：%(error)s。请联系系统管理员检查该服务的计费规则。") % {"error": exc}) from exc
    return cost, {dim: str(amount) for dim, amount in usage.items()}


def _check_offering(offering: Offering) -> None:
    if not offering.enabled:
        raise DomainError(_("该服务已下架，暂不受理申请。"))
    if offering.cloud.status != CloudStatus.ACTIVE:
        raise DomainError(
            _("%(cloud)s当前为“%(status)s”，暂不受理申请。")
            % {"cloud": offering.cloud.name, "status": offering.cloud.get_status_display()}
        )


def _check_classification(offering: Offering, level: int) -> None:
    if level not in DataClassification.values:
        raise DomainError(_("未知的数据分级。"), field="data_classification")
    if level not in offering.effective_classifications:
        raise DomainError(
            _("%(cloud)s不允许存放“%(level)s”数据；允许的分级为：%(allowed)s。")
            % {
                "cloud": offering.cloud.name,
                "level": DataClassification(level).label,
                "allowed": pgettext("list separator", "、").join(offering.classification_labels()),
            },
            field="data_classification",
        )


# Object permissions -----------------------------------------------------------------------------------------


def stage_group(stage: RequestStage) -> Group:
    """The group whose members sign this stage of this request."""
    request = stage.request
    if stage.approver_role == ApproverRole.AGENCY_APPROVER:
        return agency_group(request.agency, Role.AGENCY_APPROVER)
    if stage.approver_role == ApproverRole.CLOUD_OWNER:
        return cloud_group(request.offering.cloud, Role.CLOUD_OWNER)
    return Group.objects.get(name=stage.approver_role)


def stage_approvers(stage: RequestStage):
    """Who may sign the stage: the group's active members, never the requester, never someone who already
    signed another stage of this request."""
    signed = Approval.objects.filter(request=stage.request, invalidated_at__isnull=True).values("approver")
    return (
        stage_group(stage)
        .user_set.filter(is_active=True)
        .exclude(pk=stage.request.requester_id)
        .exclude(pk__in=signed)
    )


def _check_lease(offering: Offering, months: int, what: str) -> None:
    if not 1 <= months <= offering.lease_max_months:
        raise DomainError(
            _("%(what)s应在 1 到 %(max)s 个月之间：此服务规格最长 %(max)s 个月。")
            % {"what": what, "max": offering.lease_max_months},
            field="lease_months",
        )


def _grant_viewers(request: Request) -> None:
    # Reading it needs no grant: the requester and their agency's approvers read it by request_scope.
    assign_perm("provisioning.cancel_request", request.requester, request)


# Creating and submitting ------------------------------------------------------------------------------------


@transaction.atomic
def request_create(
    *,
    actor: User,
    offering: Offering,
    parameters: dict,
    title: str = "",
    justification: str = "",
    data_classification: int = DataClassification.INTERNAL,
    lease_months: int | None = None,
    agency: Agency | None = None,
) -> Request:
    """A draft request for a new resource; parameters are checked against the module now. The lease is the
    offering's default unless one is asked for, within the offering's longest."""
    agency = agency or actor.agency
    if agency is None or not user_can(actor, "portal.request_for_agency", agency):
        raise PermissionDenied(_("您不能代表该单位提交申请。"))
    return create_draft(
        offering=offering, parameters=parameters, requester=actor, actor=actor, agency=agency, title=title,
        justification=justification, data_classification=data_classification, lease_months=lease_months,
    )


def create_draft(
    *, offering: Offering, parameters: dict, requester: User, actor: User, agency: Agency, title: str = "",
    justification: str = "", data_classification: int = DataClassification.INTERNAL, lease_months: int | None = None,
    details: dict | None = None, **fields,
) -> Request:
    """The draft itself, for `requester`, once whoever asks may: the requester (request_create) or an operator
    adopting an unmanaged object for the agency (provisioning.services.adopt, with `adopts`)."""
    _check_offering(offering)
    _check_classification(offering, int(data_classification))
    lease_months = offering.lease_default_months if lease_months is None else int(lease_months)
    _check_lease(offering, lease_months, _("租期"))
    plain, secret = clean_parameters(offering, parameters)
    cost, usage = cost_estimate(offering, {**plain, **secret})
    request = Request(
        kind=RequestKind.CREATE,
        title=(title or f"{offering.service.name} · {plain.get('name', '')}".strip(" ·"))[:128],
        justification=justification,
        requester=requester,
        agency=agency,
        offering=offering,
        parameters=plain,
        data_classification=int(data_classification),
        lease_months=int(lease_months),
        monthly_cost=cost,
        usage=usage,
        **fields,
    )
    request.secret_parameters = secret
    request.full_clean(exclude=["instance", "workspace", "plan_run", "apply_run", "adopts"])
    request.save()
    _grant_viewers(request)
    audit_record(
        actor=actor, action="request.create", obj=request, agency=agency, details={"kind": request.kind, **(details or {})}
    )
    return request


@transaction.atomic
def request_create_day2(
    *,
    actor: User,
    instance: Instance,
    kind: str,
    parameters: dict | None = None,
    lease_months: int = 12,
    justification: str = "",
) -> Request:
    """A draft change to an existing instance: modify its parameters, extend its lease, or decommission it."""
    if kind not in (RequestKind.MODIFY, RequestKind.EXTEND, RequestKind.DECOMMISSION):
        raise DomainError(_("未知的变更类型。"))
    if not user_can(actor, "portal.request_for_agency", instance.agency):
        raise PermissionDenied(_("您不能代表该单位提交申请。"))
    return day2_draft(
        instance=instance, kind=kind, requester=actor, actor=actor, parameters=parameters,
        lease_months=lease_months, justification=justification,
    )


def day2_draft(
    *, instance: Instance, kind: str, requester: User, actor: User | None, parameters: dict | None = None,
    lease_months: int = 12, justification: str = "", details: dict | None = None,
) -> Request:
    """The draft itself, for `requester`, once whoever asks may: the requester (request_create_day2) or the
    portal on the agency's behalf (an expired lease, provisioning.services.leases; `actor` None)."""
    if instance.status != InstanceStatus.ACTIVE:
        raise Conflict(_("资源当前为“%(status)s”，不能发起变更。") % {"status": instance.get_status_display()})
    if Request.objects.filter(instance=instance, status__in=RequestStatus.active()).exists():
        raise Conflict(str(IN_FLIGHT))
    offering = instance.offering
    plain, secret = dict(instance.parameters), instance.workspace.secret_variables
    if kind == RequestKind.MODIFY:
        _check_offering(offering)
        # Sensitive values left empty keep what the instance has.
        merged = {**plain, **secret, **{k: v for k, v in (parameters or {}).items() if v not in ("", None)}}
        plain, secret = clean_parameters(offering, merged)
    cost, usage = (cost_estimate(offering, {**plain, **secret}) if kind != RequestKind.DECOMMISSION else (Decimal(0), {}))
    labels = {RequestKind.MODIFY: _("变更"), RequestKind.EXTEND: _("续期"), RequestKind.DECOMMISSION: _("退订")}
    request = Request(
        kind=kind,
        title=f"{labels[kind]} · {instance.name}"[:128],
        justification=justification,
        requester=requester,
        agency=instance.agency,
        offering=offering,
        instance=instance,
        workspace=instance.workspace,
        parameters=plain,
        data_classification=instance.data_classification,
        lease_months=int(lease_months),
        monthly_cost=cost if kind != RequestKind.EXTEND else instance.monthly_cost,
        usage=usage if kind != RequestKind.EXTEND else instance.usage,
    )
    if kind == RequestKind.EXTEND:
        _check_lease(offering, int(lease_months), _("续期"))
    request.secret_parameters = secret
    request.save()
    _grant_viewers(request)
    audit_record(
        actor=actor, action="request.create", obj=request, agency=request.agency, details={"kind": kind, **(details or {})}
    )
    return request


@transaction.atomic
def request_submit(*, actor: User, request: Request) -> Request:
    """Check quota early, copy the approval policy into the request, and start the plan."""
    request = Request.objects.select_for_update().get(pk=request.pk)
    if request.requester_id != actor.pk:
        raise PermissionDenied(_("只有申请人本人可以提交该申请。"))
    return submit_draft(request, actor=actor)


def submit_draft(request: Request, *, actor: User | None) -> Request:
    """Submit a locked draft, once whoever submits may (`actor` None: the portal, for an expired lease)."""
    if request.kind != RequestKind.DECOMMISSION:
        quotas.quota_check(request)
    policy_name, policy_name_en, stages = stage_snapshots(request)
    request.stages.all().delete()
    for order, stage in enumerate(stages, start=1):
        RequestStage.objects.create(request=request, order=order, **stage)
    request_move(
        request, RequestStatus.SUBMITTED, actor=actor, submitted_at=timezone.now(),
        policy_name=policy_name, policy_name_en=policy_name_en,
    )
    if request.kind == RequestKind.EXTEND:
        # Nothing changes in the cloud: straight to the approvers.
        request_move(request, RequestStatus.AWAITING_APPROVAL, actor=None)
        request_advance(request)
        return request
    return _start_plan(request, actor=actor)


def _start_plan(request: Request, *, actor) -> Request:
    if request.kind == RequestKind.CREATE and request.workspace_id is None:
        workspace = Workspace(
            cloud=request.offering.cloud,
            module=request.offering.module,
            agency=request.agency,
            variables=request.parameters,
        )
        workspace.secret_variables = request.secret_parameters
        workspace.save()
        Request.objects.filter(pk=request.pk).update(workspace=workspace)
        request.workspace = workspace
    plan_mode = PlanMode.DESTROY if request.kind == RequestKind.DECOMMISSION else PlanMode.NORMAL
    run = run_enqueue(
        actor=actor,
        workspace=request.workspace,
        kind=RunKind.PLAN,
        plan_mode=plan_mode,
        request=request,
        module=request.offering.module if plan_mode == PlanMode.NORMAL else None,
        variables=request.parameters if plan_mode == PlanMode.NORMAL else None,
        secret_variables=request.secret_parameters if plan_mode == PlanMode.NORMAL else None,
    )
    return request_move(request, RequestStatus.PLANNING, actor=actor, plan_run=run, error="")


# Approvals --------------------------------------------------------------------------------------------------


def request_advance(request: Request) -> RequestStage | None:
    """Open the first waiting stage whose condition holds (skipping the others); none left: final approval."""
    for stage in request.stages.filter(status=StageStatus.WAITING).order_by("order"):
        if not stage_applies(stage, request):
            stage_move(stage, StageStatus.SKIPPED)
            continue
        group = stage_group(stage)
        assign_perm("provisioning.view_request", group, request)
        assign_perm("provisioning.approve_request", group, request)
        approvers = list(stage_approvers(stage))
        stage_move(stage, StageStatus.OPEN, opened_at=timezone.now(), eligible_count=len(approvers))
        notify(
            approvers,
            kind=EventKind.STAGE_OPENED,
            subject=gettext_noop("待您审批：%(number)s %(title)s"),
            body=gettext_noop("%(agency)s 的申请进入“%(stage)s”环节，月费用 ¥%(cost)s。请在 %(hours)s 小时内处理。"),
            params={
                "number": request.number, "title": request.title,
                "agency": both_names(request.agency.name, request.agency.name_en),
                "stage": both_names(stage.name, stage.name_en), "cost": str(request.monthly_cost), "hours": stage.sla_hours,
            },
            request=request,
            stage=stage,
        )
        return stage
    _final_approval(request)
    return None


def _close_stage(stage: RequestStage, status: str, *, actor=None) -> None:
    stage_move(stage, status, actor=actor, decided_at=timezone.now())
    remove_perm("provisioning.approve_request", stage_group(stage), stage.request)


def _stage_complete(stage: RequestStage) -> bool:
    approvals = stage.approvals.filter(decision=Decision.APPROVE, invalidated_at__isnull=True).count()
    if stage.mode == StageMode.ANY:
        return approvals >= 1
    if stage.mode == StageMode.M_OF_N:
        return approvals >= stage.required_approvals
    # "all": everyone who could sign when it opened.
    return approvals >= max(stage.eligible_count, 1)


def _final_approval(request: Request) -> None:
    """Every stage is done: reserve quota (limit rows locked), then apply, destroy or complete."""
    if request.kind in (RequestKind.CREATE, RequestKind.MODIFY):
        quotas.quota_reserve(request)
    request_move(
        request, RequestStatus.APPROVED, actor=None, decided_at=timezone.now(),
        approved_plan_sha256=request.plan_run.planfile_sha256 if request.plan_run_id else "",
    )
    notify(
        [request.requester],
        kind=EventKind.REQUEST_DECIDED,
        subject=gettext_noop("申请已批准：%(number)s"),
        body=gettext_noop("您的申请“%(title)s”已通过全部审批。"),
        params={"number": request.number, "title": request.title},
        request=request,
    )
    if request.kind == RequestKind.EXTEND:
        _complete_extend(request)
        return
    kind = RunKind.DESTROY if request.kind == RequestKind.DECOMMISSION else RunKind.APPLY
    run = run_enqueue(actor=None, workspace=request.workspace, kind=kind, source_plan=request.plan_run, request=request)
    if request.instance_id:
        instance_move(request.instance, InstanceStatus.CHANGING, details={"request": request.pk, "kind": request.kind})
    request_move(request, RequestStatus.APPLYING, actor=None, apply_run=run)


def _complete_extend(request: Request) -> None:
    instance = request.instance
    start = max(instance.lease_end or timezone.localdate(), timezone.localdate())
    Instance.objects.filter(pk=instance.pk).update(lease_end=add_months(start, request.lease_months))
    audit_record(actor=None, action="instance.lease_extended", obj=instance, agency=instance.agency,
                 details={"months": request.lease_months})
    request_move(request, RequestStatus.COMPLETED, actor=None, completed_at=timezone.now())


@refusals_audited("approval.refused", subject="request", keep=("comment",))
@transaction.atomic
def request_approve(*, actor: User, request: Request, comment: str = "") -> Request:
    """Sign the open stage. Nobody signs their own request, nor more than one stage of a request."""
    request = Request.objects.select_for_update(of=("self",)).select_related("plan_run", "offering__cloud", "agency").get(pk=request.pk)
    stage = _signable_stage(actor, request)
    try:
        with transaction.atomic():
            Approval.objects.create(
                request=request,
                stage=stage,
                approver=actor,
                decision=Decision.APPROVE,
                comment=comment.strip(),
                plan_sha256=request.plan_run.planfile_sha256 if request.plan_run_id else "",
                monthly_cost=request.monthly_cost,
            )
    except IntegrityError as exc:
        raise Conflict(_("您已签署过该申请的一个审批环节，同一人只能签署一个环节。")) from exc
    audit_record(
        actor=actor, action="approval.approve", obj=request, agency=request.agency,
        details={"stage": stage.name, "order": stage.order, "comment": comment.strip()[:500], "plan_sha256": request.approved_plan_sha256 or (request.plan_run.planfile_sha256 if request.plan_run_id else "")},
    )
    if _stage_complete(stage):
        _close_stage(stage, StageStatus.APPROVED, actor=actor)
        notify(
            [request.requester],
            kind=EventKind.REQUEST_DECIDED,
            subject=gettext_noop("审批进展：%(number)s 已通过“%(stage)s”"),
            body=gettext_noop("审批意见：%(comment)s") if comment.strip() else "",
            params={"number": request.number, "stage": both_names(stage.name, stage.name_en), "comment": comment.strip()},
            request=request,
        )
        request_advance(request)
    return request


@refusals_audited("approval.refused", subject="request", keep=("comment",))
@transaction.atomic
def request_reject(*, actor: User, request: Request, comment: str) -> Request:
    """Reject at the open stage; a rejection must say why."""
    if not comment or not comment.strip():
        raise DomainError(_("驳回时必须填写意见，说明驳回理由。"), field="comment")
    request = Request.objects.select_for_update().get(pk=request.pk)
    stage = _signable_stage(actor, request)
    try:
        with transaction.atomic():
            Approval.objects.create(
                request=request, stage=stage, approver=actor, decision=Decision.REJECT, comment=comment.strip(),
                plan_sha256=request.plan_run.planfile_sha256 if request.plan_run_id else "",
                monthly_cost=request.monthly_cost,
            )
    except IntegrityError as exc:
        raise Conflict(_("您已签署过该申请的一个审批环节，同一人只能签署一个环节。")) from exc
    _close_stage(stage, StageStatus.REJECTED, actor=actor)
    request_move(
        request, RequestStatus.REJECTED, actor=actor, decided_at=timezone.now(),
        details={"stage": stage.name, "comment": comment.strip()[:500]},
    )
    quotas.quota_release(request)
    notify(
        [request.requester],
        kind=EventKind.REQUEST_DECIDED,
        subject=gettext_noop("申请被驳回：%(number)s"),
        body=gettext_noop("“%(stage)s”环节驳回了您的申请。意见：%(comment)s"),
        params={"number": request.number, "stage": both_names(stage.name, stage.name_en), "comment": comment.strip()},
        request=request,
    )
    return request


def _signable_stage(actor: User, request: Request) -> RequestStage:
    if request.status != RequestStatus.AWAITING_APPROVAL:
        raise Conflict(
            _("申请当前为“%(status)s”，不在审批中。") % {"status": RequestStatus(request.status).label}
        )
    if request.requester_id == actor.pk:
        raise PermissionDenied(_("不能审批自己提交的申请。"))
    stage = request.stages.filter(status=StageStatus.OPEN).order_by("order").first()
    if stage is None or not user_can(actor, "provisioning.approve_request", request):
        raise PermissionDenied(_("该申请当前的审批环节不由您负责。"))
    if not stage_group(stage).user_set.filter(pk=actor.pk).exists():
        raise PermissionDenied(_("该申请当前的审批环节不由您负责。"))
    return stage


# Cancel, retry, re-plan -------------------------------------------------------------------------------------


@transaction.atomic
def request_cancel(*, actor: User, request: Request) -> Request:
    request = Request.objects.select_for_update().get(pk=request.pk)
    if not user_can(actor, "provisioning.cancel_request", request):
        raise PermissionDenied(_("您不能撤销该申请。"))
    for stage in request.stages.filter(status=StageStatus.OPEN):
        _close_stage(stage, StageStatus.SKIPPED, actor=actor)
    request_move(request, RequestStatus.CANCELLED, actor=actor)
    if request.plan_run_id and request.plan_run.status == RunStatus.QUEUED:
        run_cancel(actor=actor, run=request.plan_run)
    quotas.quota_release(request)
    return request


@transaction.atomic
def request_retry(*, actor: User, request: Request) -> Request:
    """After a failure: plan again; the new plan goes back to the last stage that approved (or to the start
    when nothing had been approved yet)."""
    request = Request.objects.select_for_update().get(pk=request.pk)
    if request.requester_id != actor.pk and not user_can(actor, "provisioning.change_request"):
        raise PermissionDenied(_("只有申请人或运维人员可以重试该申请。"))
    if request.status != RequestStatus.FAILED:
        raise Conflict(_("只有失败的申请可以重试。"))
    last = request.stages.filter(status=StageStatus.APPROVED).order_by("-order").first()
    if last is not None:
        Approval.objects.filter(stage=last, invalidated_at__isnull=True).update(invalidated_at=timezone.now())
        stage_move(last, StageStatus.WAITING, actor=actor, opened_at=None, decided_at=None)
    Request.objects.filter(pk=request.pk).update(retrying=True)
    request.retrying = True
    if request.kind == RequestKind.EXTEND:
        request_move(request, RequestStatus.PLANNING, actor=actor)
        return request
    return _start_plan(request, actor=actor)


@transaction.atomic
def request_replan(*, actor: User, request: Request) -> Request:
    """Make a fresh plan for a request awaiting approval (the cloud changed, or an approver asks); the
    approvals given to the old plan are reset when the new one arrives."""
    request = Request.objects.select_for_update().get(pk=request.pk)
    if request.requester_id != actor.pk and not user_can(actor, "provisioning.approve_request", request):
        raise PermissionDenied(_("您不能重新生成该申请的计划。"))
    for stage in request.stages.filter(status=StageStatus.OPEN):
        _close_stage(stage, StageStatus.WAITING, actor=actor)
    return _start_plan(request, actor=actor)


# Reminders --------------------------------------------------------------------------------------------------


def request_remind_overdue() -> int:
    """Remind the approvers of every stage open longer than its SLA (once per SLA period)."""
    now = timezone.now()
    sent = 0
    for stage in RequestStage.objects.filter(status=StageStatus.OPEN).select_related("request", "request__agency"):
        due = stage.opened_at + timedelta(hours=stage.sla_hours)
        last = stage.reminded_at or due
        if now < due or (stage.reminded_at and now - last < timedelta(hours=stage.sla_hours)):
            continue
        with transaction.atomic():
            notify(
                stage_approvers(stage),
                kind=EventKind.SLA_OVERDUE,
                subject=gettext_noop("审批超时提醒：%(number)s"),
                body=gettext_noop("“%(stage)s”环节已超过 %(hours)s 小时未处理，请尽快审批。"),
                params={"number": stage.request.number, "stage": both_names(stage.name, stage.name_en), "hours": stage.sla_hours},
                request=stage.request,
                stage=stage,
            )
            RequestStage.objects.filter(pk=stage.pk).update(reminded_at=now)
        sent += 1
    return sent
