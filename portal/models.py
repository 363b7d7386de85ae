"""Identity (agencies and users) and the append-only audit trail."""
import json

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from . import audit_chain
from .choices import AgencyLevel, AuditOutcome, ChannelKind, DeliveryStatus, EventKind, IdentitySource
from .names import EnglishNameMixin, english_name_field
from .separation import superuser_check


class Agency(EnglishNameMixin, models.Model):
    """A government department, placed in the province → city → county hierarchy."""

    code = models.SlugField(_("编码"), max_length=64, unique=True)
    name = models.CharField(_("名称"), max_length=128, unique=True)
    name_en = english_name_field(200)
    level = models.CharField(_("层级"), max_length=16, choices=AgencyLevel.choices)
    parent = models.ForeignKey(
        "self", verbose_name=_("上级单位"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("单位")
        verbose_name_plural = pgettext_lazy("plural", "单位")
        ordering = ["level", "code"]
        permissions = [
            ("request_for_agency", _("Can submit requests on behalf of the agency")),
            ("approve_for_agency", _("Can approve the agency's requests")),
        ]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A portal user; `agency` is the department the person works for."""

    full_name = models.CharField(_("姓名"), max_length=64, blank=True)
    agency = models.ForeignKey(
        Agency, verbose_name=_("所属单位"), null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    # The language the person last picked with the language switch; messages that leave the portal (email)
    # are written in it. Empty: the portal's first language.
    language = models.CharField(_("语言"), max_length=16, blank=True, choices=settings.LANGUAGES)
    # The break-glass account (manage.py break_glass): the only superuser, holding no role (portal.separation).
    is_break_glass = models.BooleanField(_("应急账号"), default=False, editable=False)
    # A directory user signs in only through the directory (never a local password), and each sign-in there
    # sets their agency and roles again.
    identity_source = models.CharField(
        _("身份来源"), max_length=8, choices=IdentitySource.choices, default=IdentitySource.LOCAL
    )

    class Meta(AbstractUser.Meta):
        verbose_name = _("用户")
        verbose_name_plural = pgettext_lazy("plural", "用户")
        permissions = [("assign_role", _("Can assign roles to users"))]

    def clean(self):
        super().clean()
        self._separation_check()

    def save(self, *args, **kwargs):
        self._separation_check()
        super().save(*args, **kwargs)

    def _separation_check(self) -> None:
        if self.is_superuser or self.is_break_glass:  # the everyday save (a login's last_login) reads nothing
            stored = type(self).objects.filter(pk=self.pk).only("is_break_glass").first() if self.pk else None
            superuser_check(self, stored)

    def get_full_name(self) -> str:
        return self.full_name or super().get_full_name() or self.username

    def __str__(self) -> str:
        return self.get_full_name()


class AuditEvent(models.Model):
    """One entry of the tamper-evident trail: each row's hash is an HMAC (portal.audit_chain) over its content
    and the previous row's hash, under the key `key_id` names; rows from before the chain was keyed have no
    key id and a plain SHA-256 hash.

    Rows are only ever inserted (portal.services.audit_record); save() refuses updates, delete() refuses, and on
    PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE from any client (audit_purge's deletes of events
    past retention, by the table's owner, are the one exception).
    """

    occurred_at = models.DateTimeField(_("时间"), db_index=True)
    actor = models.ForeignKey(
        User, verbose_name=_("操作人"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_username = models.CharField(_("操作人账号"), max_length=150, blank=True)
    source_ip = models.GenericIPAddressField(_("来源 IP"), null=True, blank=True)
    action = models.CharField(_("操作"), max_length=64, db_index=True)
    object_type = models.CharField(_("对象类型"), max_length=64, blank=True)
    object_id = models.CharField(_("对象 ID"), max_length=64, blank=True)
    object_repr = models.CharField(_("对象"), max_length=255, blank=True)
    agency = models.ForeignKey(
        Agency, verbose_name=_("单位"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.CharField(_("结果"), max_length=16, choices=AuditOutcome.choices, default=AuditOutcome.SUCCESS)
    details = models.JSONField(_("详情"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64, unique=True)
    key_id = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        verbose_name = _("审计事件")
        verbose_name_plural = pgettext_lazy("plural", "审计事件")
        ordering = ["-id"]
        # The timelines of a request or resource and the audit page's object search read events by object.
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object")]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.actor_username or '-'} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("audit events are append-only")

    @property
    def action_label(self) -> str:
        """The action in words, in the active language (the action code is what the trail records)."""
        from .audit import action_label

        return action_label(self.action)

    def compute_hash(self) -> str:
        payload = {
            "occurred_at": self.occurred_at.isoformat(),
            "actor_id": self.actor_id,
            "actor_username": self.actor_username,
            "source_ip": self.source_ip,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "object_repr": self.object_repr,
            "agency_id": self.agency_id,
            "outcome": self.outcome,
            "details": self.details,
            "prev_hash": self.prev_hash,
        }
        if self.key_id:  # unkeyed old rows keep the payload they were hashed with
            payload["key_id"] = self.key_id
        canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, cls=DjangoJSONEncoder)
        return audit_chain.digest(canonical.encode(), self.key_id)


class NotificationChannel(models.Model):
    """One place a user's messages go besides the inbox: their account email, a DingTalk or WeCom group robot,
    or a webhook of their own. `events` lists the kinds of message (EventKind) sent here.

    A robot's or webhook's URL carries its access token, so the URL and the signing secret are kept together as
    a Fernet token (`config_token`) and never shown again; `target_hint` (the host) is what pages show.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notification_channels")
    kind = models.CharField(_("类型"), max_length=16, choices=ChannelKind.choices)
    name = models.CharField(_("名称"), max_length=64)
    target_hint = models.CharField(_("目标"), max_length=255, blank=True)
    config_token = models.TextField(editable=False, blank=True)
    events = models.JSONField(_("接收的消息"), default=list, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("通知渠道")
        verbose_name_plural = pgettext_lazy("plural", "通知渠道")
        ordering = ["user", "pk"]
        constraints = [
            # The account email is one channel per user (its address is the account's).
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(kind="email"), name="notification_channel_one_email"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.name}"

    @property
    def display_name(self) -> str:
        """The account email's name follows the reader's language; the others are the names users gave."""
        from django.utils.translation import gettext

        return gettext("账号邮箱") if self.kind == ChannelKind.EMAIL else self.name

    @property
    def config(self) -> dict:
        from .crypto import decrypt

        return json.loads(decrypt(self.config_token)) if self.config_token else {}

    @config.setter
    def config(self, values: dict) -> None:
        from .crypto import encrypt

        self.config_token = encrypt(json.dumps(values)) if values else ""


class NotificationDelivery(models.Model):
    """The outbox: one row per (inbox entry, channel), written in the transaction that wrote the entry and sent
    after it commits. The unique pair makes the send happen at most once; a failed try is retried with
    backoff until DELIVERY_MAX_ATTEMPTS."""

    notification = models.ForeignKey("provisioning.Notification", on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(_("消息类型"), max_length=32, choices=EventKind.choices)
    status = models.CharField(
        _("状态"), max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次尝试"), db_index=True)
    last_error = models.CharField(_("最近错误"), max_length=500, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("消息投递")
        verbose_name_plural = pgettext_lazy("plural", "消息投递")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["notification", "channel"], name="notification_delivery_once"),
        ]

    def __str__(self) -> str:
        return f"{self.notification_id} → {self.channel_id} ({self.status})"


class ApprovalLink(models.Model):
    """The single-use key behind the approve/reject links of a stage-opened message: the signed link names the
    nonce, and the nonce is spent when either decision is taken through it."""

    nonce = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    stage = models.ForeignKey("provisioning.RequestStage", on_delete=models.CASCADE, related_name="+")
    notification = models.OneToOneField(
        "provisioning.Notification", null=True, blank=True, on_delete=models.CASCADE, related_name="approval_link"
    )
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("审批链接")
        verbose_name_plural = pgettext_lazy("plural", "审批链接")

    def __str__(self) -> str:
        return f"{self.user_id}@{self.stage_id}"
