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


class AuditOutcome(models.TextChoices):
    SUCCESS = "success", _("成功")
    FAILURE = "failure", _("失败")
    DENIED = "denied", _("拒绝")
