"""Channels beyond the inbox (email, DingTalk and WeCom group robots, signed webhooks) and the outbox that
sends to them.

notify() writes one NotificationDelivery per (inbox entry, channel) in the caller's transaction; the sender
claims a row by compare-and-set (pending → sending) before it talks to the channel, so a row is sent at most
once, and records the outcome: sent, or pending again with a later next_attempt_at (backoff doubling each
try), or failed after DELIVERY_MAX_ATTEMPTS. Nothing here ever raises into a transition: the sending happens
after commit, and every error is caught and kept (without URLs or secrets) in last_error.
"""
import base64
import hashlib
import hmac
import json
import logging
import smtplib
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from portal.choices import DELIVERY_TRANSITIONS, ChannelKind, DeliveryStatus, EventKind
from portal.errors import DomainError, PermissionDenied
from portal.models import NotificationChannel, NotificationDelivery, User
from portal.services import audit_record

from ..models import Notification
from .approval_links import approval_link_urls
from .transitions import rows_move

logger = logging.getLogger(__name__)

ALL_EVENTS = [kind.value for kind in EventKind]
ROBOT_KINDS = (ChannelKind.DINGTALK, ChannelKind.WECOM, ChannelKind.WEBHOOK)


class DeliveryError(Exception):
    """A send that did not go through; the text is safe to keep (no URL, token or secret in it)."""


# Which channels ---------------------------------------------------------------------------------------------


def email_channel(user: User) -> NotificationChannel:
    """The user's account-email channel, made on first need with every kind of message switched on: before
    channels existed every message was mailed, and that stays the default."""
    channel = NotificationChannel.objects.filter(user=user, kind=ChannelKind.EMAIL).first()
    if channel is not None:
        return channel
    try:
        with transaction.atomic():
            return NotificationChannel.objects.create(
                user=user, kind=ChannelKind.EMAIL, name="账号邮箱", events=list(ALL_EVENTS)
            )
    except IntegrityError:  # made at the same moment by another transaction
        return NotificationChannel.objects.get(user=user, kind=ChannelKind.EMAIL)


def user_channels(user: User) -> list[NotificationChannel]:
    email_channel(user)
    channels = NotificationChannel.objects.filter(user=user)
    return sorted(channels, key=lambda channel: (channel.kind != ChannelKind.EMAIL, channel.pk))


def channels_for(user: User, event: str) -> list[NotificationChannel]:
    """The active channels where `user` wants messages of kind `event`."""
    channels = []
    for channel in user_channels(user):
        if not channel.is_active or event not in channel.events:
            continue
        if channel.kind == ChannelKind.EMAIL and not user.email:
            continue
        channels.append(channel)
    return channels


def outbox_add(notification: Notification, event: str) -> list[NotificationDelivery]:
    """The outbox rows for one inbox entry, in the caller's transaction (a second call adds nothing)."""
    rows = []
    now = timezone.now()
    for channel in channels_for(notification.recipient, event):
        row, _created = NotificationDelivery.objects.get_or_create(
            notification=notification, channel=channel, defaults={"event": event, "next_attempt_at": now}
        )
        rows.append(row)
    return rows


# Managing one's channels ------------------------------------------------------------------------------------


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    if not url:
        raise DomainError(_("请填写地址。"), field="url")
    if len(url) > 1000:
        raise DomainError(_("地址太长。"), field="url")
    try:
        URLValidator(schemes=["http", "https"])(url)
    except Exception as exc:
        raise DomainError(_("地址必须是以 http:// 或 https:// 开头的网址。"), field="url") from exc
    allowed = [host.lower() for host in settings.CHANNEL_ALLOWED_HOSTS]
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    if allowed and not any(host == entry or (entry.startswith(".") and host.endswith(entry)) for entry in allowed):
        raise DomainError(_("该地址的主机不在允许的范围内，请联系系统管理员。"), field="url")
    return url


def _own(actor: User, channel: NotificationChannel) -> NotificationChannel:
    if channel.user_id != actor.pk:
        raise PermissionDenied(_("只能管理自己的通知渠道。"))
    return channel


