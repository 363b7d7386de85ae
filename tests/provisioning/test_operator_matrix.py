"""The permission matrix of the operators' pages and endpoints (inventory exports, overview, showback, capacity,
bulk decommission, acting on drift, adopting): anonymous is sent to sign in, a user without the right learns
nothing of another agency's resources, and the permitted answer holds what they may see."""
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.choices import Role
from provisioning.choices import FindingKind, RequestKind
from provisioning.models import CloudFinding, InstanceCost, Request
from provisioning.services.costs import Month
from tests.catalogue.factories import OfferingFactory, ServiceFactory
from tests.matrix import Matrix, assert_matrix
from tests.portal.factories import UserFactory
from tests.provisioning.conftest import VM
from tests.provisioning.factories import InstanceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def estate(journey, other_agency, other_requester, cloud, operator):
    """One instance of each agency on 教育云, each with a price since this month began."""
    ours = InstanceFactory(name="ours-web", agency=journey["requester"].agency, offering=journey["offering"],
                           created_by=journey["requester"])
    theirs = InstanceFactory(name="theirs-archive", agency=other_agency, offering=journey["offering"],
                             created_by=other_requester)
    start = Month.of(timezone.localdate()).start
    for instance in (ours, theirs):
        InstanceCost.objects.create(instance=instance, monthly_cost=instance.monthly_cost, valid_from=start)
    return {"ours": ours, "theirs": theirs, "operator": operator, **journey}


@pytest.mark.parametrize("url, marker_of", [
    ("/overview/", lambda instance: f"agency={instance.agency.code}"),
    ("/showback/", lambda instance: instance.agency.display_name),
    ("/showback/?export=csv", lambda instance: instance.agency.code),
    ("/instances/?export=csv", lambda instance: instance.name),
    ("/requests/?export=csv", lambda instance: "REQ-"),
])
def test_reports_and_exports_show_only_what_the_user_may_see(estate, url, marker_of):
    theirs = estate["theirs"]
    if "requests" in url:
        Request.objects.create(kind=RequestKind.DECOMMISSION, title="theirs", requester=theirs.created_by,
                               agency=theirs.agency, offering=theirs.offering, instance=theirs)
    assert_matrix(Matrix(url=url, permitted=estate["operator"], no_permission=estate["requester"], list_view=True),
                  marker=marker_of(theirs))


def test_the_showback_api_answers_each_user_with_their_own_agencies(estate):
    assert_matrix(Matrix(url="/api/v1/showback/", api=True, permitted=estate["operator"],
                         no_permission=estate["requester"], list_view=True), marker=estate["theirs"].agency.code)


def test_capacity_is_for_cloud_owners_and_operators(estate):
    for permitted in (estate["owner"], estate["operator"]):
        assert_matrix(Matrix(url="/capacity/", permitted=permitted, no_permission=estate["requester"],
                             refused_status=403), marker=estate["offering"].cloud.display_name)


def test_bulk_decommission_is_for_operators_and_raises_nothing_for_anybody_else(estate):
    theirs = estate["theirs"]
    data = {"instances": [theirs.pk], "justification": "年度清理"}
    agency_staff = UserFactory(username="approver2", agency=theirs.agency, roles=[Role.AGENCY_APPROVER])
    assert_matrix(Matrix(url="/instances/decommission/", method="post", data=data, permitted=estate["operator"],
                         no_permission=theirs.created_by, other_agency=agency_staff, refused_status=403,
                         permitted_status=302))
    raised = Request.objects.get()
    assert (raised.kind, raised.instance, raised.requester) == (RequestKind.DECOMMISSION, theirs, theirs.created_by)


@pytest.mark.parametrize("action", ["reapply", "accept"])
def test_acting_on_drift_is_for_operators_only_even_for_the_owner_of_the_resource(estate, action):
    theirs = estate["theirs"]
    theirs.parameters = {key: value for key, value in VM.items() if key != "admin_password"}
    theirs.save()
    theirs.workspace.secret_variables = {"admin_password": VM["admin_password"]}
    theirs.workspace.save()
    assert_matrix(Matrix(url=f"/instances/{theirs.pk}/drift/{action}/", method="post", data={"note": "核对"},
                         permitted=estate["operator"], no_permission=theirs.created_by, other_agency=estate["requester"],
                         permitted_status=302))
    if action == "reapply":
        assert Request.objects.get().kind == RequestKind.MODIFY


def test_adopting_is_for_operators_only(estate, cloud):
    now = timezone.now() - timedelta(hours=1)
    finding = CloudFinding.objects.create(
        cloud=cloud, kind=FindingKind.UNMANAGED, resource_type="pcloud_bucket", object_id="made-by-hand",
        name="made-by-hand", first_seen_at=now, last_seen_at=now,
    )
    offering = OfferingFactory(cloud=cloud, service=ServiceFactory(slug="bucket"), usage_rules={"storage_gb": {"from": "quota_gb"}})
    url = f"/operations/findings/{finding.pk}/adopt/"
    refused = {"no_permission": estate["requester"], "other_agency": estate["owner"]}
    assert_matrix(Matrix(url=url, permitted=estate["operator"], **refused), marker="made-by-hand")
    data = {"agency": estate["ours"].agency.pk, "offering": offering.pk, "r-justification": "纳入管理",
            "r-data_classification": 2, "r-lease_months": 12, "p-name": "made-by-hand", "p-encryption": "AES256",
            "p-quota_gb": 10}
    assert_matrix(Matrix(url=url, method="post", data=data, permitted=estate["operator"], permitted_status=302, **refused))
    assert Request.objects.get().adopts == finding
