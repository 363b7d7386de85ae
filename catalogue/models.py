"""The catalogue: clouds of the 1+14+N, the services they offer, and the Terraform module behind each offering."""
import json
from decimal import Decimal
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from portal import crypto
from portal.models import Agency
from portal.names import EnglishNameMixin, english_name_field

from .choices import Capability, CloudStatus, CloudTier, DataClassification, QuotaDimension
from .module_i18n import translate_module_text
from .module_schema import ModuleSchemaError, Variable, parse_variables
from .offers import offers_refused_by_module, validate_offers


def validate_classifications(value) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError(_("至少选择一个数据分级。"))
    for item in value:
        if item not in DataClassification.values:
            raise ValidationError(_("未知的数据分级：%(value)s"), params={"value": item})


class Cloud(EnglishNameMixin, models.Model):
    """One cloud of the 1+14+N, each a tenant of its own with its own endpoint and credentials."""

    slug = models.SlugField(_("标识"), max_length=64, unique=True)
    name = models.CharField(_("名称"), max_length=64, unique=True)
    name_en = english_name_field(128)
    tier = models.CharField(_("类别"), max_length=16, choices=CloudTier.choices, db_index=True)
    description = models.TextField(_("简介"), blank=True)
    owner_agency = models.ForeignKey(
        Agency, verbose_name=_("主管部门"), on_delete=models.PROTECT, related_name="owned_clouds"
    )
    endpoint = models.URLField(_("接口地址"), max_length=255)
    region = models.CharField(_("区域"), max_length=64)
    allowed_classifications = models.JSONField(
        _("允许的数据分级"), default=list, validators=[validate_classifications],
        help_text=_("可在此云上存放的数据分级，例如 [1, 2]。"),
    )
    # What only the cloud can judge; see catalogue.offers. Blank in the database, required by clean().
    offers = models.JSONField(
        _("可用区、镜像与规格"), default=dict, blank=True,
        help_text=_(
            "此云实际提供的值，申请表单只列出这些。JSON 对象，各项为文本列表："
            "zones（可用区，必填）、images（操作系统镜像）、flavors（云主机规格）、db_classes（数据库规格）；"
            "未填写的项沿用模块允许的全部值。例如 "
            '{"zones": ["cn-north-1a", "cn-north-1b"], "images": ["kylin-v10", "uos-20"]}。'
        ),
    )
    status = models.CharField(_("状态"), max_length=16, choices=CloudStatus.choices, default=CloudStatus.ACTIVE)
    sort_order = models.PositiveSmallIntegerField(_("排序"), default=100)
    account_id = models.CharField(_("云账号"), max_length=64, blank=True)
    # Fernet token of {"access_key_id": …, "secret_access_key": …}; read only by the worker that runs Terraform.
    credentials_token = models.TextField(editable=False, blank=True)
    max_concurrent_runs = models.PositiveSmallIntegerField(
        _("并发运行上限"), default=2, validators=[MinValueValidator(1)],
        help_text=_("此云上同时执行的 Terraform 运行数上限。"),
    )

    class Meta:
        verbose_name = _("云")
        verbose_name_plural = pgettext_lazy("plural", "云")
        ordering = ["sort_order", "slug"]
        permissions = [("own_cloud", _("Can act as the cloud's owning department"))]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == CloudStatus.ACTIVE

    def allowed_classification_labels(self) -> list[str]:
        return [str(DataClassification(level).label) for level in sorted(self.allowed_classifications)]

    def set_credentials(self, access_key_id: str, secret_access_key: str) -> None:
        self.credentials_token = crypto.encrypt(
            json.dumps({"access_key_id": access_key_id, "secret_access_key": secret_access_key})
        )

    def get_credentials(self) -> dict[str, str] | None:
        if not self.credentials_token:
            return None
        return json.loads(crypto.decrypt(self.credentials_token))

    @property
    def has_credentials(self) -> bool:
        return bool(self.credentials_token)

    def clean(self) -> None:
        try:
            validate_offers(self.offers)
        except ValidationError as exc:
            raise ValidationError({"offers": exc.messages}) from None
        if self.pk:
            problems = []
            for offering in self.offerings.select_related("module"):
                problems.extend(offering.offers_refused_by_module(self.offers))
            if problems:
                raise ValidationError({"offers": problems})


