"""A VM's whole life on the local cloud through the request journey, with nothing faked: created with a
100 GB data disk, grown to 200 GB, then decommissioned; boto3 confirms each step and that nothing is left."""
import pytest

from catalogue.choices import CloudTier
from portal.choices import Role
from provisioning.choices import InstanceStatus, RequestKind, RequestStatus
from provisioning.models import Request
from provisioning.services import requests as svc
from tests.catalogue.factories import CloudFactory, OfferingFactory, ServiceFactory
from tests.e2e.helpers import cloud_client, count_objects, wait_for
from tests.portal.factories import UserFactory
from tests.provisioning.conftest import make_policy

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PARAMETERS = {
    "name": "e2e-life-vm",
    "flavor": "small",
    "os_image": "kylin-v10",
    "zone": "cn-north-1a",
    "system_disk_gb": 40,
    "data_disk_gb": 100,
    "admin_password": "Vm-Admin-Passw0rd!",
}


def reaches(request: Request, status: str, timeout: float = 240) -> Request:
    def there():
        request.refresh_from_db()
        assert request.status not in (RequestStatus.FAILED, RequestStatus.CANCELLED), request.error
        return request.status == status

    wait_for(there, timeout=timeout, what=f"{request.number} to be {status}")
    return request


def through_approval(request: Request, requester, signers) -> Request:
    svc.request_submit(actor=requester, request=request)
    reaches(request, RequestStatus.AWAITING_APPROVAL)
    for signer in signers:
        svc.request_approve(actor=signer, request=request)
        request.refresh_from_db()
    return reaches(request, RequestStatus.COMPLETED)


def data_disk_sizes(cloud, workspace) -> list[int]:
    ec2 = cloud_client(cloud, "ec2")
    volumes = ec2.describe_volumes(
        Filters=[{"Name": "tag:portal:workspace", "Values": [str(workspace.id)]}]
    )["Volumes"]
    return sorted(volume["Size"] for volume in volumes)


def test_create_modify_decommission_leaves_nothing(celery_worker_process, local_clouds, requester, agency_approver):
    cloud = CloudFactory(slug="edu-life", name="教育云", tier=CloudTier.INDUSTRY, allowed_classifications=[1, 2, 3])
    local_clouds(cloud)
    offering = OfferingFactory(cloud=cloud, service=ServiceFactory(slug="vm"))
    owner = UserFactory(username="cloud_owner", roles=[(Role.CLOUD_OWNER, cloud)])
    make_policy()
    celery_worker_process()
    signers = [agency_approver, owner]

    created = svc.request_create(actor=requester, offering=offering, parameters=dict(PARAMETERS), justification="e2e")
    through_approval(created, requester, signers)
    instance = created.instance
    assert instance.status == InstanceStatus.ACTIVE
    assert data_disk_sizes(cloud, instance.workspace) == [100]
    assert count_objects(cloud, "instance", instance.workspace) == 1

    grown = svc.request_create_day2(
        actor=requester, instance=instance, kind=RequestKind.MODIFY, parameters={"data_disk_gb": 200}
    )
    through_approval(grown, requester, signers)
    instance.refresh_from_db()
    assert instance.parameters["data_disk_gb"] == 200
    assert data_disk_sizes(cloud, instance.workspace) == [200]

    retired = svc.request_create_day2(actor=requester, instance=instance, kind=RequestKind.DECOMMISSION)
    through_approval(retired, requester, signers)
    instance.refresh_from_db()
    assert instance.status == InstanceStatus.DESTROYED
    for kind in ("instance", "volume", "network", "subnet", "security_group"):
        assert count_objects(cloud, kind, instance.workspace) == 0, kind