@transaction.atomic
def channel_create(*, actor: User, kind: str, name: str, url: str = "", secret: str = "") -> NotificationChannel:
    """Add a robot or webhook channel; it starts with no kind of message switched on."""
    if kind not in ROBOT_KINDS:
        raise DomainError(_("请选择渠道类型。"), field="kind")
    name = (name or "").strip()
    if not name:
        raise DomainError(_("请填写名称。"), field="name")
    if len(name) > 64:
        raise DomainError(_("名称最多 64 个字符。"), field="name")
    url = _clean_url(url)
    secret = (secret or "").strip()
    if len(secret) > 256:
        raise DomainError(_("密钥最多 256 个字符。"), field="secret")
    if kind == ChannelKind.WEBHOOK and not secret:
        raise DomainError(_("通用 Webhook 必须设置签名密钥，接收方用它校验消息来自门户。"), field="secret")
    if kind == ChannelKind.WECOM:
        secret = ""  # WeCom's group robot has no signing; the key is in the URL
    if NotificationChannel.objects.filter(user=actor).count() >= 20:
        raise DomainError(_("每人最多 20 个通知渠道。"))
    channel = NotificationChannel(
        user=actor, kind=kind, name=name, target_hint=urllib.parse.urlsplit(url).hostname or "", events=[]
    )
    channel.config = {"url": url, "secret": secret}
    channel.save()
    audit_record(
        actor=actor, action="notification_channel.created", obj=channel, agency=actor.agency,
        details={"kind": kind, "name": name, "host": channel.target_hint, "signed": bool(secret)},
    )
    return channel


@transaction.atomic
def channel_delete(*, actor: User, channel: NotificationChannel) -> None:
    _own(actor, channel)
    if channel.kind == ChannelKind.EMAIL:
        raise DomainError(_("账号邮箱不能删除；不需要时请取消勾选它接收的消息。"))
    audit_record(
        actor=actor, action="notification_channel.deleted", obj=channel, agency=actor.agency,
        details={"kind": channel.kind, "name": channel.name, "host": channel.target_hint},
    )
    channel.delete()


@transaction.atomic
def channel_choices_save(*, actor: User, choices: dict[int, set[str]]) -> None:
    """Set, for each of the actor's channels, the kinds of message it receives ({channel id: {event, ...}});
    a channel left out receives none."""
    before = {}
    for channel in NotificationChannel.objects.select_for_update().filter(user=actor):
        events = sorted(event for event in choices.get(channel.pk, set()) if event in ALL_EVENTS)
        before[channel.pk] = channel.events
        if sorted(channel.events) != events:
            channel.events = events
            channel.save(update_fields=["events"])
    audit_record(
        actor=actor, action="notification_channel.choices_saved", obj=actor, agency=actor.agency,
        details={str(pk): sorted(choices.get(pk, set()) & set(ALL_EVENTS)) for pk in before},
    )


def channel_test(*, actor: User, channel: NotificationChannel) -> None:
    """Send a test message now; a DeliveryError says why it did not go through."""
    _own(actor, channel)

    with notification_language(actor):
        message = Message(
            subject=_("测试消息"),
            body=_("这是一条来自云服务门户的测试消息：渠道“%(name)s”已可以接收通知。") % {"name": channel.name},
            url=settings.PORTAL_BASE_URL + reverse("provisioning:notification_channels"),
            event="test", notification_id=None, delivery_id=None,
            language=getattr(actor, "language", "") or settings.LANGUAGE_CODE,
        )
        message.labels = _labels()
    outcome = "success"
    try:
        deliver(channel, actor, message)
    except DeliveryError:
        outcome = "failure"
        raise
    finally:
        audit_record(
            actor=actor, action="notification_channel.tested", obj=channel, agency=actor.agency, outcome=outcome,
            details={"kind": channel.kind, "name": channel.name},
        )


# Rendering --------------------------------------------------------------------------------------------------


@dataclass
class Message:
    subject: str
    body: str
    url: str
    event: str
    notification_id: int | None
    delivery_id: int | None
    language: str
    actions: list[tuple[str, str, str]] = field(default_factory=list)  # (decision, label, absolute url)
    labels: dict = field(default_factory=dict)


def _labels() -> dict:
    return {"open": _("在门户中查看"), "prefix": _("[云服务门户] %(subject)s"), "act": _("直接处理：")}


def notification_url(notification: Notification) -> str:
    if notification.request_id:
        path = reverse("provisioning:request_detail", args=[notification.request_id])
    elif notification.instance_id:
        path = reverse("provisioning:instance_detail", args=[notification.instance_id])
    else:
        path = reverse("provisioning:notification_list")
    return settings.PORTAL_BASE_URL + path


