"""Walk the audit trail's keyed chain, hold it against the newest checkpoint, and say whether it is intact."""
from django.core.management.base import BaseCommand, CommandError

from portal.services import audit_verify, audit_verify_recorded


class Command(BaseCommand):
    help = (
        "Verify the audit trail: every event's HMAC and link, and the newest signed checkpoint outside the "
        "database; exits non-zero naming the first broken link."
    )

    def add_arguments(self, parser):
        parser.add_argument("--record", action="store_true",
                            help="record the verdict in the trail (audit.verified), where the audit page shows it")

    def handle(self, *args, record: bool = False, **options):
        result = audit_verify()
        if record:
            audit_verify_recorded(actor=None, result=result)
        if not result.intact and result.broken_id is None:
            raise CommandError(f"audit chain not verified: {result.problem}; {result.checked} events hold")
        if not result.intact:
            where = result.broken
            at = f" ({where.occurred_at:%Y-%m-%d %H:%M:%S} UTC, {where.action})" if where is not None else ""
            raise CommandError(
                f"audit chain broken at event {result.broken_id}{at}: {result.problem}; "
                f"{result.checked} events before it hold"
            )
        lines = [f"audit chain intact: {result.checked} events"]
        if result.unkeyed:
            lines.append(f"{result.unkeyed} of them from before the chain was keyed (plain SHA-256)")
        if result.purged:
            lines.append(f"{result.purged} older events purged (through event {result.purged_through_id})")
        checkpoint = result.checkpoint
        lines.append(
            f"newest checkpoint: {checkpoint.count} events, event {checkpoint.head_id}, written {checkpoint.written_at}"
            if checkpoint is not None
            else "no checkpoint to hold it against yet"
        )
        self.stdout.write("; ".join(lines))
