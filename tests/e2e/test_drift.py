"""Drift and what no workspace manages, on the local cloud with nothing faked: a bucket deleted behind
Terraform's back with boto3 is found missing by the cloud scan and its instance drifted at the next check; an
operator re-applies it through an approval, and the bucket is back. A bucket made by hand shows as unmanaged;
a second deletion is accepted instead, and the state forgets the bucket."""
import pytest

from catalogue.choices import CloudTier
from portal.choices import Role
from provisioning.choices import DriftStatus, FindingKind, InstanceStatus, RequestKind, RunStatus
from provisioning.models import CloudFinding, Instance, Run
from provisioning.services import reconcile
from provisioning.services import requests as svc
from provisioning.services.bulk import instance_reapply
from provisioning.services.scan import cloud_scan
from tests.catalogue.factories import CloudFactory, OfferingFactory, ServiceFactory
from tests.e2e.helpers import cloud_client, count_objects, wait_for
from tests.e2e.test_lifecycle import reaches, through_approval
from tests.portal.factories import UserFactory
from tests.provisioning.conftest import make_policy

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
BUCKET = {"name": "e2e-drift-archive", "versioning": False, "encryption": "AES256", "quota_gb": 10}


def finished(run: Run, timeout: float = 240) -> Run:
    def done():
        run.refresh_from_db()
        return run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED)

    wait_for(done, timeout=timeout, what=f"run {run.pk}")
    assert run.status == RunStatus.SUCCEEDED, run.error
    return run


def test_deleted_bucket_is_missing_and_drifted_then_reapplied_or_accepted(
    celery_worker_process, local_clouds, requester, agency_approver
):
    cloud = CloudFactory(slug="edu-drift", name="教育云", tier=CloudTier.INDUSTRY, allowed_classifications=[1, 2, 3])
    local_clouds(cloud)
    offering = OfferingFactory(cloud=cloud, service=ServiceFactory(slug="bucket"), usage_rules={"storage_gb": {"from": "quota_gb"}})
    owner = UserFactory(username="cloud_owner", roles=[(Role.CLOUD_OWNER, cloud)])
    operator = UserFactory(username="operator", roles=[Role.OPERATOR])
    make_policy()
    celery_worker_process()
    signers = [agency_approver, owner]
    s3 = cloud_client(cloud, "s3")

    created = svc.request_create(actor=requester, offering=offering, parameters=dict(BUCKET), justification="e2e")
    through_approval(created, requester, signers)
    instance = created.instance
    assert count_objects(cloud, "bucket", instance.workspace) == 1
    assert cloud_scan(cloud).missing == 0

    # Behind Terraform's back: the bucket goes, and a bucket nobody manages appears.
    s3.delete_bucket(Bucket=BUCKET["name"])
    s3.create_bucket(Bucket="e2e-made-by-hand", CreateBucketConfiguration={"LocationConstraint": cloud.region})
    result = cloud_scan(cloud)
    assert (result.missing, result.unmanaged) == (1, 1)
    missing = CloudFinding.objects.get(kind=FindingKind.MISSING, resolved_at__isnull=True)
    assert missing.instance == instance and missing.object_id == BUCKET["name"]
    assert CloudFinding.objects.get(kind=FindingKind.UNMANAGED).object_id == "e2e-made-by-hand"

    # The scan started the instance's drift check; it finds the deletion.
    check = Run.objects.filter(workspace=instance.workspace, kind="refresh").latest("queued_at")
    finished(check)
    instance.refresh_from_db()
    assert instance.drift_status == DriftStatus.DRIFTED
    assert any(entry["action"] == "delete" for entry in check.plan_summary)

    # Re-apply: a change with the same parameters, approved like any other, puts the bucket back.
    change = instance_reapply(actor=operator, instance=instance, justification="误删，恢复")
    assert change.kind == RequestKind.MODIFY and change.requester == requester
    reaches(change, "awaiting_approval")
    for signer in signers:
        svc.request_approve(actor=signer, request=change)
        change.refresh_from_db()
    reaches(change, "completed")
    assert count_objects(cloud, "bucket", instance.workspace) == 1
    result = cloud_scan(cloud)
    assert result.missing == 0 and result.closed == 1  # the missing finding is closed, the unmanaged stays
    missing.refresh_from_db()
    assert missing.resolved_at is not None

    # Deleted again; this time the operator accepts it: the state forgets the bucket, nothing else changes.
    s3.delete_bucket(Bucket=BUCKET["name"])
    finished(reconcile.instance_drift_check(actor=operator, instance=instance))
    instance.refresh_from_db()
    assert instance.drift_status == DriftStatus.DRIFTED
    finished(reconcile.instance_accept_drift(actor=operator, instance=instance, note="该桶已不再需要"))
    instance = Instance.objects.get(pk=instance.pk)
    assert instance.status == InstanceStatus.ACTIVE and instance.drift_status == DriftStatus.IN_SYNC
    assert not [r for r in instance.resources if r["type"] == "pcloud_bucket"]
    assert count_objects(cloud, "bucket", instance.workspace) == 0
    assert cloud_scan(cloud).missing == 0
