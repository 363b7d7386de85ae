"""Adopting what no workspace manages, and retiring what outlived its lease, on the local cloud with nothing
faked: a bucket made by hand with boto3 shows as unmanaged at the cloud scan; an operator adopts it into a new
instance of an agency; the plan the approvers sign shows the bucket taken over (not created), the apply
imports it with its objects untouched, and the finding closes as adopted. A bucket whose lease ended is
decommissioned by beat's sweep through its approvals, and the bucket is gone."""
from datetime import timedelta

import pytest
from django.utils import timezone

from catalogue.choices import CloudTier
from portal.choices import Role
from provisioning.choices import FindingKind, InstanceStatus, RequestKind, RequestStatus
from provisioning.models import CloudFinding, Instance, Request
from provisioning.services import requests as svc
from provisioning.services.adopt import finding_adopt
from provisioning.services.leases import lease_sweep
from provisioning.services.scan import cloud_scan
from tests.catalogue.factories import CloudFactory, OfferingFactory, ServiceFactory
from tests.e2e.helpers import cloud_client, count_objects
from tests.e2e.test_lifecycle import reaches, through_approval
from tests.portal.factories import UserFactory
from tests.provisioning.conftest import make_policy

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
NAME = "e2e-found-by-scan"


def test_an_unmanaged_bucket_is_adopted_through_approval(celery_worker_process, local_clouds, requester, agency_approver):
    cloud = CloudFactory(slug="edu-adopt", name="教育云", tier=CloudTier.INDUSTRY, allowed_classifications=[1, 2, 3])
    local_clouds(cloud)
    offering = OfferingFactory(cloud=cloud, service=ServiceFactory(slug="bucket"), usage_rules={"storage_gb": {"from": "quota_gb"}})
    owner = UserFactory(username="cloud_owner", roles=[(Role.CLOUD_OWNER, cloud)])
    operator = UserFactory(username="operator", roles=[Role.OPERATOR])
    make_policy()
    celery_worker_process()

    s3 = cloud_client(cloud, "s3")
    s3.create_bucket(Bucket=NAME, CreateBucketConfiguration={"LocationConstraint": cloud.region})
    s3.put_object(Bucket=NAME, Key="records/2026.csv", Body=b"kept")
    assert cloud_scan(cloud).unmanaged == 1
    finding = CloudFinding.objects.get(kind=FindingKind.UNMANAGED, object_id=NAME)

    adoption = finding_adopt(
        actor=operator, finding=finding, agency=requester.agency, offering=offering,
        parameters={"name": NAME, "versioning": False, "encryption": "AES256", "quota_gb": 10},
        justification="档案桶纳入门户管理", data_classification=2,
    )
    assert adoption.kind == RequestKind.CREATE and adoption.requester == requester and adoption.adopts == finding
    reaches(adoption, RequestStatus.AWAITING_APPROVAL)
    plan = adoption.plan_run
    plan.refresh_from_db()
    bucket = [entry for entry in plan.plan_summary if entry["type"] == "pcloud_bucket"]
    assert [entry["action"] for entry in bucket] == ["import"], plan.plan_summary
    page_counts = svc.Request.objects.get(pk=adoption.pk).plan_run.plan_summary
    assert not [entry for entry in page_counts if entry["action"] == "create"]

    for signer in (agency_approver, owner):
        svc.request_approve(actor=signer, request=adoption)
        adoption.refresh_from_db()
    reaches(adoption, RequestStatus.COMPLETED)

    instance = adoption.instance
    assert instance.status == InstanceStatus.ACTIVE and instance.agency == requester.agency
    assert {(r["type"], r["id"]) for r in instance.resources} >= {("pcloud_bucket", NAME)}
    assert s3.get_object(Bucket=NAME, Key="records/2026.csv")["Body"].read() == b"kept"
    assert count_objects(cloud, "bucket", instance.workspace) == 1  # now carries its workspace's tag
    finding.refresh_from_db()
    assert finding.resolution == "adopted" and finding.resolved_at is not None and finding.instance == instance
    assert cloud_scan(cloud).unmanaged == 0


def test_an_expired_lease_raises_a_decommission_that_destroys_the_bucket(
    celery_worker_process, local_clouds, requester, agency_approver
):
    cloud = CloudFactory(slug="edu-lease", name="教育云", tier=CloudTier.INDUSTRY, allowed_classifications=[1, 2, 3])
    local_clouds(cloud)
    offering = OfferingFactory(cloud=cloud, service=ServiceFactory(slug="bucket"), usage_rules={"storage_gb": {"from": "quota_gb"}})
    owner = UserFactory(username="cloud_owner", roles=[(Role.CLOUD_OWNER, cloud)])
    make_policy()
    celery_worker_process()
    created = svc.request_create(actor=requester, offering=offering, justification="e2e", parameters={
        "name": "e2e-leased-archive", "versioning": False, "encryption": "AES256", "quota_gb": 10,
    })
    through_approval(created, requester, [agency_approver, owner])
    instance = created.instance
    assert count_objects(cloud, "bucket", instance.workspace) == 1

    # The lease ended yesterday: beat's sweep raises the decommission, once, and it follows the policy.
    Instance.objects.filter(pk=instance.pk).update(lease_end=timezone.localdate() - timedelta(days=1))
    assert lease_sweep()["raised"] == 1
    assert lease_sweep()["raised"] == 0  # idempotent
    retire = Request.objects.get(instance=instance, kind=RequestKind.DECOMMISSION)
    assert retire.requester == requester
    reaches(retire, RequestStatus.AWAITING_APPROVAL)
    for signer in (agency_approver, owner):
        svc.request_approve(actor=signer, request=retire)
        retire.refresh_from_db()
    reaches(retire, RequestStatus.COMPLETED)
    instance.refresh_from_db()
    assert instance.status == InstanceStatus.DESTROYED
    assert count_objects(cloud, "bucket", instance.workspace) == 0
