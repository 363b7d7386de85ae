"""The in-app inbox and the outbox: one Notification row per recipient, plus one outbox row per channel the
recipient picked for the message's kind, sent after commit by a task (services/channels.py)."""
from django.utils import timezone

from portal.choices import EventKind

from ..models import Instance, Notification, Request, RequestStage, render_message
from ..wakeups import wake_notification
from .approval_links import approval_link_create
from .channels import notification_language, outbox_add


def notify(
    recipients, *, kind: str, subject: str, body: str = "", params: dict | None = None,
    request: Request | None = None, instance: Instance | None = None, stage: RequestStage | None = None,
) -> list[Notification]:
    """Write each recipient's inbox entry and its outbox rows; they are sent once the transaction commits.

    `kind` (portal.choices.EventKind) picks each recipient's channels. `subject` and `body` are untranslated
    texts (marked with gettext_noop) with `%(name)s` placeholders filled from `params`: each reader sees them in
    their own language. With `stage` (a stage-opened message to its approvers) each message carries single-use
    approve and reject links.
    """
    if kind not in EventKind.values:
        raise ValueError(f"unknown kind of message: {kind!r}")
    params = params or {}
    with notification_language():  # the record, in the portal's first language
        subject_zh = render_message(subject, params)[:200]
        body_zh = render_message(body, params) if body else ""
    seen = set()
    created = []
    for user in recipients:
        if user is None or user.pk in seen or not user.is_active:
            continue
        seen.add(user.pk)
        created.append(
            Notification.objects.create(
                recipient=user, request=request, instance=instance, subject=subject_zh, body=body_zh,
                subject_msgid=subject, body_msgid=body, params=params,
            )
        )
    for notification in created:
        if stage is not None:
            approval_link_create(notification, stage)
        if outbox_add(notification, kind):
            wake_notification(notification.pk)
    return created


def notification_mark_read(*, actor, notification: Notification) -> Notification:
    if notification.recipient_id == actor.pk and notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def notification_mark_all_read(*, actor) -> int:
    """Mark every unread notification of the actor's own inbox read; returns how many were unread."""
    return Notification.objects.filter(recipient=actor, read_at__isnull=True).update(read_at=timezone.now())
