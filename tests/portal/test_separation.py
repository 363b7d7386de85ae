"""三员分立 and the escalations an attacker with a demo admin account found, each as a test: what the admin
pages refuse, and what the models refuse when a page is skipped."""
import pytest
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import Client

from portal.choices import Role
from portal.errors import DomainError, PermissionDenied
from portal.models import AuditEvent, User
from portal.services import user_role_grant, user_role_revoke
from provisioning.models import QuotaLimit
from tests.catalogue.factories import CloudFactory
from tests.portal.factories import UserFactory

pytestmark = pytest.mark.django_db


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def user_form(user: User, **changes) -> dict:
    data = {"username": user.username, "full_name": user.full_name, "first_name": "", "last_name": "", "email": user.email,
            "agency": user.agency_id or "", "is_active": "on", "last_login_0": "", "last_login_1": "",
            "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"}
    data.update(changes)
    return data


# Finding: sysadmin could tick is_superuser on its own user in the admin.

def test_the_system_admin_cannot_make_itself_superuser_in_the_admin(sysadmin):
    response = admin_client(sysadmin).post(
        f"/admin/portal/user/{sysadmin.pk}/change/", user_form(sysadmin, is_superuser="on", is_staff="on",
                                                             groups=[Group.objects.get(name=Role.AUDIT_ADMIN).pk]),
    )
    assert response.status_code == 302
    sysadmin.refresh_from_db()
    assert not sysadmin.is_superuser
    assert set(sysadmin.groups.values_list("name", flat=True)) == {Role.SYSTEM_ADMIN}
    assert AuditEvent.objects.filter(actor=sysadmin, action="user.change").exists()  # the admin's own change


def test_no_save_makes_a_superuser_but_the_break_glass_command(sysadmin):
    sysadmin.is_superuser = True
    with pytest.raises(ValidationError, match="应急账号"):
        sysadmin.save()
    with pytest.raises(ValidationError):
        User.objects.create(username="root2", is_superuser=True)
    sysadmin.refresh_from_db()
    sysadmin.is_break_glass = True  # not editable in any form; refused on save as well
    with pytest.raises(ValidationError, match="break_glass"):
        sysadmin.save()


def test_the_break_glass_account_is_made_once_audited_and_holds_no_role(capsys):
    call_command("break_glass", "--reason", "安全管理员离职")
    account = User.objects.get(is_break_glass=True)
    assert account.is_superuser and account.is_staff
    assert "password (shown once)" in capsys.readouterr().out
    event = AuditEvent.objects.get(action="user.break_glass_created")
    assert event.details == {"note": "安全管理员离职"} and event.object_id == str(account.pk)
    with pytest.raises(CommandError, match="已有一个启用的应急账号"):
        call_command("break_glass", "--reason", "again", "--username", "breakglass2")
    with pytest.raises(DomainError, match="应急账号不能担任任何角色"):
        user_role_grant(actor=None, user=account, role=Role.OPERATOR)


# Finding: secadmin could add audit and user-change permissions to its own group in the admin.

def test_the_security_admin_cannot_widen_its_own_role_in_the_admin(secadmin):
    group = Group.objects.get(name=Role.SECURITY_ADMIN)
    before = set(group.permissions.values_list("codename", flat=True))
    audit = Permission.objects.get(codename="view_auditevent")
    response = admin_client(secadmin).post(f"/admin/auth/group/{group.pk}/change/", {"name": group.name,
                                                                                     "permissions": [audit.pk]})
    assert response.status_code == 403
    assert set(group.permissions.values_list("codename", flat=True)) == before


def test_no_role_is_widened_and_nobody_gets_a_permission_of_their_own(secadmin):
    group = Group.objects.get(name=Role.SECURITY_ADMIN)
    audit = Permission.objects.get(codename="view_auditevent")
    with pytest.raises(ValidationError, match="角色的权限由系统固定"), transaction.atomic():
        group.permissions.add(audit)
    with pytest.raises(ValidationError, match="角色的权限由系统固定"), transaction.atomic():
        audit.group_set.add(group)
    with pytest.raises(ValidationError, match="角色的权限由系统固定"), transaction.atomic():
        group.permissions.clear()
    with pytest.raises(ValidationError, match="不能直接授予个人"), transaction.atomic():
        secadmin.user_permissions.add(audit)
    assert not secadmin.has_perm("portal.view_auditevent")


# The three admins are three people, each with nothing else.

@pytest.mark.parametrize("first, second", [(Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN), (Role.SECURITY_ADMIN, Role.AUDIT_ADMIN),
                                           (Role.AUDIT_ADMIN, Role.SYSTEM_ADMIN)])
def test_one_person_cannot_hold_two_admin_roles(first, second):
    person = UserFactory(roles=[first])
    with pytest.raises(DomainError, match="三员分立：同一人不能同时担任"):
        user_role_grant(actor=None, user=person, role=second)
    with pytest.raises(ValidationError, match="三员分立"), transaction.atomic():
        person.groups.add(Group.objects.get(name=second))
    with pytest.raises(ValidationError, match="三员分立"), transaction.atomic():
        Group.objects.get(name=second).user_set.add(person)
    assert set(person.groups.values_list("name", flat=True)) == {first}


