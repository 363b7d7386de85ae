"""Celery tasks: wake-up calls that take ids and call the runner or a service. The database is the truth."""
import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from portal.choices import DeliveryStatus
from portal.models import NotificationDelivery

from .models import Run
from .outcomes import janitor_sweep
from .runner import execute, worker_name
from .services import channels, leases
from .services.reconcile import drift_sweep
from .services.requests import request_remind_overdue
from .services.runs import run_claim
from .services.scan import scan_all
from .wakeups import wake_delivery, wake_run

logger = logging.getLogger(__name__)
BUSY_RETRY_SECONDS = 5


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.RUN_SOFT_TIME_LIMIT,
    time_limit=settings.RUN_TIME_LIMIT,
    ignore_result=True,
)
def run_execute(run_id: int) -> str:
    """Claim the run and execute it; a run that is not queued any more is somebody else's: return at once."""
    worker = worker_name()
    run, why = run_claim(run_id=run_id, worker=worker)
    if run is None:
        if why == "busy":
            queued = Run.objects.filter(pk=run_id).first()
            if queued is not None:
                wake_run(queued, countdown=BUSY_RETRY_SECONDS)
        return why
    execute(run, worker)
    return "done"


@shared_task(ignore_result=True)
def janitor() -> dict:
    counts = janitor_sweep()
    if counts["lost"] or counts["woken"]:
        logger.info("janitor: %s", counts)
    return counts


@shared_task(ignore_result=True, acks_late=True)
def notification_send(notification_id: int) -> dict:
    """Send one inbox entry's outbox rows (email, robots, webhooks); a failed row is tried again later."""
    counts = channels.notification_deliveries_send(notification_id)
    _schedule_retries(notification_id=notification_id)
    return counts


@shared_task(ignore_result=True, acks_late=True)
def delivery_send(delivery_id: int) -> str:
    """Try one outbox row whose backoff has run out."""
    outcome = channels.delivery_send(delivery_id)
    if outcome == "retry":
        _schedule_retries(pk=delivery_id)
    return outcome


def _schedule_retries(**which) -> None:
    """Wake each failed-but-pending row of `which` (notification_id= or pk=) when its backoff runs out; the
    beat's sweep is the safety net if this message is lost."""
    now = timezone.now()
    for row in NotificationDelivery.objects.filter(status=DeliveryStatus.PENDING, attempts__gt=0, **which):
        wake_delivery(row.pk, countdown=max(int((row.next_attempt_at - now).total_seconds()), 1))


@shared_task(ignore_result=True)
def outbox_sweep() -> dict:
    """The beat's pass over the outbox: rows whose wake-up was missed, and retries that are due."""
    counts = channels.outbox_sweep()
    if any(counts.values()):
        logger.info("outbox sweep: %s", counts)
    return counts


@shared_task(ignore_result=True)
def approval_reminders() -> int:
    return request_remind_overdue()


@shared_task(ignore_result=True)
def lease_sweep() -> dict:
    done = leases.lease_sweep()
    if any(done.values()):
        logger.info("lease sweep: %s", done)
    return done


@shared_task(ignore_result=True)
def drift_checks() -> int:
    started = drift_sweep()
    if started:
        logger.info("drift checks started: %s", started)
    return started


@shared_task(ignore_result=True)
def cloud_scans() -> int:
    """Beat: scan every cloud for objects no workspace manages and managed ones that went missing."""
    results = scan_all()
    for result in results:
        if result.error:
            logger.warning("cloud scan of %s failed: %s", result.cloud.slug, result.error)
        elif result.unmanaged or result.missing:
            logger.info("cloud scan of %s: %s unmanaged, %s missing", result.cloud.slug, result.unmanaged, result.missing)
    return len(results)
