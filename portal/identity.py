"""How a directory entry (LDAP) or a set of claims (OIDC) maps to an agency and portal roles.

Pure functions of names and settings, safe to import from settings.py: the maps are parsed and checked when
the settings load, so a map that names an admin role stops the portal at start with a message, and the
mapping refuses admin roles again when it runs. portal.services.user_directory_sync applies the result.
"""
import json
import logging
from collections.abc import Iterable
from typing import NamedTuple

from django.core.exceptions import ImproperlyConfigured
from ldap.dn import str2dn

from .choices import ADMIN_ROLES, Role

logger = logging.getLogger(__name__)

# Roles that need the cloud they are held on, written "cloud_owner:<cloud slug>" in a map.
CLOUD_ROLES = {Role.CLOUD_OWNER}


class DirectoryGrant(NamedTuple):
    role: str
    cloud: str = ""  # the cloud's slug, for a cloud-scoped role


def group_key(name: str) -> str:
    """One spelling of a group's name or DN: case and the spaces around commas do not matter in LDAP."""
    return ",".join(part.strip() for part in str(name).split(",")).lower()


def _grant_parse(setting: str, group: str, value: str) -> DirectoryGrant:
    role, _, cloud = str(value).partition(":")
    role = role.strip()
    if role in ADMIN_ROLES:
        admins = ", ".join(sorted(ADMIN_ROLES))
        raise ImproperlyConfigured(
            f"{setting} maps {group!r} to {role}: the three admin roles ({admins}) are never granted from the "
            "directory. Remove that entry and grant the role in the portal (docs/identity.md)."
        )
    if role not in Role.values:
        raise ImproperlyConfigured(f"{setting} maps {group!r} to {role!r}, which is not a role ({', '.join(Role.values)})")
    if role in CLOUD_ROLES and not cloud.strip():
        raise ImproperlyConfigured(f"{setting} maps {group!r} to {role} without a cloud: write \"{role}:<cloud slug>\"")
    if cloud and role not in CLOUD_ROLES:
        raise ImproperlyConfigured(f"{setting} maps {group!r} to {value!r}: only {', '.join(CLOUD_ROLES)} takes a cloud")
    return DirectoryGrant(role, cloud.strip())


def _json_object(setting: str, raw: str | dict) -> dict:
    if isinstance(raw, dict):
        return raw
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{setting} must be a JSON object: {exc}") from exc
    if not isinstance(value, dict):
        raise ImproperlyConfigured(f"{setting} must be a JSON object, got {type(value).__name__}")
    return value


def role_map_parse(setting: str, raw: str | dict) -> dict[str, tuple[DirectoryGrant, ...]]:
    """{"<group DN or name>": "<role>" or ["<role>", "cloud_owner:<slug>", …]} → grants by group key."""
    parsed = {}
    for group, value in _json_object(setting, raw).items():
        values = value if isinstance(value, list) else [value]
        parsed[group_key(group)] = tuple(_grant_parse(setting, group, item) for item in values)
    return parsed


def agency_map_parse(setting: str, raw: str | dict) -> dict[str, str]:
    """{"<value in the directory>": "<agency code>"}; a value not in the map is taken as the agency code itself."""
    return {str(key).strip().lower(): str(code).strip() for key, code in _json_object(setting, raw).items()}


def directory_grants(groups: Iterable[str], role_map: dict) -> list[DirectoryGrant]:
    """The grants the user's directory groups carry. An admin role is refused even if a map names it (a map built
    in code, not read from the environment, skips the check at settings load)."""
    grants: list[DirectoryGrant] = []
    for group in groups:
        for grant in role_map.get(group_key(group), ()):
            grant = grant if isinstance(grant, DirectoryGrant) else DirectoryGrant(*str(grant).partition(":")[::2])
            if grant.role in ADMIN_ROLES or grant.role not in Role.values:
                logger.warning("directory group %s maps to %s: not granted from the directory", group, grant.role)
                continue
            if grant not in grants:
                grants.append(grant)
    return grants


def directory_agency_code(values: Iterable[str], agency_map: dict[str, str]) -> str:
    """The agency code of the first directory value given (an attribute's values, or an OU), through the map."""
    for value in values:
        value = str(value).strip()
        if value:
            return agency_map.get(value.lower(), value)
    return ""


def dn_organizational_units(dn: str) -> list[str]:
    """The OU values of a DN, nearest the entry first: uid=a,ou=jyt,ou=people,… → ["jyt", "people"]."""
    return [value for rdn in str2dn(dn) for name, value, _flags in rdn if name.lower() == "ou" and value]
