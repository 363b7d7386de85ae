"""Sign-in from the directory over LDAP, against a real slapd (tests/portal/slapd.py), through the login page."""
import re
from io import StringIO

import pytest
from django.contrib.auth import get_user
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.authtoken.models import Token

from portal.choices import IdentitySource, Role
from portal.identity import DirectoryGrant, role_map_parse
from portal.models import AuditEvent, User
from portal.permissions import user_can_request, user_roles
from portal.services import user_role_grant
from tests.portal.factories import UserFactory

from .conftest import PASSWORD, ROLE_GROUPS
from .slapd import group_dn, user_dn

pytestmark = pytest.mark.django_db


def sign_in(username: str, password: str = PASSWORD) -> Client:
    client = Client()
    response = client.post("/login/", {"username": username, "password": password})
    client.status = response.status_code
    return client


def signed_in_user(client: Client):
    return get_user(client)


def test_a_clerk_from_the_directory_lands_with_the_agency_and_role_it_says(directory, agency):
    client = sign_in("zhangming")

    assert client.status == 302
    user = signed_in_user(client)
    assert user.is_authenticated and user.username == "zhangming"
    assert (user.full_name, user.email) == ("张明", "zhangming@example.gov.cn")
    assert user.identity_source == IdentitySource.LDAP
    assert user.agency == agency
    assert user_roles(user) == [Role.REQUESTER]
    assert user_can_request(user)
    assert not user.has_usable_password()
    grant = AuditEvent.objects.get(action="role.grant", object_id=str(user.pk))
    assert grant.details == {"role": "requester", "scope": "", "source": "ldap"}
    # The dashboard opens for them, in their agency.
    assert client.get("/").status_code == 200


def test_a_group_change_in_the_directory_shows_at_the_next_sign_in(directory, agency):
    first = signed_in_user(sign_in("lihua"))
    assert user_roles(first) == [Role.REQUESTER, Role.AGENCY_APPROVER]
    assert first.groups.filter(name="agency:jyt:agency_approver").exists()

    directory.set_members("portal-approvers", [user_dn("zhangming", "jyt")])
    directory.set_members("portal-requesters", [user_dn("lihua", "jyt")])
    again = signed_in_user(sign_in("lihua"))

    assert again.pk == first.pk
    assert user_roles(again) == [Role.REQUESTER]
    assert not again.groups.filter(name="agency:jyt:agency_approver").exists()
    assert again.groups.filter(name="agency:jyt:requester").exists()
    revoked = set(AuditEvent.objects.filter(action="role.revoke", object_id=str(again.pk)).values_list("details__group", flat=True))
    assert revoked == {"agency_approver", "agency:jyt:agency_approver"}


def test_leaving_every_mapped_group_leaves_no_role(directory):
    signed_in_user(sign_in("chenchen"))
    directory.set_members("portal-requesters", [user_dn("zhangming", "jyt")])

    user = signed_in_user(sign_in("chenchen"))

    assert user.is_authenticated
    assert user_roles(user) == []
    assert not user_can_request(user)


def test_the_agency_can_come_from_an_attribute_through_the_agency_map(directory, settings, other_agency):
    settings.LDAP_AGENCY_ATTR = "departmentNumber"
    settings.DIRECTORY_AGENCY_MAP = {"1101": "tangshan"}

    user = signed_in_user(sign_in("zhangming"))

    assert user.agency == other_agency
    assert user.groups.filter(name="agency:tangshan:requester").exists()


