"""The directory settings are read and checked when the portal starts: off by default, and a role map that
names an admin role stops the start with a message that says what to do."""
import json

from django.conf import settings

from .test_settings import run_manage

ADMIN_MAP = json.dumps({"cn=portal-secadmins,ou=groups,dc=example,dc=gov,dc=cn": "security_admin"})


def test_directory_sign_in_is_off_by_default():
    assert settings.LDAP_SERVER_URI == "" and not settings.OIDC_ENABLED
    assert settings.AUTHENTICATION_BACKENDS == [
        "portal.backends.LockoutBackend", "portal.backends.LocalAccountBackend", "guardian.backends.ObjectPermissionBackend",
    ]


def test_an_ldap_map_naming_an_admin_role_stops_the_start(tmp_path):
    result = run_manage(["check"], {"LDAP_ROLE_GROUPS": ADMIN_MAP}, tmp_path)

    assert result.returncode != 0
    assert "LDAP_ROLE_GROUPS maps 'cn=portal-secadmins,ou=groups,dc=example,dc=gov,dc=cn' to security_admin" in result.stderr
    assert "never granted from the directory" in result.stderr


def test_an_oidc_map_naming_an_admin_role_stops_the_start(tmp_path):
    result = run_manage(["check"], {"OIDC_ROLE_GROUPS": json.dumps({"auditors": ["requester", "audit_admin"]})}, tmp_path)

    assert result.returncode != 0
    assert "OIDC_ROLE_GROUPS maps 'auditors' to audit_admin" in result.stderr


def test_a_map_naming_no_role_stops_the_start(tmp_path):
    result = run_manage(["check"], {"LDAP_ROLE_GROUPS": json.dumps({"cn=x": "clerk"})}, tmp_path)

    assert result.returncode != 0
    assert "'clerk', which is not a role" in result.stderr


def test_ldap_and_oidc_settings_turn_their_backends_on(tmp_path):
    env = {
        "LDAP_SERVER_URI": "ldap://directory.example.gov.cn",
        "LDAP_USER_SEARCH_BASE": "ou=people,dc=example,dc=gov,dc=cn",
        "LDAP_ROLE_GROUPS": json.dumps({"cn=portal-requesters,ou=groups,dc=example,dc=gov,dc=cn": "requester"}),
        "OIDC_RP_CLIENT_ID": "portal",
        "OIDC_RP_CLIENT_SECRET": "secret",
        "OIDC_OP_AUTHORIZATION_ENDPOINT": "https://idp.example.gov.cn/authorize",
        "OIDC_OP_TOKEN_ENDPOINT": "https://idp.example.gov.cn/token",
        "OIDC_OP_USER_ENDPOINT": "https://idp.example.gov.cn/userinfo",
        "OIDC_OP_JWKS_ENDPOINT": "https://idp.example.gov.cn/jwks",
    }
    code = "from django.conf import settings; print(settings.AUTHENTICATION_BACKENDS)"
    result = run_manage(["shell", "-c", code], env, tmp_path)

    assert result.returncode == 0, result.stderr
    assert "'portal.backends.DirectoryOIDCBackend', 'portal.backends.DirectoryLDAPBackend', 'portal.backends.LocalAccountBackend'" in result.stdout


def test_oidc_without_its_endpoints_stops_the_start(tmp_path):
    result = run_manage(["check"], {"OIDC_RP_CLIENT_ID": "portal"}, tmp_path)

    assert result.returncode != 0
    assert "OIDC_RP_CLIENT_ID is set, so these must be too: OIDC_RP_CLIENT_SECRET" in result.stderr
