"""Retention: delete audit events older than the horizon (never fewer than 184 days) and record it in the chain.

Run it as the database role that owns the audit table (the one migrations run as): on PostgreSQL only the
owner's deletes, in the purge's own transaction, get through the trigger."""
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.audit_chain import RETENTION_MIN_DAYS
from portal.services import AuditChainBroken, audit_purge


class Command(BaseCommand):
    help = f"Purge audit events older than --days (default AUDIT_RETENTION_DAYS; at least {RETENTION_MIN_DAYS})."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=settings.AUDIT_RETENTION_DAYS)

    def handle(self, *args, days, **options):
        if days < RETENTION_MIN_DAYS:
            raise CommandError(
                f"refused: audit events must be kept at least {RETENTION_MIN_DAYS} days (six months, Cybersecurity "
                f"Law art. 21); --days {days} is shorter"
            )
        try:
            event = audit_purge(actor=None, days=days)
        except AuditChainBroken as exc:
            raise CommandError(f"refused: the chain does not verify, so nothing was purged: {exc}") from exc
        if event is None:
            self.stdout.write(f"nothing older than {days} days to purge")
            return
        details = event.details
        self.stdout.write(
            f"purged {details['purged']} events ({details['first_id']}–{details['last_id']}, "
            f"{details['oldest']} to {details['newest']}); recorded as event {event.pk}"
        )
