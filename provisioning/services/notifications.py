"""The in-app inbox and email: one Notification row per recipient, mailed after commit by a task."""
from django.conf import settings
from django.utils import timezone
from django.utils.translation import override

from ..models import Notification, Request


def notify(recipients, *, subject: str, body: str = "", request: Request | None = None) -> list[Notification]:
    """Write each recipient's inbox entry; the email goes out once the transaction commits.

    Subjects and bodies arrive already rendered (callers build them under `notification_language()`).
    """
    seen = set()
    created = []
    for user in recipients:
        if user is None or user.pk in seen or not user.is_active:
            continue
        seen.add(user.pk)
        created.append(Notification.objects.create(recipient=user, request=request, subject=subject[:200], body=body))
    if created:
        from ..tasks import notification_send

        for notification in created:
            notification_send.apply_async_on_commit((notification.pk,), queue=settings.NOTIFY_QUEUE)
    return created


def notification_language():
    """Messages are written in the portal's first language (Chinese)."""
    return override(settings.LANGUAGE_CODE)


def notification_mark_read(*, actor, notification: Notification) -> Notification:
    if notification.recipient_id == actor.pk and notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def notification_mark_all_read(*, actor) -> int:
    """Mark every unread notification of the actor's own inbox read; returns how many were unread."""
    return Notification.objects.filter(recipient=actor, read_at__isnull=True).update(read_at=timezone.now())
