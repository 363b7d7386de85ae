"""Adopting an unmanaged object, as the operator's pages and the service see it: who may, which offerings can
hold the object, what the form refuses, what the request carries, and the finding closed when it completes
(the import itself runs for real in tests/e2e/test_adopt.py)."""
import pytest
from django.utils import timezone

from portal.models import AuditEvent
from provisioning.choices import FindingKind, RequestKind, RequestStatus, RunKind
from provisioning.models import CloudFinding, Request
from provisioning.services import requests as svc
from provisioning.services.adopt import adoption_offerings, finding_adopt
from provisioning.workspaces import run_imports
from tests.catalogue.factories import OfferingFactory, ServiceFactory
from tests.provisioning.clients import html, signed_in
from tests.provisioning.conftest import finish_run

pytestmark = pytest.mark.django_db
BUCKET = {"name": "found-by-scan", "versioning": False, "encryption": "AES256", "quota_gb": 10}


@pytest.fixture
def bucket_offering(cloud):
    return OfferingFactory(cloud=cloud, service=ServiceFactory(slug="bucket"), usage_rules={"storage_gb": {"from": "quota_gb"}})


@pytest.fixture
def finding(cloud):
    now = timezone.now()
    return CloudFinding.objects.create(
        cloud=cloud, kind=FindingKind.UNMANAGED, resource_type="pcloud_bucket", object_id="found-by-scan",
        name="found-by-scan", first_seen_at=now, last_seen_at=now,
    )


def form_data(finding, agency, offering, **parameters):
    return {
        "agency": agency.pk, "offering": offering.pk, "r-justification": "纳入管理", "r-data_classification": 2,
        "r-lease_months": 12, **{f"p-{key}": value for key, value in {**BUCKET, **parameters}.items() if value is not False},
    }


def test_only_offerings_whose_module_makes_such_an_object_are_offered(finding, offering, bucket_offering):
    assert adoption_offerings(finding) == [bucket_offering]  # the vm module makes no bucket


def test_operators_see_the_adopt_action_and_nobody_else_reaches_it(finding, operator, requester, agency_approver):
    assert f"/operations/findings/{finding.pk}/adopt/" in html(operator, "/operations/")
    for user in (requester, agency_approver):
        assert signed_in(user).get(f"/operations/findings/{finding.pk}/adopt/").status_code == 404


def test_the_form_goes_from_agency_and_offering_to_the_parameters_named_after_the_object(
    finding, operator, agency, bucket_offering
):
    first = html(operator, f"/operations/findings/{finding.pk}/adopt/")
    assert 'data-testid="adopt-choice"' in first and agency.display_name in first
    second = html(operator, f"/operations/findings/{finding.pk}/adopt/?agency={agency.pk}&offering={bucket_offering.pk}")
    assert 'data-testid="adopt-form"' in second and 'value="found-by-scan"' in second


def test_a_name_other_than_the_objects_is_refused_beside_the_field_and_nothing_is_raised(
    finding, operator, agency, requester, bucket_offering, default_policy
):
    response = signed_in(operator).post(
        f"/operations/findings/{finding.pk}/adopt/", form_data(finding, agency, bucket_offering, name="another-name")
    )
    assert response.status_code == 200
    assert "必须与云上对象的名称一致" in response.content.decode()
    assert not Request.objects.exists()


def test_the_adoption_is_a_create_for_the_agency_whose_plan_imports_the_object(
    finding, operator, agency, requester, bucket_offering, default_policy, agency_approver, cloud_owner
):
    response = signed_in(operator).post(f"/operations/findings/{finding.pk}/adopt/", form_data(finding, agency, bucket_offering))
    adoption = Request.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/requests/{adoption.pk}/"
    assert (adoption.kind, adoption.status, adoption.requester, adoption.adopts) == (
        RequestKind.CREATE, RequestStatus.PLANNING, requester, finding
    )
    assert adoption.workspace.imports == [{"address": "pcloud_bucket.this", "id": "found-by-scan"}]
    assert run_imports(adoption.plan_run) == adoption.workspace.imports
    event = AuditEvent.objects.filter(action="request.create").get()
    assert event.actor == operator and event.details["adopts"] == finding.pk

    # A second adoption of the same object is refused while this one is in flight.
    again = signed_in(operator).post(f"/operations/findings/{finding.pk}/adopt/", form_data(finding, agency, bucket_offering))
    assert "已有进行中的纳管申请" in again.content.decode() and Request.objects.count() == 1
    assert "纳管中" in html(operator, "/operations/")

    # Approved and applied: the instance exists and the finding is closed as adopted.
    finish_run(adoption.plan_run)
    adoption.refresh_from_db()
    for signer in (agency_approver, cloud_owner):
        svc.request_approve(actor=signer, request=adoption)
        adoption.refresh_from_db()
    assert run_imports(adoption.apply_run) == []  # imported before the plan; the apply applies the signed plan
    finish_run(adoption.apply_run, resources=[{"address": "module.main.pcloud_bucket.this", "type": "pcloud_bucket",
                                              "id": "found-by-scan"}])
    adoption.refresh_from_db()
    finding.refresh_from_db()
    assert adoption.status == RequestStatus.COMPLETED
    assert (finding.resolution, finding.instance) == ("adopted", adoption.instance)
    assert AuditEvent.objects.filter(action="cloud.finding_adopted").count() == 1


def test_imports_never_reach_a_later_change_of_the_instance(finding, operator, agency, requester, bucket_offering, default_policy):
    adoption = finding_adopt(
        actor=operator, finding=finding, agency=agency, offering=bucket_offering, parameters=dict(BUCKET),
        justification="纳入管理", data_classification=2,
    )
    assert adoption.plan_run.kind == RunKind.PLAN and run_imports(adoption.plan_run)
    adoption.plan_run.request.kind = RequestKind.MODIFY
    assert run_imports(adoption.plan_run) == []


def test_a_closed_or_missing_finding_cannot_be_adopted(finding, operator, agency, requester, bucket_offering, default_policy):
    finding.kind = FindingKind.MISSING
    finding.save()
    with pytest.raises(svc.Conflict):
        finding_adopt(actor=operator, finding=finding, agency=agency, offering=bucket_offering, parameters=dict(BUCKET),
                      justification="纳入管理", data_classification=2)


def test_someone_who_may_not_reconcile_cannot_adopt(finding, requester, agency, bucket_offering, default_policy):
    with pytest.raises(svc.PermissionDenied):
        finding_adopt(actor=requester, finding=finding, agency=agency, offering=bucket_offering, parameters=dict(BUCKET),
                      justification="纳入管理", data_classification=2)
