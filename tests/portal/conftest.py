"""The directory the sign-in tests run against: a real slapd per test, loaded with two agencies' people."""
import os

import ldap
import pytest
from django.conf import settings as django_settings
from django_auth_ldap.config import GroupOfNamesType, LDAPSearch

from portal.identity import agency_map_parse, role_map_parse

from .slapd import GROUPS, PEOPLE, SUFFIX, Slapd, group, group_dn, person

PASSWORD = "directory-pass-1"

DIRECTORY = f"""\
dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
dc: example
o: 省统一身份认证平台（测试）

dn: {PEOPLE}
objectClass: organizationalUnit
ou: people

dn: ou=jyt,{PEOPLE}
objectClass: organizationalUnit
ou: jyt

dn: ou=tangshan,{PEOPLE}
objectClass: organizationalUnit
ou: tangshan

dn: {GROUPS}
objectClass: organizationalUnit
ou: groups

{person("zhangming", "jyt", "张明", PASSWORD, departmentNumber="1101")}
{person("lihua", "jyt", "李华", PASSWORD, departmentNumber="1101")}
{person("chenchen", "tangshan", "陈晨", PASSWORD, departmentNumber="1302")}
{group("portal-requesters", ("zhangming", "jyt"), ("chenchen", "tangshan"))}
{group("portal-approvers", ("lihua", "jyt"))}
{group("portal-sysadmins", ("zhangming", "jyt"))}
{group("portal-unmapped", ("lihua", "jyt"))}
"""

ROLE_GROUPS = {
    group_dn("portal-requesters"): "requester",
    group_dn("portal-approvers"): ["agency_approver", "requester"],
}


@pytest.fixture
def slapd():
    server = Slapd(django_settings.VAR_DIR / "slapd" / os.environ.get("PYTEST_XDIST_WORKER", "main"))
    server.start()
    try:
        server.load(DIRECTORY)
        yield server
    finally:
        server.stop()


@pytest.fixture
def directory(slapd, settings, agency, other_agency):
    """The portal pointed at the test directory, the way LDAP_* environment settings point it (settings.py)."""
    settings.AUTHENTICATION_BACKENDS = ["portal.backends.DirectoryLDAPBackend", *settings.AUTHENTICATION_BACKENDS]
    settings.AUTH_LDAP_SERVER_URI = slapd.uri
    settings.AUTH_LDAP_BIND_DN = ""
    settings.AUTH_LDAP_BIND_PASSWORD = ""
    settings.AUTH_LDAP_USER_SEARCH = LDAPSearch(PEOPLE, ldap.SCOPE_SUBTREE, "(uid=%(user)s)")
    settings.AUTH_LDAP_GROUP_SEARCH = LDAPSearch(GROUPS, ldap.SCOPE_SUBTREE, "(objectClass=groupOfNames)")
    settings.AUTH_LDAP_GROUP_TYPE = GroupOfNamesType()
    settings.LDAP_AGENCY_ATTR = ""
    settings.LDAP_ROLE_GROUPS = role_map_parse("LDAP_ROLE_GROUPS", ROLE_GROUPS)
    settings.DIRECTORY_AGENCY_MAP = agency_map_parse("DIRECTORY_AGENCY_MAP", {})
    return slapd
