"""Requests and their approvals, quotas, workspaces, Terraform runs, and the provisioned inventory.

Statuses only change through provisioning.services (compare-and-set against the tables in choices.py).
"""
import json
import uuid
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.numberformat import format as number_format
from django.utils.translation import get_language, gettext, pgettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from catalogue.choices import DataClassification, QuotaDimension
from catalogue.models import Cloud, ModuleVersion, Offering
from portal import crypto
from portal.models import Agency
from portal.names import EnglishNameMixin, english_name_field

from .choices import (
    ApproverRole,
    Decision,
    DriftStatus,
    FindingKind,
    InstanceStatus,
    PlanMode,
    RequestKind,
    RequestStatus,
    ReservationStatus,
    RunKind,
    RunStatus,
    StageCondition,
    StageMode,
    StageStatus,
)


class EncryptedJSONMixin:
    """Values kept as a Fernet token of JSON: sensitive variables never sit in the database in clear."""

    @staticmethod
    def seal(values: dict) -> str:
        return crypto.encrypt(json.dumps(values)) if values else ""

    @staticmethod
    def unseal(token: str) -> dict:
        return json.loads(crypto.decrypt(token)) if token else {}


class Workspace(EncryptedJSONMixin, models.Model):
    """One Terraform root module and its remote state: one per instance.

    Any worker rebuilds it from this row (module version + variables) and the state bucket.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    cloud = models.ForeignKey(Cloud, verbose_name=_("云"), on_delete=models.PROTECT, related_name="workspaces")
    module = models.ForeignKey(ModuleVersion, verbose_name=_("模块版本"), on_delete=models.PROTECT, related_name="+")
    agency = models.ForeignKey(
        Agency, verbose_name=_("单位"), null=True, blank=True, on_delete=models.PROTECT, related_name="workspaces"
    )
    variables = models.JSONField(_("变量"), default=dict, blank=True)
    secret_variables_token = models.TextField(editable=False, blank=True)
    state_serial = models.IntegerField(_("状态序号"), null=True, blank=True)
    state_lineage = models.CharField(_("状态谱系"), max_length=64, blank=True)
    # Objects made outside the portal that its first apply takes over (terraform import): [{"address", "id"}],
    # the address within the module. Kept as the record of where the workspace's objects came from.
    imports = models.JSONField(_("纳管对象"), default=list, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("工作区")
        verbose_name_plural = pgettext_lazy("plural", "工作区")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.module.name}@{self.cloud.slug} {str(self.id)[:8]}"

    @property
    def state_key(self) -> str:
        return f"workspaces/{self.id}/terraform.tfstate"

    @property
    def secret_variables(self) -> dict:
        return self.unseal(self.secret_variables_token)

    @secret_variables.setter
    def secret_variables(self, values: dict) -> None:
        self.secret_variables_token = self.seal(values)


class Run(EncryptedJSONMixin, models.Model):
    """One Terraform operation on a workspace. The row is saved before its task is enqueued; the worker claims
    it by compare-and-set, heartbeats while Terraform runs, and records the outcome here.

    A run carries its own module version and variables: a plan for a change is made with the new values while
    the workspace keeps the ones last applied, until the change is applied.
    """

    workspace = models.ForeignKey(Workspace, verbose_name=_("工作区"), on_delete=models.PROTECT, related_name="runs")
    module = models.ForeignKey(ModuleVersion, verbose_name=_("模块版本"), on_delete=models.PROTECT, related_name="+")
    variables = models.JSONField(_("变量"), default=dict, blank=True)
    secret_variables_token = models.TextField(editable=False, blank=True)
    request = models.ForeignKey(
        "Request", verbose_name=_("申请"), null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    kind = models.CharField(_("类型"), max_length=16, choices=RunKind.choices)
    plan_mode = models.CharField(_("计划模式"), max_length=16, choices=PlanMode.choices, default=PlanMode.NORMAL)
    status = models.CharField(_("状态"), max_length=24, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True)
    # apply/destroy: the plan run whose planfile this run applies.
    source_plan = models.ForeignKey(
        "self", verbose_name=_("所执行的计划"), null=True, blank=True, on_delete=models.PROTECT, related_name="applies"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    attempt = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    worker = models.CharField(_("执行节点"), max_length=128, blank=True)
    queued_at = models.DateTimeField(_("排队时间"), auto_now_add=True)
    # Last time a wake-up message was sent; the janitor re-sends it for a queued run nobody took.
    woken_at = models.DateTimeField(null=True, blank=True)
    # Set on the refresh that reconciles a dead apply, and on a plan or refresh the janitor queued again after its
    # worker died: it may break the state lock the dead run left.
    release_stale_lock = models.BooleanField(default=False)
    # For the refresh the janitor starts when an apply or destroy lost its worker: that run.
    reconciles = models.ForeignKey(
        "self", verbose_name=_("核对的运行"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="reconciliations",
    )
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("心跳"), null=True, blank=True)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    log = models.TextField(_("日志"), blank=True)
    error = models.TextField(_("错误"), blank=True)
    has_changes = models.BooleanField(_("有变更"), null=True)
    plan_summary = models.JSONField(_("计划摘要"), default=list, blank=True)
    # The saved plan, encrypted (it carries the variable values), and the hash approvers are bound to.
    planfile_token = models.BinaryField(null=True, blank=True, editable=False)
    planfile_sha256 = models.CharField(_("计划文件 SHA-256"), max_length=64, blank=True)
    planfile_consumed_at = models.DateTimeField(_("计划已执行于"), null=True, blank=True)
    # The state the plan was made against: an apply is refused unless the state is still exactly this.
    state_serial_before = models.IntegerField(null=True, blank=True)
    state_lineage_before = models.CharField(max_length=64, blank=True)
    state_serial_after = models.IntegerField(null=True, blank=True)
    outputs = models.JSONField(_("输出"), default=dict, blank=True)
    resources = models.JSONField(_("资源"), default=list, blank=True)
    timings = models.JSONField(_("耗时"), default=dict, blank=True)

    class Meta:
        verbose_name = _("运行")
        verbose_name_plural = pgettext_lazy("plural", "运行")
        ordering = ["-queued_at", "-id"]
        constraints = [
            # At most one running run per workspace, whatever the workers believe.
            models.UniqueConstraint(
                fields=["workspace"], condition=Q(status=RunStatus.RUNNING), name="one_running_run_per_workspace"
            ),
        ]
        permissions = [("reconcile_run", _("Can resolve a run that needs reconciliation"))]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} {self.get_status_display()}"

    @property
    def is_active(self) -> bool:
        return self.status in RunStatus.active()

    @property
    def secret_variables(self) -> dict:
        return self.unseal(self.secret_variables_token)

    @secret_variables.setter
    def secret_variables(self, values: dict) -> None:
        self.secret_variables_token = self.seal(values)

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


def stage_condition_text(condition: str, value: str) -> str:
    """A stage's condition as a person reads it: 数据分级不低于“敏感”, 月费用不低于 ¥5,000, 申请类型为“退订”.
    A value the condition cannot read is shown as it was typed, so a bad policy is still visible."""
    if condition == StageCondition.COST_AT_LEAST:
        try:
            amount = Decimal(value)
        except InvalidOperation:
            amount = None
        if amount is None or not amount.is_finite():
            return gettext("月费用不低于 %(amount)s") % {"amount": value}
        if amount == amount.to_integral_value():
            amount = amount.quantize(Decimal(1))
        grouped = number_format(amount, decimal_sep=".", grouping=3, thousand_sep=",", force_grouping=True)
        return gettext("月费用不低于 ¥%(amount)s") % {"amount": grouped}
    if condition == StageCondition.CLASSIFICATION_AT_LEAST:
        try:
            level = DataClassification(int(value)).label
        except ValueError:
            level = value
        return gettext("数据分级不低于“%(level)s”") % {"level": level}
    if condition == StageCondition.REQUEST_KIND:
        kinds = [kind.strip() for kind in value.split(",") if kind.strip()]
        labels = [
            gettext("“%(kind)s”") % {"kind": RequestKind(kind).label if kind in RequestKind.values else kind} for kind in kinds
        ]
        return gettext("申请类型为%(kinds)s") % {"kinds": pgettext("alternatives", "或").join(labels)}
    if condition == StageCondition.ALWAYS:
        return ""
    return f"{condition} {value}".strip()


class StageWordingMixin(EnglishNameMixin):
    """What a policy stage and a request's copy of it say to a reader: its name and its condition in words."""

    @property
    def condition_text(self) -> str:
        return stage_condition_text(self.condition, self.condition_value)


