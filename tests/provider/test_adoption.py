"""Adoption: an apply that died after the cloud made its objects, and before Terraform wrote state, is planned
and applied again from empty state.

With `portal:workspace` in default_tags, every create finds the object its workspace made before, by that
tag and the object's identity, and takes it over (converging it to the plan) instead of making a second
one. Without that tag (the control case) the provider creates as it always did: a second network, instance
and volume, and a clear error for a bucket, database or security group name that is already taken.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import Any

import pytest

from tests.provider.cloud import REGION, ZONE_A, Cloud, tags
from tests.provider.workspace import Plan, Workspace

IMAGE = "ami-04681a1dbd79675a5"
WORKSPACE = "0f3c2a9e-6f1d-4c58-8e7a-2d9b5c1e4a77"
OTHER_WORKSPACE = "9a7e4d21-3b6c-4f0e-a1d2-c3b4e5f60718"
DEFAULT_TAGS = {"portal:workspace": WORKSPACE, "portal:agency": "edu"}
# Every control object carries the same workspace tag; the control configuration's default_tags lack it.
CONTROL_DEFAULT_TAGS = {"portal:agency": "edu"}


def hcl_map(values: dict[str, str]) -> str:
    return "{ " + ", ".join(f'"{key}" = "{value}"' for key, value in values.items()) + " }"


def configuration(
    prefix: str,
    cidr_prefix: str,
    network_id: str = "pcloud_network.this.id",
    instance_groups: str = "[pcloud_security_group.this.id]",
) -> str:
    return f"""
resource "pcloud_network" "this" {{
  cidr_block = "{cidr_prefix}.0.0/16"
  name       = "{prefix}-net"
  subnet {{
    name       = "app"
    cidr_block = "{cidr_prefix}.1.0/24"
    zone       = "{ZONE_A}"
  }}
  subnet {{
    name       = "data"
    cidr_block = "{cidr_prefix}.2.0/24"
    zone       = "{ZONE_A}"
  }}
}}

resource "pcloud_security_group" "this" {{
  name       = "{prefix}-web"
  network_id = {network_id}
  ingress {{
    protocol    = "tcp"
    port        = 443
    cidr_blocks = ["10.0.0.0/8"]
  }}
}}

resource "pcloud_instance" "this" {{
  name               = "{prefix}-app"
  image              = "{IMAGE}"
  instance_type      = "t3.micro"
  subnet_id          = pcloud_network.this.subnet_ids["app"]
  security_group_ids = {instance_groups}
}}

resource "pcloud_volume" "this" {{
  name        = "{prefix}-data"
  zone        = "{ZONE_A}"
  size        = 8
  instance_id = pcloud_instance.this.id
  device_name = "/dev/sdf"
}}

resource "pcloud_bucket" "this" {{
  name       = "edu-{prefix}-files"
  versioning = true
}}

