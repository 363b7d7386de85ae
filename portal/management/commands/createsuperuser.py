"""Django's createsuperuser, refused: the portal's only superuser is the break-glass account (三员分立)."""
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Refused: use `manage.py break_glass --reason ...` for the one superuser the portal allows."

    def add_arguments(self, parser):
        parser.add_argument("args", nargs="*")
        parser.add_argument("--username")
        parser.add_argument("--email")
        parser.add_argument("--noinput", "--no-input", action="store_true")

    def handle(self, *args, **options):
        raise CommandError(
            "The portal allows no superuser but the break-glass account: run "
            "`manage.py break_glass --reason \"...\"`, sign in with it, give the first security admin and system "
            "admin their roles on /security/roles/, then deactivate it."
        )