class ApprovalPolicy(EnglishNameMixin, models.Model):
    """Which approval stages a request goes through. The most specific matching policy wins:
    agency + offering, then cloud, then tier, then the default; its stages are copied into the request."""

    name = models.CharField(_("名称"), max_length=128)
    name_en = english_name_field(200)
    agency = models.ForeignKey(Agency, verbose_name=_("单位"), null=True, blank=True, on_delete=models.CASCADE)
    offering = models.ForeignKey(Offering, verbose_name=_("服务规格"), null=True, blank=True, on_delete=models.CASCADE)
    cloud = models.ForeignKey(Cloud, verbose_name=_("云"), null=True, blank=True, on_delete=models.CASCADE)
    tier = models.CharField(_("云类别"), max_length=16, blank=True)
    is_default = models.BooleanField(_("默认策略"), default=False)
    enabled = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("审批策略")
        verbose_name_plural = pgettext_lazy("plural", "审批策略")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True, enabled=True), name="one_default_policy"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PolicyStage(StageWordingMixin, models.Model):
    policy = models.ForeignKey(ApprovalPolicy, on_delete=models.CASCADE, related_name="stages")
    order = models.PositiveSmallIntegerField(_("顺序"))
    name = models.CharField(_("名称"), max_length=64)
    name_en = english_name_field(128)
    approver_role = models.CharField(_("审批角色"), max_length=32, choices=ApproverRole.choices)
    mode = models.CharField(_("方式"), max_length=16, choices=StageMode.choices, default=StageMode.ANY)
    required_approvals = models.PositiveSmallIntegerField(_("需同意人数"), default=1, help_text=_("仅“N 人中 M 人”方式使用。"))
    condition = models.CharField(_("条件"), max_length=32, choices=StageCondition.choices, default=StageCondition.ALWAYS)
    condition_value = models.CharField(_("条件值"), max_length=64, blank=True)
    sla_hours = models.PositiveIntegerField(_("时限（小时）"), default=24)

    class Meta:
        verbose_name = _("审批环节")
        verbose_name_plural = pgettext_lazy("plural", "审批环节")
        ordering = ["policy", "order"]
        constraints = [models.UniqueConstraint(fields=["policy", "order"], name="policy_stage_order_unique")]

    def __str__(self) -> str:
        return f"{self.order}. {self.name}"

    def snapshot(self) -> dict:
        return {
            "name": self.name,
            "name_en": self.name_en,
            "approver_role": self.approver_role,
            "mode": self.mode,
            "required_approvals": self.required_approvals,
            "condition": self.condition,
            "condition_value": self.condition_value,
            "sla_hours": self.sla_hours,
        }


