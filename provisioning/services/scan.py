"""What each cloud holds beside what the portal manages: a scan per cloud with boto3.

A scan lists the objects the portal's modules make (buckets, virtual machines, volumes, networks, security
groups, databases) in the cloud's own account and compares them with every live instance's state resources:

- unmanaged: an object no workspace manages (made by hand, or left behind by something outside the portal);
- missing: an object an instance's state holds that the cloud no longer has (deleted behind Terraform's back).

Each finding is kept (first and last seen) until a scan no longer sees it, which closes it. A missing object
also starts a drift check of its instance, so its page shows the difference attribute by attribute and the
operator can re-apply (a change request with the same parameters, through its approvals) or accept the drift.
Objects of a workspace whose create or change is still running are left out: they are not finished yet.
"""
from collections.abc import Iterator
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError
from django.db import transaction
from django.utils import timezone

from catalogue.choices import CloudStatus
from catalogue.models import Cloud
from portal.cloud_clients import cloud_client
from portal.errors import Conflict
from portal.services import audit_record

from ..choices import FindingKind, InstanceStatus, RunStatus
from ..models import CloudFinding, Instance, Run
from .reconcile import _check_drift

WORKSPACE_TAG = "portal:workspace"


@dataclass(frozen=True)
class CloudObject:
    type: str  # the Terraform resource type that makes such an object
    id: str
    name: str
    workspace: str  # the portal:workspace tag, "" when it has none


def _tags(pairs) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in pairs or []}


def _named(tags: dict[str, str], fallback: str) -> str:
    return tags.get("Name") or fallback


def cloud_objects(cloud: Cloud) -> Iterator[CloudObject]:
    """Every object of the kinds the modules make, in the cloud's account."""
    s3 = cloud_client(cloud, "s3")
    for bucket in s3.list_buckets().get("Buckets", []):
        try:
            tags = _tags(s3.get_bucket_tagging(Bucket=bucket["Name"]).get("TagSet"))
        except ClientError:
            tags = {}
        yield CloudObject("pcloud_bucket", bucket["Name"], bucket["Name"], tags.get(WORKSPACE_TAG, ""))
    ec2 = cloud_client(cloud, "ec2")
    for page in ec2.get_paginator("describe_instances").paginate():
        for reservation in page["Reservations"]:
            for vm in reservation["Instances"]:
                if vm["State"]["Name"] in ("terminated", "shutting-down"):
                    continue
                tags = _tags(vm.get("Tags"))
                yield CloudObject("pcloud_instance", vm["InstanceId"], _named(tags, vm["InstanceId"]), tags.get(WORKSPACE_TAG, ""))
    for volume in ec2.describe_volumes()["Volumes"]:
        if volume["State"] in ("deleting", "deleted"):
            continue
        tags = _tags(volume.get("Tags"))
        yield CloudObject("pcloud_volume", volume["VolumeId"], _named(tags, volume["VolumeId"]), tags.get(WORKSPACE_TAG, ""))
    for vpc in ec2.describe_vpcs()["Vpcs"]:
        if vpc.get("IsDefault"):
            continue
        tags = _tags(vpc.get("Tags"))
        yield CloudObject("pcloud_network", vpc["VpcId"], _named(tags, vpc["VpcId"]), tags.get(WORKSPACE_TAG, ""))
    for group in ec2.describe_security_groups()["SecurityGroups"]:
        if group["GroupName"] == "default":
            continue
        tags = _tags(group.get("Tags"))
        yield CloudObject("pcloud_security_group", group["GroupId"], group["GroupName"], tags.get(WORKSPACE_TAG, ""))
    rds = cloud_client(cloud, "rds")
    for database in rds.describe_db_instances()["DBInstances"]:
        if database.get("DBInstanceStatus") == "deleting":
            continue
        tags = _tags(database.get("TagList") or rds.list_tags_for_resource(
            ResourceName=database["DBInstanceArn"]).get("TagList"))
        identifier = database["DBInstanceIdentifier"]
        yield CloudObject("pcloud_database", identifier, identifier, tags.get(WORKSPACE_TAG, ""))


@dataclass
class ScanResult:
    cloud: Cloud
    unmanaged: int = 0
    missing: int = 0
    closed: int = 0
    error: str = ""


def cloud_scan(cloud: Cloud) -> ScanResult:
    """Scan one cloud and bring its open findings up to date; audited."""
    result = ScanResult(cloud)
    try:
        found = {(obj.type, obj.id): obj for obj in cloud_objects(cloud)}
    except (BotoCoreError, ClientError, ValueError) as exc:
        result.error = str(exc)[:500]
        audit_record(actor=None, actor_username="scan", action="cloud.scan_failed", obj=cloud,
                     details={"error": result.error})
        return result
    busy = set(
        Run.objects.filter(workspace__cloud=cloud, status__in=RunStatus.active()).values_list("workspace_id", flat=True)
    )
    live = Instance.objects.filter(offering__cloud=cloud).exclude(status=InstanceStatus.DESTROYED)
    managed: dict[tuple[str, str], Instance] = {}
    for instance in live.select_related("workspace"):
        for resource in instance.resources or []:
            managed[resource["type"], resource["id"]] = instance
    # Workspaces that exist but have no instance yet (a create planning or applying) own their objects too.
    owned_workspaces = {str(pk) for pk in cloud.workspaces.exclude(instance__status=InstanceStatus.DESTROYED)
                        .values_list("pk", flat=True)}

    seen: set[tuple[str, str, str]] = set()
    now = timezone.now()
    with transaction.atomic():
        for key, obj in found.items():
            if key in managed or obj.workspace in owned_workspaces:
                continue
            seen.add((FindingKind.UNMANAGED, *key))
            result.unmanaged += _record(cloud, FindingKind.UNMANAGED, obj.type, obj.id, obj.name, None, now)
        for key, instance in managed.items():
            if key in found or instance.workspace_id in busy or instance.status != InstanceStatus.ACTIVE:
                continue
            seen.add((FindingKind.MISSING, *key))
            if _record(cloud, FindingKind.MISSING, key[0], key[1], instance.name, instance, now):
                result.missing += 1
                try:
                    _check_drift(instance)
                except Conflict:
                    pass  # a run started meanwhile; its outcome or the next check shows the drift
        for finding in CloudFinding.objects.filter(cloud=cloud, resolved_at__isnull=True):
            if (finding.kind, finding.resource_type, finding.object_id) not in seen:
                finding.resolved_at, finding.resolution = now, "gone"
                finding.save(update_fields=["resolved_at", "resolution"])
                result.closed += 1
        audit_record(actor=None, actor_username="scan", action="cloud.scanned", obj=cloud, details={
            "objects": len(found), "unmanaged": result.unmanaged, "missing": result.missing, "closed": result.closed,
        })
    return result


def _record(cloud, kind, resource_type, object_id, name, instance, now) -> int:
    """Keep the finding open and seen now; 1 when it is new."""
    finding, created = CloudFinding.objects.get_or_create(
        cloud=cloud, kind=kind, resource_type=resource_type, object_id=object_id, resolved_at__isnull=True,
        defaults={"name": name[:255], "instance": instance, "first_seen_at": now, "last_seen_at": now},
    )
    if not created:
        CloudFinding.objects.filter(pk=finding.pk).update(last_seen_at=now)
    return int(created)


def scan_all() -> list[ScanResult]:
    """Beat: every active cloud that has its credentials."""
    results = []
    for cloud in Cloud.objects.filter(status=CloudStatus.ACTIVE).order_by("slug"):
        if cloud.get_credentials() is None:
            continue
        results.append(cloud_scan(cloud))
    return results
