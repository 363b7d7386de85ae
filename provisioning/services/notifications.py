"""The in-app inbox and email: one Notification row per recipient, mailed after commit by a task."""
from django.conf import settings
from django.utils import timezone
from django.utils.translation import override

from ..models import Instance, Notification, Request, render_message
from ..wakeups import wake_notification


def notify(
    recipients, *, subject: str, body: str = "", params: dict | None = None, request: Request | None = None,
    instance: Instance | None = None,
) -> list[Notification]:
    """Write each recipient's inbox entry; the email goes out once the transaction commits.

    `subject` and `body` are untranslated texts (marked with gettext_noop) with `%(name)s` placeholders filled
    from `params`: each reader sees them in their own language when they read them.
    """
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
        wake_notification(notification.pk)
    return created


def notification_language(user=None):
    """The language a message is written in for `user` when it leaves the portal: the one they last picked,
    else the portal's first language (Chinese)."""
    return override(getattr(user, "language", "") or settings.LANGUAGE_CODE)


def notification_mark_read(*, actor, notification: Notification) -> Notification:
    if notification.recipient_id == actor.pk and notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def notification_mark_all_read(*, actor) -> int:
    """Mark every unread notification of the actor's own inbox read; returns how many were unread."""
    return Notification.objects.filter(recipient=actor, read_at__isnull=True).update(read_at=timezone.now())