def test_a_move_to_another_agency_moves_the_agency_roles_with_it(directory, settings, agency, other_agency):
    settings.LDAP_AGENCY_ATTR = "departmentNumber"
    settings.DIRECTORY_AGENCY_MAP = {"1101": "jyt", "1302": "tangshan"}
    assert signed_in_user(sign_in("zhangming")).agency == agency
    conn = directory.connection()
    conn.modify_s(user_dn("zhangming", "jyt"), [(2, "departmentNumber", [b"1302"])])  # MOD_REPLACE

    user = signed_in_user(sign_in("zhangming"))

    assert user.agency == other_agency
    assert set(user.groups.values_list("name", flat=True)) == {"requester", "agency:tangshan:requester"}
    moved = AuditEvent.objects.filter(action="user.agency_set", object_id=str(user.pk)).first()
    assert moved.details["from"] == agency.name and moved.details["to"] == other_agency.name


def test_an_agency_the_portal_does_not_know_signs_in_without_agency_roles(directory, settings):
    settings.LDAP_AGENCY_ATTR = "departmentNumber"  # "1101" names no agency and the map is empty

    user = signed_in_user(sign_in("zhangming"))

    assert user.is_authenticated and user.agency is None
    assert user_roles(user) == []
    left_out = AuditEvent.objects.get(action="role.grant", outcome="failure", object_id=str(user.pk))
    assert left_out.details["left_out"] == ["requester"]


def test_a_person_removed_from_the_directory_can_no_longer_sign_in(directory):
    user = signed_in_user(sign_in("zhangming"))
    assert user.is_authenticated
    directory.delete(user_dn("zhangming", "jyt"))

    client = sign_in("zhangming")

    assert client.status == 200  # the login page again, with its error
    assert not signed_in_user(client).is_authenticated
    assert AuditEvent.objects.filter(action="auth.login", outcome="failure", actor_username="zhangming").exists()


def test_a_directory_user_never_signs_in_with_a_local_password(directory):
    user = signed_in_user(sign_in("zhangming"))
    stored = User.objects.get(pk=user.pk)
    stored.set_password("a-local-password-1")
    stored.save()

    assert not signed_in_user(sign_in("zhangming", "a-local-password-1")).is_authenticated
    directory.delete(user_dn("zhangming", "jyt"))
    assert not signed_in_user(sign_in("zhangming", "a-local-password-1")).is_authenticated


def test_a_wrong_directory_password_is_refused(directory):
    client = sign_in("zhangming", "not-the-password")

    assert client.status == 200
    assert not User.objects.filter(username="zhangming").exists()


def test_a_mapped_admin_group_grants_nothing(directory, settings):
    # A map built in code skips the check at settings load; the mapping refuses the admin roles itself.
    settings.LDAP_ROLE_GROUPS = {
        **role_map_parse("LDAP_ROLE_GROUPS", ROLE_GROUPS),
        group_dn("portal-sysadmins"): (DirectoryGrant(Role.SYSTEM_ADMIN), DirectoryGrant(Role.AUDIT_ADMIN)),
    }

    user = signed_in_user(sign_in("zhangming"))

    assert user_roles(user) == [Role.REQUESTER]
    assert not user.is_staff
    assert not AuditEvent.objects.filter(action="role.grant", details__role="system_admin").exists()


def test_an_admin_role_granted_in_the_portal_outlives_directory_sign_ins(directory):
    directory.set_members("portal-approvers", [user_dn("zhangming", "jyt")])
    user = signed_in_user(sign_in("lihua"))
    assert user_roles(user) == []
    user_role_grant(actor=None, user=user, role=Role.SECURITY_ADMIN)

    again = signed_in_user(sign_in("lihua"))

    assert user_roles(again) == [Role.SECURITY_ADMIN]


def test_a_portal_admin_takes_no_role_from_the_directory_and_the_trail_says_so(directory):
    directory.set_members("portal-approvers", [user_dn("zhangming", "jyt")])
    user = signed_in_user(sign_in("lihua"))
    user_role_grant(actor=None, user=user, role=Role.SECURITY_ADMIN)
    directory.set_members("portal-approvers", [user_dn("lihua", "jyt")])  # the directory gives approver again

    again = signed_in_user(sign_in("lihua"))

    assert again.is_authenticated and user_roles(again) == [Role.SECURITY_ADMIN]  # 三员分立
    refused = AuditEvent.objects.filter(action="role.grant", outcome="failure", object_id=str(user.pk)).latest("id")
    assert any("三员分立" in entry for entry in refused.details["left_out"])


