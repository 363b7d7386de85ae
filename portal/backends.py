"""Sign-in: lockout first, then local accounts, the province's directory over LDAP, and OpenID Connect
(docs/identity.md, docs/security.md).

Each directory sign-in sets the user's agency and roles again from the directory (portal.identity maps,
portal.services.user_directory_sync applies). A directory user never signs in with a local password, and a
local account is never taken over by a directory entry of the same name.
"""
import logging

import ldap
import ldap.filter
from axes.backends import AxesStandaloneBackend
from axes.exceptions import AxesBackendPermissionDenied
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import SuspiciousOperation
from django_auth_ldap.backend import LDAPBackend
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from .choices import IdentitySource
from .identity import directory_agency_code, directory_grants, dn_organizational_units
from .models import User
from .services import user_directory_sync

logger = logging.getLogger(__name__)


class LockoutBackend(AxesStandaloneBackend):
    """django-axes refuses a sign-in while its username or address is locked out; the refused attempt is
    marked on the request, so the trail records it once, as a refusal during a lockout rather than as one
    more wrong password (portal.signals)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        try:
            return super().authenticate(request, username=username, password=password, **kwargs)
        except AxesBackendPermissionDenied:
            request.portal_lockout_refused = True
            raise


class LocalAccountBackend(ModelBackend):
    """Django's ModelBackend for local accounts only: a directory user removed from the directory, or with a
    password set here by mistake, does not get in with it."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None and user.identity_source != IdentitySource.LOCAL:
            return None
        return user


class DirectoryLDAPBackend(LDAPBackend):
    """django-auth-ldap, with the portal's agency and role mapping applied at every sign-in."""

    def get_user(self, user_id):
        # As ModelBackend does: a user deactivated here loses the session they have open.
        user = super().get_user(user_id)
        return user if user is not None and user.is_active else None

    def get_or_build_user(self, username, ldap_user):
        user, built = super().get_or_build_user(username, ldap_user)
        if built:
            user.identity_source = IdentitySource.LDAP
        elif user.identity_source != IdentitySource.LDAP:
            raise ldap_user.AuthenticationFailed(f"{username} is a local account, not a directory one")
        return user, built

    def authenticate_ldap_user(self, ldap_user, password):
        user = super().authenticate_ldap_user(ldap_user, password)
        if user is None or not user.is_active:
            return None
        return self.directory_sync(user, ldap_user)

    def directory_sync(self, user: User, ldap_user) -> User:
        """The agency and roles the entry gives, applied to the user."""
        attr = settings.LDAP_AGENCY_ATTR
        values = ldap_user.attrs.get(attr, []) if attr else dn_organizational_units(ldap_user.dn)
        return user_directory_sync(
            user=user,
            source=IdentitySource.LDAP,
            agency_code=directory_agency_code(values, settings.DIRECTORY_AGENCY_MAP),
            grants=directory_grants(ldap_user.group_dns, settings.LDAP_ROLE_GROUPS),
        )

    def entry_exists(self, username: str) -> bool:
        """Whether the directory still holds the user; an unreachable directory raises ldap.LDAPError."""
        connection = ldap.initialize(settings.AUTH_LDAP_SERVER_URI)
        for option, value in settings.AUTH_LDAP_CONNECTION_OPTIONS.items():
            connection.set_option(option, value)
        try:
            if settings.AUTH_LDAP_START_TLS:
                connection.start_tls_s()
            connection.simple_bind_s(settings.AUTH_LDAP_BIND_DN, settings.AUTH_LDAP_BIND_PASSWORD)
            search = settings.AUTH_LDAP_USER_SEARCH
            found = connection.search_s(
                search.base_dn, search.scope, search.filterstr % {"user": ldap.filter.escape_filter_chars(username)},
                ["1.1"],
            )
        finally:
            connection.unbind_s()
        return any(dn for dn, _attrs in found)

    def sync_from_directory(self, user: User) -> User | None:
        """What a sign-in would set, without the password (None when the directory could not give the entry)."""
        populated = self.populate_user(user.get_username())
        return self.directory_sync(populated, populated.ldap_user) if populated is not None else None


def claim_values(claims: dict, name: str) -> list[str]:
    """A claim as a list of strings (platforms send one value or a list)."""
    value = claims.get(name) if name else None
    if value is None:
        return []
    return [str(item) for item in value] if isinstance(value, list | tuple) else [str(value)]


def oidc_user_sync(user: User, claims: dict) -> User:
    """The user's name, email, agency and roles from the claims, the same way an LDAP sign-in sets them."""
    full_name = claims.get("name") or ""
    email = claims.get("email") or ""
    if (user.full_name, user.email) != (full_name, email):
        user.full_name, user.email = full_name[:64], email
        user.save(update_fields=["full_name", "email"])
    return user_directory_sync(
        user=user,
        source=IdentitySource.OIDC,
        agency_code=directory_agency_code(claim_values(claims, settings.OIDC_AGENCY_CLAIM), settings.DIRECTORY_AGENCY_MAP),
        grants=directory_grants(claim_values(claims, settings.OIDC_GROUPS_CLAIM), settings.OIDC_ROLE_GROUPS),
    )


class DirectoryOIDCBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc, finding users by the username claim instead of their email."""

    def get_user(self, user_id):
        user = super().get_user(user_id)
        return user if user is not None and user.is_active else None

    def _username(self, claims: dict) -> str:
        return str(claims.get(settings.OIDC_USERNAME_CLAIM) or "").strip()[:150]

    def verify_claims(self, claims):
        return bool(self._username(claims))

    def filter_users_by_claims(self, claims):
        users = User.objects.filter(username__iexact=self._username(claims))
        if users.exclude(identity_source=IdentitySource.OIDC).exists():
            raise SuspiciousOperation(f"{self._username(claims)} is an account of another kind, not an OIDC one")
        return users

    def create_user(self, claims):
        user = User(username=self._username(claims), identity_source=IdentitySource.OIDC)
        user.set_unusable_password()
        user.save()
        return oidc_user_sync(user, claims)

    def update_user(self, user, claims):
        if not user.is_active:
            return None
        return oidc_user_sync(user, claims)