class Service(EnglishNameMixin, models.Model):
    """A kind of resource agencies can ask for: a virtual machine, a bucket, a database, a network."""

    slug = models.SlugField(_("标识"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=64)
    name_en = english_name_field(128)
    description = models.TextField(_("简介"), blank=True)
    module_name = models.CharField(_("Terraform 模块"), max_length=64)
    sort_order = models.PositiveSmallIntegerField(_("排序"), default=100)

    class Meta:
        verbose_name = _("服务")
        verbose_name_plural = pgettext_lazy("plural", "服务")
        ordering = ["sort_order", "slug"]

    def __str__(self) -> str:
        return self.name


class ModuleVersion(models.Model):
    """An immutable, published copy of one Terraform module's files.

    Workspaces are generated from these rows, so any worker can build any run without a shared file system,
    and a module edited on disk never changes what an approved request will apply.
    """

    name = models.CharField(_("模块"), max_length=64)
    version = models.CharField(_("版本"), max_length=32)
    files = models.JSONField(_("文件"), default=dict, editable=False)
    digest = models.CharField(_("摘要"), max_length=64, editable=False)
    published_at = models.DateTimeField(_("发布时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("模块版本")
        verbose_name_plural = pgettext_lazy("plural", "模块版本")
        ordering = ["name", "-published_at"]
        constraints = [models.UniqueConstraint(fields=["name", "version"], name="module_version_unique")]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"

    @property
    def variables_source(self) -> str:
        return self.files.get("variables.tf", "")

    def variables(self) -> list[Variable]:
        """The module's variables, parsed once per published digest (raises ModuleSchemaError)."""
        return list(_parsed_variables(self.name, self.digest, self.variables_source))


@lru_cache(maxsize=256)
def _parsed_variables(name: str, digest: str, source: str) -> tuple[Variable, ...]:
    return tuple(parse_variables(source, module=name))


class Offering(models.Model):
    """A service on one cloud: which module version provisions it, what it costs, what it can do."""

    service = models.ForeignKey(Service, verbose_name=_("服务"), on_delete=models.PROTECT, related_name="offerings")
    cloud = models.ForeignKey(Cloud, verbose_name=_("云"), on_delete=models.PROTECT, related_name="offerings")
    module = models.ForeignKey(
        ModuleVersion, verbose_name=_("模块版本"), on_delete=models.PROTECT, related_name="offerings"
    )
    summary = models.CharField(_("说明"), max_length=255, blank=True)
    enabled = models.BooleanField(_("上架"), default=True)
    capabilities = models.JSONField(_("能力"), default=list, blank=True)
    allowed_classifications = models.JSONField(
        _("允许的数据分级"), default=list, blank=True,
        help_text=_("留空表示沿用所在云允许的分级；填写时只能收窄。"),
    )
    base_monthly_price = models.DecimalField(
        _("基础月费（元）"), max_digits=12, decimal_places=2, default=Decimal("0"), validators=[MinValueValidator(0)]
    )
    # {"vcpu": "45.00", "memory_gb": "20.00", …}: yuan per unit per month, by quota dimension.
    unit_prices = models.JSONField(_("单价（元/单位/月）"), default=dict, blank=True)
    # How request parameters become usage per dimension; see catalogue.pricing.
    usage_rules = models.JSONField(_("用量规则"), default=dict, blank=True)
    # The lease a request gets unless it asks otherwise, and the longest one it may ask for (and extend by).
    lease_default_months = models.PositiveSmallIntegerField(
        _("默认租期（月）"), default=12, validators=[MinValueValidator(1), MaxValueValidator(60)]
    )
    lease_max_months = models.PositiveSmallIntegerField(
        _("最长租期（月）"), default=36, validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text=_("申请和每次续期最多可选的月数，不超过 60。"),
    )

    class Meta:
        verbose_name = _("服务规格")
        verbose_name_plural = pgettext_lazy("plural", "服务规格")
        ordering = ["cloud__sort_order", "service__sort_order"]
        constraints = [models.UniqueConstraint(fields=["service", "cloud"], name="offering_service_cloud_unique")]

    def __str__(self) -> str:
        return f"{self.cloud} · {self.service}"

    @property
    def effective_classifications(self) -> list[int]:
        cloud_levels = set(self.cloud.allowed_classifications)
        if self.allowed_classifications:
            return sorted(cloud_levels & set(self.allowed_classifications))
        return sorted(cloud_levels)

    def classification_labels(self) -> list[str]:
        return [str(DataClassification(level).label) for level in self.effective_classifications]

    def unit_price_rows(self) -> list[tuple[str, str]]:
        return [
            (str(QuotaDimension(dim).label), price) for dim, price in self.unit_prices.items() if dim in QuotaDimension.values
        ]

    def capability_labels(self) -> list[str]:
        return [str(Capability(flag).label) for flag in self.capabilities if flag in Capability.values]

    def clean(self) -> None:
        for flag in self.capabilities:
            if flag not in Capability.values:
                raise ValidationError({"capabilities": _("未知的能力：%(flag)s") % {"flag": flag}})
        for dimension in self.unit_prices:
            if dimension not in QuotaDimension.values:
                raise ValidationError({"unit_prices": _("未知的计费维度：%(dim)s") % {"dim": dimension}})
        if self.allowed_classifications:
            validate_classifications(self.allowed_classifications)
            if not set(self.allowed_classifications) <= set(self.cloud.allowed_classifications):
                raise ValidationError(
                    {"allowed_classifications": _("规格的数据分级只能是所在云允许分级的子集。")}
                )
        if self.lease_default_months and self.lease_max_months and self.lease_default_months > self.lease_max_months:
            raise ValidationError({"lease_default_months": _("默认租期不能超过最长租期（%(max)s 个月）。") % {
                "max": self.lease_max_months}})
        if self.module_id and self.service_id and self.module.name != self.service.module_name:
            raise ValidationError({"module": _("模块与服务不符：该服务使用模块 %(name)s。") % {"name": self.service.module_name}})
        if self.module_id and self.cloud_id:
            problems = self.offers_refused_by_module(self.cloud.offers)
            if problems:
                raise ValidationError(
                    {"module": [*problems, _("请在“%(cloud)s”的可用区、镜像与规格中改正，或换用接受这些值的模块版本。")
                                % {"cloud": self.cloud.name}]}
                )

    def offers_refused_by_module(self, offers: dict) -> list[str]:
        """What the cloud declares that this offering's module refuses (see catalogue.offers)."""
        try:
            variables = self.module.variables()
        except ModuleSchemaError:
            return []  # a module that cannot be read was never published
        return offers_refused_by_module(offers, variables, module=str(self.module), translate=translate_module_text)
