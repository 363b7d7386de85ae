"""Sign-in through OpenID Connect: the same agency and role mapping from claims, first through the backend's
hooks with claims directly, then once through mozilla-django-oidc's callback against a local provider."""
from urllib.parse import parse_qs, urlparse

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth import get_user
from django.core.exceptions import SuspiciousOperation
from django.test import Client

from portal.backends import DirectoryOIDCBackend
from portal.choices import IdentitySource, Role
from portal.identity import DirectoryGrant, role_map_parse
from portal.models import AuditEvent, User
from portal.permissions import user_can_request, user_roles

from .oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider

pytestmark = pytest.mark.django_db

ROLE_GROUPS = {"portal-requesters": "requester", "/agencies/approvers": ["agency_approver", "requester"]}


def claims(username="wangfang", agency="jyt", groups=("portal-requesters",)) -> dict:
    return {
        "preferred_username": username,
        "name": "王芳",
        "email": f"{username}@example.gov.cn",
        "agency": agency,
        "groups": list(groups),
    }


@pytest.fixture
def oidc(settings, agency, other_agency):
    """The OIDC settings the environment gives (settings.py), pointing at no provider yet."""
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = "http://127.0.0.1:9/authorize"
    settings.OIDC_OP_TOKEN_ENDPOINT = "http://127.0.0.1:9/token"
    settings.OIDC_OP_USER_ENDPOINT = "http://127.0.0.1:9/userinfo"
    settings.OIDC_OP_JWKS_ENDPOINT = "http://127.0.0.1:9/jwks"
    settings.OIDC_ROLE_GROUPS = role_map_parse("OIDC_ROLE_GROUPS", ROLE_GROUPS)
    settings.DIRECTORY_AGENCY_MAP = {}
    return settings


def test_a_new_user_gets_agency_and_role_from_the_claims(oidc, agency):
    user = DirectoryOIDCBackend().create_user(claims())

    assert (user.username, user.full_name, user.email) == ("wangfang", "王芳", "wangfang@example.gov.cn")
    assert user.identity_source == IdentitySource.OIDC
    assert not user.has_usable_password()
    assert user.agency == agency
    assert user_roles(user) == [Role.REQUESTER]
    assert user_can_request(user)


def test_the_next_sign_in_sets_agency_and_roles_again(oidc, other_agency):
    backend = DirectoryOIDCBackend()
    user = backend.create_user(claims(groups=["/agencies/approvers"]))
    assert user_roles(user) == [Role.REQUESTER, Role.AGENCY_APPROVER]

    user = backend.update_user(user, claims(agency="tangshan", groups=["portal-requesters"]))

    assert user.agency == other_agency
    assert set(user.groups.values_list("name", flat=True)) == {"requester", "agency:tangshan:requester"}
    assert AuditEvent.objects.filter(action="role.revoke", details__group="agency:jyt:agency_approver").exists()


def test_the_agency_claim_goes_through_the_agency_map(oidc, other_agency):
    oidc.DIRECTORY_AGENCY_MAP = {"130200000000": "tangshan"}

    user = DirectoryOIDCBackend().create_user(claims(agency="130200000000"))

    assert user.agency == other_agency


def test_an_admin_group_in_the_claims_grants_nothing(oidc):
    oidc.OIDC_ROLE_GROUPS = {
        **oidc.OIDC_ROLE_GROUPS,
        "portal-admins": (DirectoryGrant(Role.SYSTEM_ADMIN), DirectoryGrant(Role.SECURITY_ADMIN)),
    }

    user = DirectoryOIDCBackend().create_user(claims(groups=["portal-admins", "portal-requesters"]))

    assert user_roles(user) == [Role.REQUESTER]
    assert not user.is_staff


def test_a_local_account_of_the_same_name_is_not_taken_over(oidc, requester):
    with pytest.raises(SuspiciousOperation):
        DirectoryOIDCBackend().filter_users_by_claims(claims(username="requester"))


def test_claims_without_a_username_are_refused(oidc):
    assert not DirectoryOIDCBackend().verify_claims({"email": "someone@example.gov.cn"})


def test_the_login_page_offers_no_oidc_sign_in_by_default(db):
    assert "/oidc/" not in Client().get("/login/").content.decode()


@pytest.fixture
def provider(oidc):
    running = Provider().start()
    oidc.OIDC_OP_TOKEN_ENDPOINT = f"{running.url}/token"
    oidc.OIDC_OP_USER_ENDPOINT = f"{running.url}/userinfo"
    oidc.OIDC_OP_JWKS_ENDPOINT = f"{running.url}/jwks"
    oidc.OIDC_ENABLED = True
    oidc.OIDC_PROVIDER_NAME = "省统一身份认证平台"
    oidc.AUTHENTICATION_BACKENDS = ["portal.backends.DirectoryOIDCBackend", *oidc.AUTHENTICATION_BACKENDS]
    oidc.ROOT_URLCONF = "tests.portal.oidc_urls"
    try:
        yield running
    finally:
        running.stop()


def start_sign_in(client: Client) -> dict:
    """Follow the login page's button to the provider; return what the portal sent it (state, nonce, …)."""
    page = client.get("/login/").content.decode()
    assert 'href="/oidc/authenticate/"' in page and "通过省统一身份认证平台登录" in page
    response = client.get("/oidc/authenticate/")
    assert response.status_code == 302
    sent = {name: values[0] for name, values in parse_qs(urlparse(response["Location"]).query).items()}
    assert sent["client_id"] == CLIENT_ID and sent["response_type"] == "code"
    return sent


def test_a_clerk_signs_in_through_the_provider_with_agency_and_role(provider, agency):
    client = Client()
    sent = start_sign_in(client)
    provider.issue_code("code-1", sent["nonce"], claims())

    response = client.get("/oidc/callback/", {"code": "code-1", "state": sent["state"]})

    assert response.status_code == 302 and response["Location"] == "/"
    user = get_user(client)
    assert user.is_authenticated and user.username == "wangfang"
    assert user.identity_source == IdentitySource.OIDC
    assert user.agency == agency
    assert user_roles(user) == [Role.REQUESTER]
    assert AuditEvent.objects.filter(action="auth.login", actor=user).exists()


def test_an_id_token_the_provider_did_not_sign_is_refused(provider):
    provider.signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    client = Client(raise_request_exception=False)
    sent = start_sign_in(client)
    provider.issue_code("code-2", sent["nonce"], claims())

    # mozilla-django-oidc raises SuspiciousOperation, which Django answers with 400.
    assert client.get("/oidc/callback/", {"code": "code-2", "state": sent["state"]}).status_code == 400

    assert not get_user(client).is_authenticated
    assert not User.objects.filter(username="wangfang").exists()


def test_a_deactivated_user_is_refused_at_the_callback(provider):
    first = Client()
    sent = start_sign_in(first)
    provider.issue_code("code-3", sent["nonce"], claims())
    first.get("/oidc/callback/", {"code": "code-3", "state": sent["state"]})
    user = get_user(first)
    user.is_active = False
    user.save()

    client = Client()
    sent = start_sign_in(client)
    provider.issue_code("code-4", sent["nonce"], claims())
    response = client.get("/oidc/callback/", {"code": "code-4", "state": sent["state"]})

    assert response["Location"] == "/login/?directory=failed"
    assert not get_user(client).is_authenticated