resource "pcloud_database" "this" {{
  identifier        = "edu-{prefix}-db"
  engine            = "postgres"
  instance_class    = "db.t3.micro"
  allocated_storage = 20
  username          = "portal"
  password          = "adopted-password"
}}
"""


def tag_specification(resource_type: str, values: dict[str, str]) -> list[dict[str, Any]]:
    return [{"ResourceType": resource_type, "Tags": [{"Key": k, "Value": v} for k, v in values.items()]}]


def leave_behind(cloud: Cloud, prefix: str, cidr_prefix: str, workspace: str) -> dict[str, str]:
    """Objects as an apply of `configuration(prefix, ...)` that died before writing state leaves them: made
    and tagged, but not all configured (no second subnet, no ingress rule, volume not attached, bucket
    settings not written). Returns their ids by address."""
    ec2 = cloud.ec2
    defaults = {**DEFAULT_TAGS, "portal:workspace": workspace}
    vpc_id = ec2.create_vpc(
        CidrBlock=f"{cidr_prefix}.0.0/16",
        TagSpecifications=tag_specification("vpc", {**defaults, "Name": f"{prefix}-net"}),
    )["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(
        VpcId=vpc_id,
        CidrBlock=f"{cidr_prefix}.1.0/24",
        AvailabilityZone=ZONE_A,
        TagSpecifications=tag_specification("subnet", {**defaults, "Name": "app"}),
    )["Subnet"]["SubnetId"]
    group_id = ec2.create_security_group(
        GroupName=f"{prefix}-web",
        Description="Managed by the cloud portal",
        VpcId=vpc_id,
        TagSpecifications=tag_specification("security-group", defaults),
    )["GroupId"]
    instance_id = ec2.run_instances(
        ImageId=IMAGE,
        InstanceType="t3.micro",
        SubnetId=subnet_id,
        SecurityGroupIds=[group_id],
        MinCount=1,
        MaxCount=1,
        TagSpecifications=tag_specification("instance", {**defaults, "Name": f"{prefix}-app"}),
    )["Instances"][0]["InstanceId"]
    volume_id = ec2.create_volume(
        AvailabilityZone=ZONE_A,
        Size=8,
        VolumeType="gp3",
        TagSpecifications=tag_specification("volume", {**defaults, "Name": f"{prefix}-data"}),
    )["VolumeId"]
    bucket = f"edu-{prefix}-files"
    cloud.s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    cloud.s3.put_bucket_tagging(
        Bucket=bucket, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in defaults.items()]}
    )
    cloud.rds.create_db_instance(
        DBInstanceIdentifier=f"edu-{prefix}-db",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="portal",
        MasterUserPassword="adopted-password",
        BackupRetentionPeriod=7,
        Tags=[{"Key": k, "Value": v} for k, v in defaults.items()],
    )
    return {
        "pcloud_network.this": vpc_id,
        "pcloud_security_group.this": group_id,
        "pcloud_instance.this": instance_id,
        "pcloud_volume.this": volume_id,
        "pcloud_bucket.this": bucket,
        "pcloud_database.this": f"edu-{prefix}-db",
    }


def named(name: str, workspace: str | None = None) -> list[dict[str, Any]]:
    """EC2 filters for objects with this Name tag (and workspace tag)."""
    filters = [{"Name": "tag:Name", "Values": [name]}]
    if workspace is not None:
        filters.append({"Name": "tag:portal:workspace", "Values": [workspace]})
    return filters


def networks(cloud: Cloud, name: str, workspace: str | None = None) -> list[str]:
    return [vpc["VpcId"] for vpc in cloud.ec2.describe_vpcs(Filters=named(name, workspace))["Vpcs"]]


def live_instances(cloud: Cloud, name: str, workspace: str | None = None) -> list[str]:
    filters = [*named(name, workspace), {"Name": "instance-state-name", "Values": ["pending", "running"]}]
    reservations = cloud.ec2.describe_instances(Filters=filters)["Reservations"]
    return [instance["InstanceId"] for found in reservations for instance in found["Instances"]]


def volumes(cloud: Cloud, name: str, workspace: str | None = None) -> list[str]:
    return [
        volume["VolumeId"] for volume in cloud.ec2.describe_volumes(Filters=named(name, workspace))["Volumes"]
    ]


def groups(cloud: Cloud, name: str, vpc_id: str) -> list[str]:
    filters = [{"Name": "group-name", "Values": [name]}, {"Name": "vpc-id", "Values": [vpc_id]}]
    return [
        group["GroupId"] for group in cloud.ec2.describe_security_groups(Filters=filters)["SecurityGroups"]
    ]


def workspace_for(terraform_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("adoption"), terraform_env)


def write(workspace: Workspace, cloud: Cloud, resources: str, default_tags: dict[str, str]) -> None:
    provider = (
        f'  endpoint = "{cloud.endpoint}"\n  region = "{REGION}"\n  default_tags = {hcl_map(default_tags)}'
    )
    workspace.write(resources, provider=provider)


# --- adoption -----------------------------------------------------------------------------------------------


@dataclass
class Adopted:
    left: dict[str, str]  # what the dead apply left, by address
    terminated_instance: str  # same workspace and name, but terminated
    other_workspace_network: str  # same name, another workspace
    state: dict[str, dict[str, Any]]
    replan: Plan


@pytest.fixture(scope="module")
def adopted(terraform_env: dict[str, str], cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> Adopted:
    left = leave_behind(cloud, "adopt", "10.60", WORKSPACE)
    terminated = cloud.ec2.run_instances(
        ImageId=IMAGE,
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=tag_specification("instance", {**DEFAULT_TAGS, "Name": "adopt-app"}),
    )["Instances"][0]["InstanceId"]
    cloud.ec2.terminate_instances(InstanceIds=[terminated])
    other = cloud.ec2.create_vpc(
        CidrBlock="10.60.0.0/16",
        TagSpecifications=tag_specification(
            "vpc", {"portal:workspace": OTHER_WORKSPACE, "Name": "adopt-net"}
        ),
    )["Vpc"]["VpcId"]

    workspace = workspace_for(terraform_env, tmp_path_factory)
    write(workspace, cloud, configuration("adopt", "10.60"), DEFAULT_TAGS)
    workspace.init()
    workspace.apply()
    return Adopted(left, terminated, other, workspace.state(), workspace.plan())


def test_apply_takes_over_the_objects_left_behind(adopted: Adopted) -> None:
    assert {address: values["id"] for address, values in adopted.state.items()} == adopted.left


def test_exactly_one_object_of_each_identity_exists_in_the_workspace(adopted: Adopted, cloud: Cloud) -> None:
    network_id = adopted.left["pcloud_network.this"]

    assert networks(cloud, "adopt-net", WORKSPACE) == [network_id]
    assert groups(cloud, "adopt-web", network_id) == [adopted.left["pcloud_security_group.this"]]
    assert live_instances(cloud, "adopt-app") == [adopted.left["pcloud_instance.this"]]
    assert volumes(cloud, "adopt-data") == [adopted.left["pcloud_volume.this"]]
    assert [b["Name"] for b in cloud.s3.list_buckets()["Buckets"]].count("edu-adopt-files") == 1
    assert len(cloud.rds.describe_db_instances(DBInstanceIdentifier="edu-adopt-db")["DBInstances"]) == 1


def test_terminated_objects_and_other_workspaces_objects_are_left_alone(
    adopted: Adopted, cloud: Cloud
) -> None:
    assert cloud.instance(adopted.terminated_instance) is None
    assert cloud.vpc(adopted.other_workspace_network) is not None
    assert sorted(networks(cloud, "adopt-net")) == sorted(
        [adopted.left["pcloud_network.this"], adopted.other_workspace_network]
    )


def test_adopted_objects_are_converged_to_the_plan(adopted: Adopted, cloud: Cloud) -> None:
    network_id = adopted.left["pcloud_network.this"]
    group = cloud.security_group(adopted.left["pcloud_security_group.this"])
    volume = cloud.volume(adopted.left["pcloud_volume.this"])
    bucket = adopted.left["pcloud_bucket.this"]

    assert sorted(cloud.subnets(network_id)) == ["app", "data"]
    assert [(rule["FromPort"], rule["IpRanges"]) for rule in group["IpPermissions"]] == [
        (443, [{"CidrIp": "10.0.0.0/8"}])
    ]
    assert [(a["InstanceId"], a["Device"]) for a in volume["Attachments"]] == [
        (adopted.left["pcloud_instance.this"], "/dev/sdf")
    ]
    assert cloud.s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert all(cloud.s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    assert tags(cloud.vpc(network_id)) == {**DEFAULT_TAGS, "Name": "adopt-net"}


def test_plan_after_adoption_is_empty(adopted: Adopted) -> None:
    assert adopted.replan.actions == {}


# --- control: no portal:workspace default tag ----------------------------------------------------------------


@dataclass
class Control:
    left: dict[str, str]
    apply: subprocess.CompletedProcess[str]
    state: dict[str, dict[str, Any]]

    @property
    def errors(self) -> str:
        return " ".join(self.apply.stderr.split())  # Terraform wraps its messages


@pytest.fixture(scope="module")
def control(terraform_env: dict[str, str], cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> Control:
    left = leave_behind(cloud, "control", "10.70", WORKSPACE)
    workspace = workspace_for(terraform_env, tmp_path_factory)
    # The group goes into the network left behind, where its name is taken; the instance does not wait for it.
    resources = configuration(
        "control", "10.70", network_id=f'"{left["pcloud_network.this"]}"', instance_groups="null"
    )
    write(workspace, cloud, resources, CONTROL_DEFAULT_TAGS)
    workspace.init()
    applied = workspace.run("apply", "-auto-approve", check=False)
    return Control(left, applied, workspace.state())


def test_without_the_workspace_tag_a_second_network_instance_and_volume_are_made(
    control: Control, cloud: Cloud
) -> None:
    made = {address: control.state[address]["id"] for address in control.state}

    assert sorted(networks(cloud, "control-net")) == sorted(
        [control.left["pcloud_network.this"], made["pcloud_network.this"]]
    )
    assert sorted(live_instances(cloud, "control-app")) == sorted(
        [control.left["pcloud_instance.this"], made["pcloud_instance.this"]]
    )
    assert sorted(volumes(cloud, "control-data")) == sorted(
        [control.left["pcloud_volume.this"], made["pcloud_volume.this"]]
    )


def test_without_the_workspace_tag_taken_unique_names_fail_clearly(control: Control) -> None:
    network_id = control.left["pcloud_network.this"]

    assert control.apply.returncode != 0
    assert (
        'Bucket "edu-control-files" already exists and is not in this configuration\'s state'
        in control.errors
    )
    assert (
        'Database "edu-control-db" already exists and is not in this configuration\'s state' in control.errors
    )
    assert (
        f'Security group "control-web" in network {network_id} already exists and is not in this '
        "configuration's state" in control.errors
    )
    assert "pcloud_bucket.this" not in control.state
    assert "pcloud_database.this" not in control.state