def test_an_admin_holds_no_other_role(sysadmin, agency):
    with pytest.raises(DomainError, match="不能同时担任其他角色"):
        user_role_grant(actor=None, user=sysadmin, role=Role.REQUESTER, scope=agency)
    operator = UserFactory(roles=[Role.OPERATOR])
    with pytest.raises(DomainError, match="不能同时担任其他角色"):
        user_role_grant(actor=None, user=operator, role=Role.AUDIT_ADMIN)


# Who assigns roles: the security admin, on the portal's page, never on their own account; audited.

def test_the_security_admin_grants_and_revokes_roles_on_the_portal_page(secadmin, agency):
    clerk = UserFactory(username="clerk", agency=agency)
    client = admin_client(secadmin)
    assert "clerk" in client.get("/security/roles/?q=cle").content.decode()
    response = client.post(f"/security/roles/{clerk.pk}/", {"role": Role.REQUESTER, "agency": agency.pk})
    assert response.status_code == 302
    assert clerk.has_perm("portal.request_for_agency", agency)
    page = client.get(f"/security/roles/{clerk.pk}/").content.decode()
    assert "申请人" in page and agency.display_name in page
    grant = AuditEvent.objects.get(action="role.grant", object_id=str(clerk.pk))
    assert grant.actor == secadmin and grant.details["role"] == Role.REQUESTER

    assert client.post(f"/security/roles/{clerk.pk}/revoke/{Role.REQUESTER}/").status_code == 302
    clerk = User.objects.get(pk=clerk.pk)
    assert not clerk.groups.exists() and not clerk.has_perm("portal.request_for_agency", agency)
    assert AuditEvent.objects.filter(action="role.revoke", actor=secadmin).count() == 1


def test_the_page_says_why_a_grant_is_refused(secadmin, sysadmin):
    response = admin_client(secadmin).post(f"/security/roles/{sysadmin.pk}/", {"role": Role.AUDIT_ADMIN})
    assert response.status_code == 200 and "三员分立" in response.content.decode()
    cloud_owner = UserFactory()
    response = admin_client(secadmin).post(f"/security/roles/{cloud_owner.pk}/", {"role": Role.CLOUD_OWNER})
    assert "需要指定云" in response.content.decode()


def test_nobody_assigns_roles_to_themselves(secadmin):
    assert "不能给自己分配或撤销角色" in admin_client(secadmin).get(f"/security/roles/{secadmin.pk}/").content.decode()
    with pytest.raises(PermissionDenied):
        user_role_grant(actor=secadmin, user=secadmin, role=Role.SECURITY_ADMIN)
    with pytest.raises(PermissionDenied):
        user_role_revoke(actor=secadmin, user=secadmin, role=Role.SECURITY_ADMIN)


def test_only_the_security_admin_reaches_the_role_pages(sysadmin, auditor, secadmin):
    for user in (sysadmin, auditor, UserFactory(roles=[Role.OPERATOR])):
        assert admin_client(user).get("/security/roles/").status_code == 404
        assert admin_client(user).post(f"/security/roles/{secadmin.pk}/revoke/{Role.SECURITY_ADMIN}/").status_code == 404
        with pytest.raises(PermissionDenied):
            user_role_grant(actor=user, user=UserFactory(), role=Role.REQUESTER)
    assert 'data-testid="nav-roles"' in admin_client(secadmin).get("/").content.decode()


# The system admin keeps accounts, but not the other admins' accounts.

def test_the_system_admin_cannot_change_another_admins_account(sysadmin, secadmin):
    response = admin_client(sysadmin).post(f"/admin/portal/user/{secadmin.pk}/change/", user_form(secadmin, is_active=""))
    assert response.status_code == 403
    secadmin.refresh_from_db()
    assert secadmin.is_active


# Quotas and capacity are the security admin's, and audited.

def test_quota_and_capacity_are_kept_by_the_security_admin_not_the_system_admin(secadmin, sysadmin):
    cloud = CloudFactory()
    data = {"agency": "", "cloud": cloud.pk, "dimension": "vcpu", "limit": "64"}
    assert admin_client(sysadmin).post("/admin/provisioning/quotalimit/add/", data).status_code == 403
    assert admin_client(secadmin).post("/admin/provisioning/quotalimit/add/", data).status_code == 302
    limit = QuotaLimit.objects.get()
    assert AuditEvent.objects.get(action="quotalimit.create").actor == secadmin and limit.limit == 64


def test_createsuperuser_is_refused_and_says_what_to_do_instead():
    with pytest.raises(CommandError, match="break_glass"):
        call_command("createsuperuser", "--username", "root", "--email", "r@example.org", "--noinput")
    assert not User.objects.filter(is_superuser=True).exists()


def test_granting_a_role_the_user_holds_says_so_and_records_nothing(secadmin, sysadmin):
    before = AuditEvent.objects.filter(action="role.grant").count()
    response = admin_client(secadmin).post(f"/security/roles/{sysadmin.pk}/", {"role": Role.SYSTEM_ADMIN})
    assert response.status_code == 200 and "已担任“系统管理员”" in response.content.decode()
    assert AuditEvent.objects.filter(action="role.grant").count() == before
