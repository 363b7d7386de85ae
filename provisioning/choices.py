"""Statuses and kinds of provisioning, with the transition tables that every status change is checked against."""
from django.db import models
from django.utils.translation import gettext_lazy as _


class RunKind(models.TextChoices):
    PLAN = "plan", _("计划")
    APPLY = "apply", _("执行")
    DESTROY = "destroy", _("销毁")
    REFRESH = "refresh", _("刷新比对")


class PlanMode(models.TextChoices):
    NORMAL = "normal", _("变更")
    DESTROY = "destroy", _("销毁")
    REFRESH_ONLY = "refresh_only", _("仅刷新")


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("运行中")
    SUCCEEDED = "succeeded", _("成功")
    FAILED = "failed", _("失败")
    CANCELLED = "cancelled", _("已取消")
    NEEDS_RECONCILIATION = "needs_reconciliation", _("待核对")

    @classmethod
    def active(cls) -> set[str]:
        return {cls.QUEUED, cls.RUNNING}

    @classmethod
    def terminal(cls) -> set[str]:
        return {cls.SUCCEEDED, cls.FAILED, cls.CANCELLED}


RUN_TRANSITIONS: dict[str, set[str]] = {
    RunStatus.QUEUED: {RunStatus.RUNNING, RunStatus.CANCELLED},
    # A lost plan or refresh goes back to the queue; a lost apply or destroy waits for an operator.
    RunStatus.RUNNING: {
        RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.QUEUED, RunStatus.NEEDS_RECONCILIATION,
    },
    RunStatus.NEEDS_RECONCILIATION: {RunStatus.SUCCEEDED, RunStatus.FAILED},
    RunStatus.SUCCEEDED: set(),
    RunStatus.FAILED: set(),
    RunStatus.CANCELLED: set(),
}


class ResourceAction(models.TextChoices):
    CREATE = "create", _("新建")
    UPDATE = "update", _("变更")
    REPLACE = "replace", _("替换")
    DELETE = "delete", _("删除")
    IMPORT = "import", _("纳管")
    READ = "read", _("读取")
    NO_OP = "no-op", _("不变")


class RequestKind(models.TextChoices):
    CREATE = "create", _("新建")
    MODIFY = "modify", _("变更")
    EXTEND = "extend", _("续期")
    DECOMMISSION = "decommission", _("退订")


class RequestStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    SUBMITTED = "submitted", _("已提交")
    PLANNING = "planning", _("生成计划中")
    AWAITING_APPROVAL = "awaiting_approval", _("待审批")
    APPROVED = "approved", _("已批准")
    APPLYING = "applying", _("开通中")
    COMPLETED = "completed", _("已完成")
    REJECTED = "rejected", _("已驳回")
    CANCELLED = "cancelled", _("已撤销")
    FAILED = "failed", _("失败")
    # A change whose plan changes nothing: it is not sent for approval.
    UNCHANGED = "unchanged", _("无需变更")

    @classmethod
    def active(cls) -> set[str]:
        return {cls.SUBMITTED, cls.PLANNING, cls.AWAITING_APPROVAL, cls.APPROVED, cls.APPLYING}

    @classmethod
    def terminal(cls) -> set[str]:
        return {cls.COMPLETED, cls.REJECTED, cls.CANCELLED, cls.UNCHANGED}


REQUEST_TRANSITIONS: dict[str, set[str]] = {
    RequestStatus.DRAFT: {RequestStatus.SUBMITTED, RequestStatus.CANCELLED},
    RequestStatus.SUBMITTED: {RequestStatus.PLANNING, RequestStatus.AWAITING_APPROVAL, RequestStatus.CANCELLED},
    RequestStatus.PLANNING: {
        RequestStatus.AWAITING_APPROVAL, RequestStatus.FAILED, RequestStatus.CANCELLED, RequestStatus.UNCHANGED,
    },
    # A re-plan (new cost, new plan) sends an awaiting request back to planning.
    RequestStatus.AWAITING_APPROVAL: {
        RequestStatus.APPROVED, RequestStatus.REJECTED, RequestStatus.CANCELLED, RequestStatus.PLANNING,
    },
    RequestStatus.APPROVED: {RequestStatus.APPLYING, RequestStatus.COMPLETED, RequestStatus.FAILED},
    RequestStatus.APPLYING: {RequestStatus.COMPLETED, RequestStatus.FAILED},
    # Retry: a new plan, approved again by the last stage.
    RequestStatus.FAILED: {RequestStatus.PLANNING, RequestStatus.CANCELLED},
    RequestStatus.COMPLETED: set(),
    RequestStatus.REJECTED: set(),
    RequestStatus.CANCELLED: set(),
    RequestStatus.UNCHANGED: set(),
}


