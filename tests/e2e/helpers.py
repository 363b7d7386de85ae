"""What e2e tests share: waiting, counting what really exists in a cloud, and the per-module cases."""
import time
from dataclasses import dataclass, field

import boto3


def wait_for(predicate, *, timeout: float = 120, interval: float = 0.5, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def cloud_client(cloud, service: str):
    """A boto3 client inside the cloud's own account, to see what really exists there."""
    credentials = cloud.get_credentials()
    return boto3.session.Session().client(
        service,
        endpoint_url=cloud.endpoint,
        region_name=cloud.region,
        aws_access_key_id=credentials["access_key_id"],
        aws_secret_access_key=credentials["secret_access_key"],
    )


def _tag_filter(workspace):
    return [{"Name": "tag:portal:workspace", "Values": [str(workspace.id)]}]


def count_objects(cloud, kind: str, workspace) -> int:
    """Live objects of `kind` in the cloud that carry the workspace's tag."""
    if kind == "bucket":
        s3 = cloud_client(cloud, "s3")
        count = 0
        for bucket in s3.list_buckets().get("Buckets", []):
            try:
                tags = s3.get_bucket_tagging(Bucket=bucket["Name"])["TagSet"]
            except s3.exceptions.ClientError:
                continue
            count += any(t["Key"] == "portal:workspace" and t["Value"] == str(workspace.id) for t in tags)
        return count
    if kind == "database":
        rds = cloud_client(cloud, "rds")
        count = 0
        for db in rds.describe_db_instances()["DBInstances"]:
            tags = rds.list_tags_for_resource(ResourceName=db["DBInstanceArn"])["TagList"]
            if db["DBInstanceStatus"] != "deleting" and any(
                t["Key"] == "portal:workspace" and t["Value"] == str(workspace.id) for t in tags
            ):
                count += 1
        return count
    ec2 = cloud_client(cloud, "ec2")
    if kind == "instance":
        reservations = ec2.describe_instances(Filters=_tag_filter(workspace))["Reservations"]
        return sum(
            1 for r in reservations for i in r["Instances"] if i["State"]["Name"] not in ("terminated", "shutting-down")
        )
    if kind == "network":
        return len(ec2.describe_vpcs(Filters=_tag_filter(workspace))["Vpcs"])
    if kind == "subnet":
        return len(ec2.describe_subnets(Filters=_tag_filter(workspace))["Subnets"])
    if kind == "security_group":
        return len(ec2.describe_security_groups(Filters=_tag_filter(workspace))["SecurityGroups"])
    if kind == "volume":
        return len(ec2.describe_volumes(Filters=_tag_filter(workspace))["Volumes"])
    raise ValueError(kind)


@dataclass
class ModuleCase:
    module: str
    variables: dict
    secret: dict = field(default_factory=dict)
    expect: dict = field(default_factory=dict)  # kind -> how many exist after apply
    sensitive_outputs: dict = field(default_factory=dict)


MODULE_CASES = [
    ModuleCase(
        module="bucket",
        variables={"name": "e2e-bucket-archive", "versioning": True, "encryption": "AES256", "quota_gb": 10},
        expect={"bucket": 1},
    ),
    ModuleCase(
        module="network",
        variables={
            "name": "e2e-net",
            "cidr_block": "10.20.0.0/16",
            "subnets": [
                {"name": "app", "cidr": "10.20.1.0/24", "zone": "cn-north-1a"},
                {"name": "db", "cidr": "10.20.2.0/24", "zone": "cn-north-1b"},
            ],
            "ingress_rules": [{"port": 443, "protocol": "tcp", "cidr": "10.0.0.0/8"}],
        },
        expect={"network": 1, "security_group": 1},
    ),
    ModuleCase(
        module="vm",
        variables={"name": "e2e-vm", "flavor": "small", "os_image": "kylin-v10", "system_disk_gb": 40, "data_disk_gb": 20},
        secret={"admin_password": "Vm-Admin-Passw0rd!"},
        expect={"instance": 1, "volume": 1, "network": 1},
    ),
    ModuleCase(
        module="database",
        variables={
            "identifier": "e2e-db",
            "engine": "mysql",
            "engine_version": "8.0",
            "instance_class": "db.t3.small",
            "storage_gb": 20,
            "admin_username": "dbadmin",
        },
        secret={"admin_password": "Db-Admin-Passw0rd!"},
        expect={"database": 1},
        sensitive_outputs={},
    ),
]