def test_a_local_account_is_not_taken_over_by_a_directory_entry_of_its_name(directory, other_agency):
    UserFactory(username="chenchen", agency=other_agency, password="local-password-123")

    assert not signed_in_user(sign_in("chenchen", PASSWORD)).is_authenticated
    user = signed_in_user(sign_in("chenchen", "local-password-123"))
    assert user.is_authenticated and user.identity_source == IdentitySource.LOCAL


def test_local_accounts_sign_in_as_before_beside_the_directory(directory, requester):
    client = Client()
    response = client.post("/login/", {"username": "requester", "password": "pass-for-tests"})

    assert response.status_code == 302
    assert signed_in_user(client) == requester
    assert user_roles(signed_in_user(client)) == [Role.REQUESTER]


def test_the_role_map_keys_are_dns_in_any_case_and_spacing(directory, settings):
    settings.LDAP_ROLE_GROUPS = role_map_parse(
        "LDAP_ROLE_GROUPS", {group_dn("portal-requesters").upper().replace(",", ", "): "operator"}
    )

    user = signed_in_user(sign_in("zhangming"))

    assert user_roles(user) == [Role.OPERATOR]


def test_the_admin_lists_directory_users_apart(directory, sysadmin):
    signed_in_user(sign_in("zhangming"))
    client = Client()
    client.force_login(sysadmin)

    page = client.get("/admin/portal/user/", {"identity_source__exact": "ldap"}).content.decode()

    listed = re.findall(r'field-username"><a [^>]*>([^<]+)</a>', page)
    assert listed == ["zhangming"]


def test_a_user_deactivated_in_the_portal_loses_the_session_they_have_open(directory):
    client = sign_in("zhangming")
    assert client.get("/").status_code == 200
    User.objects.filter(username="zhangming").update(is_active=False)

    response = client.get("/")

    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_the_sync_command_deactivates_who_left_and_sets_roles_of_who_stayed(directory):
    leaver = sign_in("zhangming")
    Token.objects.create(user=signed_in_user(leaver))
    signed_in_user(sign_in("lihua"))
    directory.delete(user_dn("zhangming", "jyt"))
    directory.set_members("portal-approvers", [user_dn("chenchen", "tangshan")])
    out = StringIO()

    call_command("directory_sync", stdout=out)

    gone = User.objects.get(username="zhangming")
    assert not gone.is_active and user_roles(gone) == []
    assert not Token.objects.filter(user=gone).exists()
    assert leaver.get("/").status_code == 302  # the open session ended with the account
    assert AuditEvent.objects.filter(action="user.deactivate", object_id=str(gone.pk)).exists()
    assert user_roles(User.objects.get(username="lihua")) == []  # left the approvers: no role remains
    assert "2 directory users checked, 1 deactivated" in out.getvalue()


def test_the_sync_command_changes_no_one_when_the_directory_is_down(directory):
    signed_in_user(sign_in("zhangming"))
    directory.stop()

    with pytest.raises(CommandError, match="the directory did not answer, nothing changed"):
        call_command("directory_sync", stdout=StringIO())

    assert User.objects.get(username="zhangming").is_active
    assert user_roles(User.objects.get(username="zhangming")) == [Role.REQUESTER]


def test_api_clients_get_a_token_with_the_directory_password_and_not_once_removed(directory):
    asked = Client().post("/api/v1/auth/token/", {"username": "zhangming", "password": PASSWORD})
    assert asked.status_code == 200 and asked.json()["token"]
    directory.delete(user_dn("zhangming", "jyt"))

    again = Client().post("/api/v1/auth/token/", {"username": "zhangming", "password": PASSWORD})

    assert again.status_code == 400