class StageMode(models.TextChoices):
    ANY = "any", _("任一人")
    ALL = "all", _("全部")
    M_OF_N = "m_of_n", _("N 人中 M 人")


class StageStatus(models.TextChoices):
    WAITING = "waiting", _("未开始")
    OPEN = "open", _("审批中")
    APPROVED = "approved", _("已通过")
    REJECTED = "rejected", _("已驳回")
    SKIPPED = "skipped", _("不适用")

    @classmethod
    def active(cls) -> set[str]:
        return {cls.WAITING, cls.OPEN}

    @classmethod
    def terminal(cls) -> set[str]:
        return {cls.REJECTED, cls.SKIPPED}


STAGE_TRANSITIONS: dict[str, set[str]] = {
    # Opened in its turn, or passed over when its condition does not hold for the request.
    StageStatus.WAITING: {StageStatus.OPEN, StageStatus.SKIPPED},
    # Signed, rejected, passed over by a cancel, or closed again by a re-plan (it reopens with the new plan).
    StageStatus.OPEN: {StageStatus.APPROVED, StageStatus.REJECTED, StageStatus.SKIPPED, StageStatus.WAITING},
    # A new plan or a retry after a failure asks the stage to sign again.
    StageStatus.APPROVED: {StageStatus.WAITING},
    StageStatus.REJECTED: set(),
    StageStatus.SKIPPED: set(),
}


class ApproverRole(models.TextChoices):
    """Who signs a stage: the requesting agency's approvers, the cloud's owners, or a reviewer role."""

    AGENCY_APPROVER = "agency_approver", _("申请单位审批人")
    CLOUD_OWNER = "cloud_owner", _("云主管部门")
    SECURITY_REVIEWER = "security_reviewer", _("安全审核")
    FINANCE_REVIEWER = "finance_reviewer", _("财务审核")


class StageCondition(models.TextChoices):
    ALWAYS = "always", _("总是")
    COST_AT_LEAST = "cost_at_least", _("月费用不低于")
    CLASSIFICATION_AT_LEAST = "classification_at_least", _("数据分级不低于")
    REQUEST_KIND = "request_kind", _("申请类型为")


class Decision(models.TextChoices):
    APPROVE = "approve", _("同意")
    REJECT = "reject", _("驳回")


class ReservationStatus(models.TextChoices):
    RESERVED = "reserved", _("已预留")
    CONSUMED = "consumed", _("已占用")
    RELEASED = "released", _("已释放")

    @classmethod
    def active(cls) -> set[str]:
        return {cls.RESERVED}

    @classmethod
    def terminal(cls) -> set[str]:
        return {cls.CONSUMED, cls.RELEASED}


RESERVATION_TRANSITIONS: dict[str, set[str]] = {
    # A successful apply uses what was reserved; reject, cancel and failure give it back.
    ReservationStatus.RESERVED: {ReservationStatus.CONSUMED, ReservationStatus.RELEASED},
    ReservationStatus.CONSUMED: set(),
    ReservationStatus.RELEASED: set(),
}


class InstanceStatus(models.TextChoices):
    ACTIVE = "active", _("运行中")
    CHANGING = "changing", _("变更中")
    DESTROYED = "destroyed", _("已销毁")
    NEEDS_RECONCILIATION = "needs_reconciliation", _("待核对")

    @classmethod
    def active(cls) -> set[str]:
        return {cls.ACTIVE, cls.CHANGING, cls.NEEDS_RECONCILIATION}

    @classmethod
    def terminal(cls) -> set[str]:
        return {cls.DESTROYED}


INSTANCE_TRANSITIONS: dict[str, set[str]] = {
    # An approved change or decommission starts its apply.
    InstanceStatus.ACTIVE: {InstanceStatus.CHANGING},
    # The apply ends (back to active, or destroyed by a decommission), or loses its worker.
    InstanceStatus.CHANGING: {InstanceStatus.ACTIVE, InstanceStatus.DESTROYED, InstanceStatus.NEEDS_RECONCILIATION},
    # An operator's verdict on the lost run: failed (back to what the state says) or succeeded.
    InstanceStatus.NEEDS_RECONCILIATION: {InstanceStatus.ACTIVE, InstanceStatus.DESTROYED},
    InstanceStatus.DESTROYED: set(),
}


class DriftStatus(models.TextChoices):
    UNKNOWN = "unknown", _("未检查")
    IN_SYNC = "in_sync", _("一致")
    DRIFTED = "drifted", _("已漂移")


class FindingKind(models.TextChoices):
    """What a cloud scan found (provisioning.services.scan)."""

    UNMANAGED = "unmanaged", _("未纳管")
    MISSING = "missing", _("已缺失")