class Request(EncryptedJSONMixin, models.Model):
    """An agency's ask for a resource (create) or a change to one it has (modify, extend, decommission)."""

    kind = models.CharField(_("类型"), max_length=16, choices=RequestKind.choices, default=RequestKind.CREATE)
    status = models.CharField(
        _("状态"), max_length=24, choices=RequestStatus.choices, default=RequestStatus.DRAFT, db_index=True
    )
    title = models.CharField(_("标题"), max_length=128)
    justification = models.TextField(_("申请理由"), blank=True)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("申请人"), on_delete=models.PROTECT, related_name="requests"
    )
    agency = models.ForeignKey(Agency, verbose_name=_("申请单位"), on_delete=models.PROTECT, related_name="requests")
    offering = models.ForeignKey(Offering, verbose_name=_("服务规格"), on_delete=models.PROTECT, related_name="requests")
    instance = models.ForeignKey(
        "Instance", verbose_name=_("资源实例"), null=True, blank=True, on_delete=models.PROTECT, related_name="requests"
    )
    workspace = models.ForeignKey(Workspace, null=True, blank=True, on_delete=models.PROTECT, related_name="requests")
    parameters = models.JSONField(_("参数"), default=dict, blank=True)
    secret_parameters_token = models.TextField(editable=False, blank=True)
    data_classification = models.PositiveSmallIntegerField(
        _("数据分级"), choices=DataClassification.choices, default=DataClassification.INTERNAL
    )
    lease_months = models.PositiveSmallIntegerField(_("租期（月）"), default=12)
    monthly_cost = models.DecimalField(_("月费用（元）"), max_digits=12, decimal_places=2, default=Decimal("0"))
    usage = models.JSONField(_("用量"), default=dict, blank=True)
    plan_run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    apply_run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # A create that takes over an object a cloud scan found unmanaged (provisioning.services.adopt).
    adopts = models.ForeignKey(
        "CloudFinding", verbose_name=_("纳管的发现"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="adoptions",
    )
    approved_plan_sha256 = models.CharField(max_length=64, blank=True)
    policy_name = models.CharField(_("审批策略"), max_length=128, blank=True)
    policy_name_en = english_name_field(128)
    # A retry after a failure: the next plan goes to the last stage only, earlier stages keep their approvals.
    retrying = models.BooleanField(default=False)
    error = models.TextField(_("错误"), blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    submitted_at = models.DateTimeField(_("提交时间"), null=True, blank=True)
    decided_at = models.DateTimeField(_("审批完成时间"), null=True, blank=True)
    completed_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("申请")
        verbose_name_plural = pgettext_lazy("plural", "申请")
        ordering = ["-created_at", "-id"]
        constraints = [
            # One change (modify, extend, decommission) in flight per instance; see services.request_move.
            models.UniqueConstraint(
                fields=["instance"], condition=Q(status__in=sorted(RequestStatus.active())),
                name="one_change_in_flight_per_instance",
            ),
            # One adoption in flight per finding; see services.adopt.
            models.UniqueConstraint(
                fields=["adopts"], condition=Q(status__in=sorted(RequestStatus.active())),
                name="one_adoption_in_flight_per_finding",
            ),
        ]
        indexes = [
            models.Index(F("created_at").desc(), F("id").desc(), name="request_recent"),
            models.Index("agency", F("created_at").desc(), F("id").desc(), name="request_agency_recent"),
            models.Index("requester", F("created_at").desc(), F("id").desc(), name="request_requester_recent"),
            models.Index(fields=["status"], name="request_status"),
        ]
        permissions = [
            ("approve_request", _("Can sign the request's open approval stage")),
            ("cancel_request", _("Can cancel the request")),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def number(self) -> str:
        return f"REQ-{self.pk:06d}" if self.pk else "REQ-new"

    @property
    def cloud(self) -> Cloud:
        return self.offering.cloud

    @property
    def secret_parameters(self) -> dict:
        return self.unseal(self.secret_parameters_token)

    @secret_parameters.setter
    def secret_parameters(self, values: dict) -> None:
        self.secret_parameters_token = self.seal(values)


class RequestStage(StageWordingMixin, models.Model):
    """A request's own copy of one policy stage, so editing the policy never changes a request in flight."""

    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="stages")
    order = models.PositiveSmallIntegerField(_("顺序"))
    name = models.CharField(_("名称"), max_length=64)
    name_en = english_name_field(128)
    approver_role = models.CharField(_("审批角色"), max_length=32, choices=ApproverRole.choices)
    mode = models.CharField(_("方式"), max_length=16, choices=StageMode.choices)
    required_approvals = models.PositiveSmallIntegerField(_("需同意人数"), default=1)
    condition = models.CharField(_("条件"), max_length=32, choices=StageCondition.choices)
    condition_value = models.CharField(_("条件值"), max_length=64, blank=True)
    sla_hours = models.PositiveIntegerField(_("时限（小时）"), default=24)
    status = models.CharField(_("状态"), max_length=16, choices=StageStatus.choices, default=StageStatus.WAITING)
    opened_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    # How many people could sign when the stage opened ("all" needs every one of them).
    eligible_count = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("审批环节")
        verbose_name_plural = pgettext_lazy("plural", "审批环节")
        ordering = ["request", "order"]
        constraints = [models.UniqueConstraint(fields=["request", "order"], name="request_stage_order_unique")]

    def __str__(self) -> str:
        return f"{self.request.number} · {self.order}. {self.name}"


class Approval(models.Model):
    """One person's decision on one stage, bound to the plan and cost they saw."""

    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="approvals")
    stage = models.ForeignKey(RequestStage, on_delete=models.CASCADE, related_name="approvals")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("审批人"), on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(_("决定"), max_length=16, choices=Decision.choices)
    comment = models.TextField(_("意见"), blank=True)
    plan_sha256 = models.CharField(max_length=64, blank=True)
    monthly_cost = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)
    # Set when a re-plan changed what this approval saw; it no longer counts.
    invalidated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("审批记录")
        verbose_name_plural = pgettext_lazy("plural", "审批记录")
        ordering = ["created_at", "id"]
        constraints = [
            # One person signs at most one stage of a request (among the approvals that still count).
            models.UniqueConstraint(
                fields=["request", "approver"], condition=Q(invalidated_at__isnull=True), name="one_signature_per_request"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.request.number} · {self.approver} · {self.get_decision_display()}"


class QuotaLimit(models.Model):
    """How much of one dimension may be held: by an agency on one cloud, by an agency across all clouds (cloud
    empty), or by all agencies together on one cloud (agency empty: the cloud's capacity). All three are
    reserved and consumed the same way (provisioning.services.quotas)."""

    agency = models.ForeignKey(
        Agency, verbose_name=_("单位"), null=True, blank=True, on_delete=models.CASCADE, related_name="quota_limits",
        help_text=_("留空表示这是云的容量：所有单位在这朵云上合计不能超过此上限。"),
    )
    cloud = models.ForeignKey(Cloud, verbose_name=_("云"), null=True, blank=True, on_delete=models.CASCADE)
    dimension = models.CharField(_("维度"), max_length=16, choices=QuotaDimension.choices)
    limit = models.DecimalField(_("上限"), max_digits=14, decimal_places=2)
    used = models.DecimalField(_("已使用"), max_digits=14, decimal_places=2, default=Decimal("0"))
    reserved = models.DecimalField(_("已预留"), max_digits=14, decimal_places=2, default=Decimal("0"))

    # What a cloud's capacity can be counted in: resources, not money.
    CAPACITY_DIMENSIONS = (
        QuotaDimension.VCPU, QuotaDimension.MEMORY_GB, QuotaDimension.STORAGE_GB, QuotaDimension.INSTANCES,
        QuotaDimension.BUCKETS,
    )

    class Meta:
        verbose_name = _("配额与容量")
        verbose_name_plural = pgettext_lazy("plural", "配额与容量")
        ordering = ["agency", "cloud", "dimension"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "cloud", "dimension"], condition=Q(cloud__isnull=False, agency__isnull=False),
                name="quota_per_cloud_unique",
            ),
            models.UniqueConstraint(
                fields=["agency", "dimension"], condition=Q(cloud__isnull=True), name="quota_all_clouds_unique"
            ),
            models.UniqueConstraint(
                fields=["cloud", "dimension"], condition=Q(agency__isnull=True), name="capacity_per_cloud_unique"
            ),
            models.CheckConstraint(
                condition=Q(agency__isnull=False) | Q(cloud__isnull=False), name="quota_has_agency_or_cloud"
            ),
            models.CheckConstraint(condition=Q(limit__gte=0), name="quota_limit_non_negative"),
            models.CheckConstraint(condition=Q(used__gte=0), name="quota_used_non_negative"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="quota_reserved_non_negative"),
        ]

    def __str__(self) -> str:
        if self.is_capacity:
            return f"{self.cloud} · {_('容量')} · {self.get_dimension_display()}"
        scope = self.cloud.name if self.cloud_id else _("全部云")
        return f"{self.agency} · {scope} · {self.get_dimension_display()}"

    @property
    def is_capacity(self) -> bool:
        return self.agency_id is None

    @property
    def available(self) -> Decimal:
        return self.limit - self.used - self.reserved

    def clean(self):
        super().clean()
        if self.agency_id is None and self.cloud_id is None:
            raise ValidationError(_("请选择单位（单位配额）或云（云容量），至少选择一项。"))
        if self.is_capacity and self.dimension and self.dimension not in self.CAPACITY_DIMENSIONS:
            raise ValidationError({"dimension": _("云容量按资源计算，不能按“%(dimension)s”设置。") % {
                "dimension": QuotaDimension(self.dimension).label}})


