"""Celery tasks of the portal app: the audit chain's checkpoints."""
import logging

from celery import shared_task

from .audit_chain import CheckpointError
from .services import AuditChainBroken, audit_checkpoint_write

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def audit_checkpoint() -> None:
    """Beat: sign the chain's count and head into the checkpoint bucket, after verifying what came since."""
    try:
        checkpoint = audit_checkpoint_write()
    except AuditChainBroken as exc:
        logger.error("audit checkpoint refused, the chain does not verify: %s", exc)
        return
    except CheckpointError as exc:
        logger.error("audit checkpoint not written: %s", exc)
        return
    if checkpoint is not None:
        logger.info("audit checkpoint %s: %s events", checkpoint.name, checkpoint.count)
