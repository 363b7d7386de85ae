"""Choices of the portal's own models: agency levels, roles, audit outcomes."""
from django.db import models
from django.utils.translation import gettext_lazy as _


class AgencyLevel(models.TextChoices):
    PROVINCE = "province", _("省级")
    CITY = "city", _("市级")
    COUNTY = "county", _("县级")


class Role(models.TextChoices):
    """The portal's roles. Each is a Group of the same name; agency and cloud scope come from object permissions."""

    REQUESTER = "requester", _("申请人")
    AGENCY_APPROVER = "agency_approver", _("单位审批人")
    CLOUD_OWNER = "cloud_owner", _("云主管部门")
    SECURITY_REVIEWER = "security_reviewer", _("安全审核员")
    FINANCE_REVIEWER = "finance_reviewer", _("财务审核员")
    OPERATOR = "operator", _("运维人员")
    SYSTEM_ADMIN = "system_admin", _("系统管理员")
    SECURITY_ADMIN = "security_admin", _("安全管理员")
    AUDIT_ADMIN = "audit_admin", _("审计管理员")


# The three separated admins of MLPS 2.0: granted in the portal by a person, never from a directory.
ADMIN_ROLES = frozenset({Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.AUDIT_ADMIN})


class IdentitySource(models.TextChoices):
    """Where a user's password is checked and their agency and roles come from."""

    LOCAL = "local", _("本地账号")
    LDAP = "ldap", _("统一身份目录（LDAP）")
    OIDC = "oidc", _("统一身份认证（OIDC）")


class AuditOutcome(models.TextChoices):
    SUCCESS = "success", _("成功")
    FAILURE = "failure", _("失败")
    DENIED = "denied", _("拒绝")


class ChannelKind(models.TextChoices):
    """Where a message goes besides the in-app inbox."""

    EMAIL = "email", _("邮件")
    DINGTALK = "dingtalk", _("钉钉群机器人")
    WECOM = "wecom", _("企业微信群机器人")
    WEBHOOK = "webhook", _("通用 Webhook")


class EventKind(models.TextChoices):
    """What a message is about; each user picks the channels for each kind (the inbox always gets it)."""

    STAGE_OPENED = "stage_opened", _("有申请待我审批")
    REQUEST_DECIDED = "request_decided", _("我的申请有审批结果")
    REQUEST_COMPLETED = "request_completed", _("我的申请已完成")
    REQUEST_FAILED = "request_failed", _("我的申请执行失败")
    LEASE_ENDING = "lease_ending", _("资源租期即将到期")
    SLA_OVERDUE = "sla_overdue", _("审批超时提醒")
    OPERATIONS = "operations", _("运维待处置")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("待发送")
    SENDING = "sending", _("发送中")
    SENT = "sent", _("已发送")
    FAILED = "failed", _("发送失败")


# An outbox row is claimed before it is sent (at most once); a failed try goes back to pending until the last.
DELIVERY_TRANSITIONS: dict[str, set[str]] = {
    DeliveryStatus.PENDING: {DeliveryStatus.SENDING},
    DeliveryStatus.SENDING: {DeliveryStatus.SENT, DeliveryStatus.PENDING, DeliveryStatus.FAILED},
    DeliveryStatus.SENT: set(),
    DeliveryStatus.FAILED: set(),
}
