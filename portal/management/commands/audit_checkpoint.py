"""Write a signed checkpoint of the audit chain now (beat does it every AUDIT_CHECKPOINT_MINUTES)."""
from django.core.management.base import BaseCommand, CommandError

from portal.services import AuditChainBroken, audit_checkpoint_write


class Command(BaseCommand):
    help = "Verify the events since the last checkpoint and write a signed checkpoint to the checkpoint bucket."

    def handle(self, *args, **options):
        try:
            checkpoint = audit_checkpoint_write()
        except AuditChainBroken as exc:
            raise CommandError(f"no checkpoint written: {exc}") from exc
        if checkpoint is None:
            self.stdout.write("the audit trail is empty; no checkpoint written")
        else:
            self.stdout.write(f"checkpoint {checkpoint.name}: {checkpoint.count} events, head event {checkpoint.head_id}")
