"""Celery tasks: wake-up calls that take ids and call the runner or a service. The database is the truth."""
import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.utils.translation import gettext as _

from .models import Notification, Run
from .outcomes import janitor_sweep
from .runner import execute, worker_name
from .services import leases
from .services.notifications import notification_language
from .services.reconcile import drift_sweep
from .services.requests import request_remind_overdue
from .services.runs import run_claim
from .wakeups import wake_run

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


@shared_task(
    ignore_result=True, autoretry_for=(OSError,), retry_backoff=30, retry_jitter=True, max_retries=5, acks_late=True
)
def notification_send(notification_id: int) -> None:
    """Mail one inbox entry to its recipient (SMTP trouble is retried with backoff)."""
    notification = Notification.objects.select_related("recipient").filter(pk=notification_id).first()
    if notification is None or not notification.recipient.email:
        return
    with notification_language(notification.recipient):
        subject = _("[云服务门户] %(subject)s") % {"subject": notification.subject_text}
        message = notification.body_text or notification.subject_text
    send_mail(
        subject=subject,
        message=message,
        from_email=None,
        recipient_list=[notification.recipient.email],
    )


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
    from .services.scan import scan_all

    results = scan_all()
    for result in results:
        if result.error:
            logger.warning("cloud scan of %s failed: %s", result.cloud.slug, result.error)
        elif result.unmanaged or result.missing:
            logger.info("cloud scan of %s: %s unmanaged, %s missing", result.cloud.slug, result.unmanaged, result.missing)
    return len(results)
