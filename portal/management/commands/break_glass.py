"""Make the break-glass account: the only superuser the portal allows, for when no admin can act.

    manage.py break_glass --reason "安全管理员离职，需重新分配角色" [--username breakglass]

The password is generated and printed once, here; the account's making (with the reason) and each of its
logins are in the audit trail. Deactivate it in the admin when the emergency is over.
"""
import secrets

from django.core.management.base import BaseCommand, CommandError

from portal.errors import DomainError
from portal.services import break_glass_create


class Command(BaseCommand):
    help = "Create the break-glass superuser (audited); its password is printed once."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="breakglass")
        parser.add_argument("--reason", required=True, help="why the account is needed; kept in the audit trail")

    def handle(self, *args, username: str, reason: str, **options):
        if not reason.strip():
            raise CommandError("--reason must say why the account is needed")
        password = secrets.token_urlsafe(18)
        try:
            user = break_glass_create(username=username, password=password, operator_note=reason.strip())
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"break-glass account {user.username} created; password (shown once): {password}")
