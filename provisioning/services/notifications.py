"""The in-app inbox and email: one Notification row per recipient, mailed after commit by a task."""
from django.conf import settings
from django.utils import timezone
from django.utils.translation import override

from ..models import Notification, Request
from ..wakeups import wake_notification


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
    for notification in created:
        wake_notification(notification.pk)
    return created


def notification_language():
    """Messages are written in the portal's first language (Chinese)."""
    return override(settings.LANGUAGE_CODE)


def notification_mark_read(*, actor, notification: Notification) -> Notification:
    if notification.recipient_id == actor.pk and notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification
