"""Wake-up calls: the tasks that services start, enqueued by name once the transaction commits.

Services never import tasks.py (which imports the runner, which records outcomes through the services): the
database row is the truth, and a message here only tells a worker to look at it.
"""
from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from catalogue.models import Cloud

from .models import Run

RUN_EXECUTE = "provisioning.tasks.run_execute"
NOTIFICATION_SEND = "provisioning.tasks.notification_send"
DELIVERY_SEND = "provisioning.tasks.delivery_send"


def run_queue(cloud: Cloud) -> str:
    return settings.RUN_QUEUES_BY_TIER.get(cloud.tier, settings.RUN_QUEUE)


def _send_on_commit(task_name: str, args: tuple, *, robust: bool = False, **options) -> None:
    signature = current_app.signature(task_name, args=args, **options)
    transaction.on_commit(signature.apply_async, robust=robust)


def wake_run(run: Run, *, countdown: int | None = None) -> None:
    """Send the run's wake-up message once the current transaction commits (at once outside one). A broker that
    cannot take it (restarting) neither fails nor undoes what committed: the run is queued in the database, and
    the janitor wakes it again after RUN_STRANDED_AFTER_SECONDS."""
    Run.objects.filter(pk=run.pk).update(woken_at=timezone.now())
    _send_on_commit(RUN_EXECUTE, (run.pk,), robust=True, countdown=countdown, queue=run_queue(run.workspace.cloud))


def wake_notification(notification_id: int) -> None:
    """Send one inbox entry's outbox rows once the transaction that wrote it commits. A broker that cannot
    take the message does not undo or fail the transition: the beat's outbox sweep sends the rows later."""
    _send_on_commit(NOTIFICATION_SEND, (notification_id,), robust=True, queue=settings.NOTIFY_QUEUE)


def wake_delivery(delivery_id: int, *, countdown: int) -> None:
    """Try one outbox row again after its backoff."""
    _send_on_commit(DELIVERY_SEND, (delivery_id,), robust=True, countdown=countdown, queue=settings.NOTIFY_QUEUE)