def render(delivery: NotificationDelivery) -> Message:
    """The delivery's message in its recipient's language, with the link to act on it."""

    notification = delivery.notification
    recipient = notification.recipient
    with notification_language(recipient):
        message = Message(
            subject=notification.subject_text, body=notification.body_text, url=notification_url(notification),
            event=delivery.event, notification_id=notification.pk, delivery_id=delivery.pk,
            language=getattr(recipient, "language", "") or settings.LANGUAGE_CODE, labels=_labels(),
        )
        message.actions = approval_link_urls(notification)
    return message


def _markdown(message: Message) -> str:
    lines = [f"### {message.subject}", ""]
    if message.body:
        lines += [message.body, ""]
    lines.append(f"[{message.labels['open']}]({message.url})")
    if message.actions:
        lines += ["", message.labels["act"] + " " + " | ".join(f"[{label}]({url})" for _d, label, url in message.actions)]
    return "\n".join(lines)


def _plain(message: Message) -> str:
    lines = [message.body or message.subject, "", f"{message.labels['open']}: {message.url}"]
    for _decision, label, url in message.actions:
        lines.append(f"{label}: {url}")
    return "\n".join(lines) + "\n"


# Sending ----------------------------------------------------------------------------------------------------


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text[:500]


def _post(url: str, body: bytes, headers: dict) -> bytes:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json; charset=utf-8", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.DELIVERY_TIMEOUT_SECONDS) as response:
            return response.read(65536)
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        raise DeliveryError(f"connection failed: {type(reason).__name__}") from None
    except TimeoutError:
        raise DeliveryError("timed out") from None
    except OSError as exc:
        raise DeliveryError(f"connection failed: {type(exc).__name__}") from None


def _robot_answer(raw: bytes) -> None:
    """DingTalk and WeCom answer 200 with {"errcode": 0, ...}; any other errcode is a refusal."""
    try:
        answer = json.loads(raw or b"{}")
    except ValueError:
        raise DeliveryError("the robot's answer is not JSON") from None
    if isinstance(answer, dict) and answer.get("errcode", 0) not in (0, "0"):
        raise DeliveryError(f"robot refused: errcode {answer.get('errcode')} {str(answer.get('errmsg', ''))[:200]}")


def dingtalk_signed_url(url: str, secret: str, timestamp_ms: int | None = None) -> str:
    """DingTalk's 加签: HMAC-SHA256 of "timestamp\\nsecret" keyed with the secret, base64, URL-encoded."""
    if not secret:
        return url
    timestamp = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest).decode())
    return f"{url}{'&' if '?' in url else '?'}timestamp={timestamp}&sign={sign}"


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """X-Portal-Signature: HMAC-SHA256, keyed with the channel's secret, of "<timestamp>." followed by the body."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def deliver(channel: NotificationChannel, recipient: User, message: Message) -> None:
    """Send one message to one channel; raises DeliveryError (with nothing secret in it) when it fails."""
    config = channel.config if channel.kind != ChannelKind.EMAIL else {}
    secrets = [config.get("url", ""), config.get("secret", "")]
    try:
        if channel.kind == ChannelKind.EMAIL:
            if not recipient.email:
                raise DeliveryError("the account has no email address")
            EmailMessage(
                subject=message.labels["prefix"] % {"subject": message.subject}, body=_plain(message),
                to=[recipient.email],
            ).send()
        elif channel.kind == ChannelKind.DINGTALK:
            payload = {"msgtype": "markdown", "markdown": {"title": message.subject, "text": _markdown(message)}}
            body = json.dumps(payload, ensure_ascii=False).encode()
            _robot_answer(_post(dingtalk_signed_url(config["url"], config.get("secret", "")), body, {}))
        elif channel.kind == ChannelKind.WECOM:
            payload = {"msgtype": "markdown", "markdown": {"content": _markdown(message)}}
            _robot_answer(_post(config["url"], json.dumps(payload, ensure_ascii=False).encode(), {}))
        elif channel.kind == ChannelKind.WEBHOOK:
            payload = {
                "event": message.event, "subject": message.subject, "body": message.body, "url": message.url,
                "language": message.language, "notification": message.notification_id,
                "delivery": message.delivery_id,
                "actions": {decision: url for decision, _label, url in message.actions},
            }
            body = json.dumps(payload, ensure_ascii=False).encode()
            timestamp = str(int(time.time()))
            headers = {
                "X-Portal-Timestamp": timestamp, "X-Portal-Event": message.event,
                "X-Portal-Signature": webhook_signature(config.get("secret", ""), timestamp, body),
            }
            if message.delivery_id:
                headers["X-Portal-Delivery"] = str(message.delivery_id)
            _post(config["url"], body, headers)
        else:
            raise DeliveryError(f"unknown channel kind {channel.kind}")
    except DeliveryError as exc:
        raise DeliveryError(_scrub(str(exc), secrets)) from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"SMTP {exc.smtp_code}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP: {type(exc).__name__}") from None
    except Exception as exc:  # a channel's trouble never escapes the sender
        raise DeliveryError(f"unexpected error: {type(exc).__name__}") from None


def delivery_move(rows, from_status: str, to_status: str, **fields) -> int:
    """The one door of an outbox row's status (DELIVERY_TRANSITIONS)."""
    return rows_move(rows, from_status, to_status, transitions=DELIVERY_TRANSITIONS, **fields)


def backoff(attempts: int) -> timedelta:
    """The wait before try `attempts + 1`: DELIVERY_BACKOFF_SECONDS, doubling after each failed try."""
    return timedelta(seconds=settings.DELIVERY_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0))


def delivery_send(delivery_id: int, *, now=None) -> str:
    """Try one outbox row if it is due: "sent", "retry" (pending again, later), "failed" (given up) or
    "skipped" (not due, or already taken: sent, being sent, or given up)."""
    now = now or timezone.now()
    claimed = delivery_move(
        NotificationDelivery.objects.filter(pk=delivery_id, next_attempt_at__lte=now),
        DeliveryStatus.PENDING, DeliveryStatus.SENDING, attempts=F("attempts") + 1, claimed_at=now,
    )
    if not claimed:
        return "skipped"
    delivery = NotificationDelivery.objects.select_related("notification__recipient", "channel").get(pk=delivery_id)
    channel = delivery.channel
    try:
        if not channel.is_active or delivery.event not in channel.events:
            raise DeliveryError("channel switched off for this kind of message")
        deliver(channel, delivery.notification.recipient, render(delivery))
    except Exception as exc:
        error = str(exc) if isinstance(exc, DeliveryError) else f"unexpected error: {type(exc).__name__}"
        give_up = delivery.attempts >= settings.DELIVERY_MAX_ATTEMPTS or error.startswith("channel switched off")
        delivery_move(
            NotificationDelivery.objects.filter(pk=delivery_id), DeliveryStatus.SENDING,
            DeliveryStatus.FAILED if give_up else DeliveryStatus.PENDING,
            next_attempt_at=now + backoff(delivery.attempts), last_error=error[:500], claimed_at=None,
        )
        logger.warning(
            "delivery %s (%s, attempt %s) failed: %s", delivery_id, channel.kind, delivery.attempts, error
        )
        return "failed" if give_up else "retry"
    delivery_move(
        NotificationDelivery.objects.filter(pk=delivery_id), DeliveryStatus.SENDING, DeliveryStatus.SENT,
        sent_at=timezone.now(), last_error="", claimed_at=None,
    )
    return "sent"


def notification_deliveries_send(notification_id: int) -> dict[str, int]:
    """Send every due row of one inbox entry (what the after-commit task does)."""
    counts: dict[str, int] = {}
    for pk in NotificationDelivery.objects.filter(
        notification_id=notification_id, status=DeliveryStatus.PENDING
    ).values_list("pk", flat=True):
        outcome = delivery_send(pk)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def outbox_sweep(*, now=None, limit: int = 200) -> dict[str, int]:
    """The beat's pass: give up rows stuck in "sending" (their worker died mid-send: at most once, so they
    are not sent again), then send the pending rows that are due (missed wake-ups and retries)."""
    now = now or timezone.now()
    stale = delivery_move(
        NotificationDelivery.objects.filter(claimed_at__lt=now - timedelta(seconds=settings.DELIVERY_STALE_SECONDS)),
        DeliveryStatus.SENDING, DeliveryStatus.FAILED,
        last_error="the sender stopped mid-send; outcome unknown, not resent",
    )
    counts = {"stale": stale}
    due = NotificationDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now).order_by(
        "next_attempt_at", "pk"
    ).values_list("pk", flat=True)[:limit]
    for pk in list(due):
        outcome = delivery_send(pk, now=now)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def notification_language(user=None):
    """The language a message is written in for `user` when it leaves the portal: the one they last picked,
    else the portal's first language (Chinese)."""
    return override(getattr(user, "language", "") or settings.LANGUAGE_CODE)
