"""The one permissions module: global role permissions, guardian object permissions through groups,
and lists filtered with one query."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.choices import Role
from portal.models import Agency
from portal.permissions import agency_group, objects_for_user, user_can
from tests.portal.factories import AgencyFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_requester_may_request_for_own_agency_only(requester, agency, other_agency):
    assert user_can(requester, "portal.request_for_agency", agency)
    assert not user_can(requester, "portal.request_for_agency", other_agency)


def test_approver_scope_is_the_agency_not_the_role(agency_approver, agency, other_agency):
    assert user_can(agency_approver, "portal.approve_for_agency", agency)
    assert not user_can(agency_approver, "portal.approve_for_agency", other_agency)
    # The approver is not a requester of the agency either.
    assert not user_can(agency_approver, "portal.request_for_agency", agency)


def test_user_without_roles_holds_nothing(nobody, agency):
    assert not user_can(nobody, "portal.request_for_agency", agency)
    assert not user_can(nobody, "catalogue.view_cloud")


def test_anonymous_and_inactive_users_hold_nothing(requester, agency):
    from django.contrib.auth.models import AnonymousUser

    assert not user_can(AnonymousUser(), "portal.request_for_agency", agency)
    requester.is_active = False
    requester.save()
    assert not user_can(requester, "portal.request_for_agency", agency)
    assert objects_for_user(requester, "portal.request_for_agency", Agency.objects.all()).count() == 0


def test_objects_for_user_lists_exactly_the_scoped_objects(requester, agency, other_agency):
    visible = objects_for_user(requester, "portal.request_for_agency", Agency.objects.all())
    assert list(visible) == [agency]


def test_global_role_permission_sees_every_object(agency, other_agency):
    operator = UserFactory(roles=[Role.OPERATOR])
    visible = objects_for_user(operator, "portal.view_agency", Agency.objects.all())
    assert set(visible) >= {agency, other_agency}


def test_list_filter_is_one_query_whatever_the_length(requester):
    for _ in range(30):
        scoped = AgencyFactory()
        requester.groups.add(agency_group(scoped, Role.REQUESTER))
    with CaptureQueriesContext(connection) as queries:
        count = len(list(objects_for_user(requester, "portal.request_for_agency", Agency.objects.all())))
    assert count == 31
    # Guardian resolves the permission id, then filters with a subquery: a fixed number, not one per row.
    assert len(queries) <= 4


def test_role_groups_carry_the_table_permissions(db):
    from django.contrib.auth.models import Group

    from portal.roles import ROLE_PERMISSIONS

    for role, names in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role)
        held = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}
        assert held == set(names), role


def test_audit_admin_reads_audit_and_writes_nothing(auditor):
    assert user_can(auditor, "portal.view_auditevent")
    assert not user_can(auditor, "portal.change_auditevent")
    assert not user_can(auditor, "catalogue.change_cloud")
