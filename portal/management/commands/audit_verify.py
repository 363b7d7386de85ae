"""Walk the audit trail's hash chain and say whether it is intact."""
from django.core.management.base import BaseCommand, CommandError

from portal.services import audit_verify


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain; exits non-zero at the first event that does not hold."

    def handle(self, *args, **options):
        checked, broken = audit_verify()
        if broken is not None:
            raise CommandError(
                f"audit chain broken at event {broken.pk} ({broken.occurred_at:%Y-%m-%d %H:%M:%S} UTC, "
                f"{broken.action}); {checked} events before it hold"
            )
        self.stdout.write(f"audit chain intact: {checked} events")