class QuotaReservation(models.Model):
    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="reservations")
    limit = models.ForeignKey(QuotaLimit, on_delete=models.CASCADE, related_name="reservations")
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    status = models.CharField(max_length=16, choices=ReservationStatus.choices, default=ReservationStatus.RESERVED)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("配额预留")
        verbose_name_plural = pgettext_lazy("plural", "配额预留")
        constraints = [
            # A retried request reserves again; only one reservation per limit may be outstanding.
            models.UniqueConstraint(
                fields=["request", "limit"], condition=Q(status=ReservationStatus.RESERVED), name="one_open_reservation_per_limit"
            )
        ]

    def __str__(self) -> str:
        return f"{self.request.number} · {self.limit} · {self.amount}"


class Instance(models.Model):
    """A provisioned resource set: what exists, who owns it, where, at what cost, until when."""

    name = models.CharField(_("名称"), max_length=128)
    agency = models.ForeignKey(Agency, verbose_name=_("所属单位"), on_delete=models.PROTECT, related_name="instances")
    offering = models.ForeignKey(Offering, verbose_name=_("服务规格"), on_delete=models.PROTECT, related_name="instances")
    workspace = models.OneToOneField(Workspace, on_delete=models.PROTECT, related_name="instance")
    status = models.CharField(_("状态"), max_length=24, choices=InstanceStatus.choices, default=InstanceStatus.ACTIVE)
    parameters = models.JSONField(_("参数"), default=dict, blank=True)
    data_classification = models.PositiveSmallIntegerField(_("数据分级"), choices=DataClassification.choices)
    resources = models.JSONField(_("资源"), default=list, blank=True)
    outputs = models.JSONField(_("输出"), default=dict, blank=True)
    monthly_cost = models.DecimalField(_("月费用（元）"), max_digits=12, decimal_places=2, default=Decimal("0"))
    usage = models.JSONField(_("用量"), default=dict, blank=True)
    lease_end = models.DateField(_("租期截止"), null=True, blank=True)
    # What the lease sweep (provisioning.services.leases) has done for the lease ending on `lease_end`: the
    # shortest warning sent (7 or 1 days before) and whether the expiry was acted on. An extension moves
    # lease_end, so the next lease starts with nothing sent.
    lease_warned_for = models.DateField(null=True, blank=True, editable=False)
    lease_warned_days = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    lease_expiry_handled_for = models.DateField(null=True, blank=True, editable=False)
    drift_status = models.CharField(_("漂移"), max_length=16, choices=DriftStatus.choices, default=DriftStatus.UNKNOWN)
    drift_checked_at = models.DateTimeField(_("漂移检查时间"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    destroyed_at = models.DateTimeField(_("销毁时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("资源实例")
        verbose_name_plural = pgettext_lazy("plural", "资源实例")
        ordering = ["-created_at", "-id"]
        permissions = [("decommission_instance", _("Can ask to decommission any agency's instance"))]
        # The inventory reads one page of a scope (everything, an agency's) in an order, so each is an index
        # walk that stops after the page, at 1,000 instances or at 100,000.
        indexes = [
            models.Index(F("created_at").desc(), F("id").desc(), name="instance_recent"),
            models.Index("agency", F("created_at").desc(), F("id").desc(), name="instance_agency_recent"),
            models.Index("offering", F("created_at").desc(), F("id").desc(), name="instance_offering_recent"),
            models.Index(fields=["status"], name="instance_status"),
            models.Index(fields=["drift_status"], name="instance_drift"),
            models.Index(fields=["lease_end"], name="instance_lease_end"),
            models.Index(fields=["monthly_cost"], name="instance_cost"),
            models.Index(fields=["name"], name="instance_name"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def cloud(self) -> Cloud:
        return self.offering.cloud

    @property
    def is_destroyed(self) -> bool:
        """A destroyed instance keeps its history, but has no cost, lease or drift state that is current."""
        return self.status == InstanceStatus.DESTROYED


class InstanceCost(models.Model):
    """What an instance cost per month from `valid_from` until `valid_to` (open while that price holds): one
    row per price, written by provisioning.services.costs when the instance is made, changed or destroyed. The
    showback prorates each over the months it spans."""

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="costs")
    monthly_cost = models.DecimalField(_("月费用（元）"), max_digits=12, decimal_places=2)
    valid_from = models.DateTimeField(_("起始时间"))
    valid_to = models.DateTimeField(_("截止时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("资源费用记录")
        verbose_name_plural = pgettext_lazy("plural", "资源费用记录")
        ordering = ["instance", "valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["instance"], condition=Q(valid_to__isnull=True), name="one_open_cost"),
            models.CheckConstraint(condition=Q(valid_to__isnull=True) | Q(valid_to__gte=F("valid_from")),
                                   name="cost_ends_after_it_starts"),
        ]
        indexes = [models.Index(fields=["valid_from", "valid_to"], name="cost_period")]

    def __str__(self) -> str:
        return f"{self.instance_id} ¥{self.monthly_cost} {self.valid_from:%Y-%m-%d}–"


class CloudFinding(models.Model):
    """An object a cloud holds that no workspace manages (unmanaged), or one an instance's state holds that the
    cloud no longer has (missing); open until a scan no longer sees it or an operator closes it."""

    cloud = models.ForeignKey(Cloud, verbose_name=_("云"), on_delete=models.CASCADE, related_name="findings")
    kind = models.CharField(_("类型"), max_length=16, choices=FindingKind.choices)
    resource_type = models.CharField(_("资源类型"), max_length=64)
    object_id = models.CharField(_("云上标识"), max_length=255)
    name = models.CharField(_("名称"), max_length=255, blank=True)
    instance = models.ForeignKey(Instance, null=True, blank=True, on_delete=models.CASCADE, related_name="findings")
    first_seen_at = models.DateTimeField(_("首次发现"))
    last_seen_at = models.DateTimeField(_("最近发现"))
    resolved_at = models.DateTimeField(_("关闭时间"), null=True, blank=True)
    resolution = models.CharField(_("处置"), max_length=32, blank=True)

    class Meta:
        verbose_name = _("云上核对发现")
        verbose_name_plural = pgettext_lazy("plural", "云上核对发现")
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["cloud", "kind", "resource_type", "object_id"], condition=Q(resolved_at__isnull=True),
                name="one_open_finding_per_object",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.resource_type} {self.object_id}"


class Notification(models.Model):
    """An entry of a user's in-app inbox; the same text goes out by email.

    The message is kept as its untranslated text and values, and rendered in the reader's language when read
    (`subject_text`, `body_text`); `subject` and `body` keep it as written in the portal's first language, the
    record of what was said.
    """

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    request = models.ForeignKey(Request, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    # A message about a resource rather than a request (a lease ending soon) links to the resource.
    instance = models.ForeignKey(Instance, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    subject = models.CharField(_("主题"), max_length=200)
    body = models.TextField(_("内容"), blank=True)
    subject_msgid = models.TextField(blank=True, editable=False)
    body_msgid = models.TextField(blank=True, editable=False)
    params = models.JSONField(default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("通知")
        verbose_name_plural = pgettext_lazy("plural", "通知")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.subject

    @property
    def subject_text(self) -> str:
        return render_message(self.subject_msgid, self.params)[:200] if self.subject_msgid else self.subject

    @property
    def body_text(self) -> str:
        return render_message(self.body_msgid, self.params) if self.body_msgid else self.body


def render_message(msgid: str, params: dict) -> str:
    """A stored message in the active language. A value may itself name text to translate ({"msgid": ...}) or
    carry its words per language ({"zh-hans": ..., "en": ...})."""
    language = get_language() or settings.LANGUAGE_CODE
    values = {}
    for name, value in params.items():
        if isinstance(value, dict) and "msgid" in value:
            value = gettext(value["msgid"])
        elif isinstance(value, dict):
            value = value.get(language) or value.get(settings.LANGUAGE_CODE) or next(iter(value.values()), "")
        values[name] = value
    try:
        return gettext(msgid) % values
    except (KeyError, TypeError, ValueError):
        return msgid % values if values else msgid
