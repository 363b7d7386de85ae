"""Check every directory user against the directory between their sign-ins."""
import ldap
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.backends import DirectoryLDAPBackend
from portal.choices import IdentitySource
from portal.models import User
from portal.services import user_directory_remove


class Command(BaseCommand):
    help = (
        "Set every active LDAP user's agency and roles from the directory, as their sign-in would, and "
        "deactivate those the directory no longer holds (their sessions and API token end). Stops without "
        "changing anyone when the directory cannot be reached."
    )

    def handle(self, *args, **options):
        if not settings.AUTH_LDAP_SERVER_URI:
            raise CommandError("LDAP_SERVER_URI is not set: there is no directory to check against")
        backend = DirectoryLDAPBackend()
        users = list(User.objects.filter(identity_source=IdentitySource.LDAP, is_active=True).order_by("username"))
        try:
            # Ask about everyone first, so an unreachable directory changes no one.
            missing = {user.pk for user in users if not backend.entry_exists(user.get_username())}
        except ldap.LDAPError as exc:
            raise CommandError(f"the directory did not answer, nothing changed: {exc}") from exc
        for user in users:
            if user.pk in missing:
                user_directory_remove(user=user, source=IdentitySource.LDAP)
                self.stdout.write(f"deactivated {user.get_username()}: not in the directory")
            elif backend.sync_from_directory(user) is None:
                self.stderr.write(f"{user.get_username()}: the directory did not give the entry, left as it was")
        self.stdout.write(f"{len(users)} directory users checked, {len(missing)} deactivated")
