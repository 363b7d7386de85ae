"""Load the development demo data (agencies, the 1+14+N catalogue, one user per role). Idempotent."""
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.demo import DEMO_PASSWORD, USERS, load_demo
from portal.errors import DomainError


class Command(BaseCommand):
    help = "Load demo agencies, clouds, offerings and users (password 'demo'). Refused in production."

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("demo data is for development only (PORTAL_ENV=production)")
        try:
            counts = load_demo()
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"demo data: {counts['agencies']} agencies, {counts['clouds']} clouds, {counts['users']} users"
        )
        self.stdout.write(f"demo logins (password '{DEMO_PASSWORD}'): " + ", ".join(u[0] for u in USERS))
