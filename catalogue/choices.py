"""Choices of the catalogue: cloud tiers and statuses, data classifications, capabilities."""
from django.db import models
from django.utils.translation import gettext_lazy as _


class CloudTier(models.TextChoices):
    """The "1+14+N": one government cloud, fourteen industry clouds, N specialty clouds."""

    GOVERNMENT = "government", _("政务云")
    INDUSTRY = "industry", _("行业云")
    SPECIALTY = "specialty", _("专属云")


class CloudStatus(models.TextChoices):
    ACTIVE = "active", _("运行中")
    MAINTENANCE = "maintenance", _("维护中")
    RETIRED = "retired", _("已下线")


class DataClassification(models.IntegerChoices):
    """Data levels a resource may hold, in rising order of sensitivity; clouds list the levels they allow."""

    PUBLIC = 1, _("公开")
    INTERNAL = 2, _("内部")
    SENSITIVE = 3, _("敏感")
    IMPORTANT = 4, _("重要")


class Capability(models.TextChoices):
    BACKUP = "backup", _("自动备份")
    ENCRYPTION = "encryption", _("静态加密")
    PUBLIC_IP = "public_ip", _("公网访问")
    HIGH_AVAILABILITY = "high_availability", _("高可用")
    VERSIONING = "versioning", _("版本控制")
    SNAPSHOT = "snapshot", _("快照")


class QuotaDimension(models.TextChoices):
    VCPU = "vcpu", _("vCPU（核）")
    MEMORY_GB = "memory_gb", _("内存（GB）")
    STORAGE_GB = "storage_gb", _("存储（GB）")
    INSTANCES = "instances", _("实例数")
    BUCKETS = "buckets", _("存储桶数")
    MONTHLY_COST = "monthly_cost", _("月费用（元）")
