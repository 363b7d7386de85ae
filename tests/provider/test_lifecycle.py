"""Every pcloud resource through its life with the real terraform binary and the local cloud.

One configuration of all six resources goes through stages, each a module-scoped fixture that builds on
the one before: created, updated in place, replaced, deleted behind Terraform's back (drift), recreated,
destroyed. The tests of a stage check, with boto3, what the stage did to the cloud. Sharing the stages
keeps the suite to a few Terraform runs; running any single test still builds the stages it needs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest

from tests.provider.cloud import REGION, ZONE_A, ZONE_B, Cloud, tags
from tests.provider.workspace import Plan, Workspace

# Two of the images moto's default image list holds in every region.
AMAZON_LINUX_2 = "ami-04681a1dbd79675a5"
UBUNTU_16_04 = "ami-785db401"

RESOURCE_TYPES = (
    "pcloud_network",
    "pcloud_security_group",
    "pcloud_instance",
    "pcloud_volume",
    "pcloud_bucket",
    "pcloud_database",
)
ADDRESSES = {resource_type: f"{resource_type}.this" for resource_type in RESOURCE_TYPES}


@dataclass(frozen=True)
class Stack:
    """The arguments that change from stage to stage; `render` turns them into the configuration."""

    network_cidr: str = "10.10.0.0/16"
    network_name: str = "edu-net"
    subnets: tuple[tuple[str, str, str], ...] = (("app", "10.10.1.0/24", ZONE_A),)
    group_name: str = "edu-web"
    ingress: tuple[tuple[int, int | None, tuple[str, ...]], ...] = (
        (443, None, ("10.0.0.0/8", "172.16.0.0/12")),
    )
    image: str = AMAZON_LINUX_2
    instance_type: str = "t3.micro"
    instance_subnet: str = "app"
    volume_zone: str = ZONE_A
    volume_size: int = 10
    device_name: str = "/dev/sdf"
    bucket_name: str = "edu-lifecycle-files"
    versioning: bool = False
    encryption: str = "AES256"
    block_public_access: bool = True
    database_identifier: str = "edu-lifecycle-db"
    instance_class: str = "db.t3.micro"
    allocated_storage: int = 20
    password: str = "first-secret-password"
    backup_retention: int = 7
    multi_az: bool = False
    owner: str = "jyt"


CREATED = Stack()
UPDATED = replace(
    CREATED,
    network_name="edu-net-renamed",
    subnets=(*CREATED.subnets, ("data", "10.10.2.0/24", ZONE_B)),
    ingress=(*CREATED.ingress, (8000, 8080, ("10.10.0.0/16",))),
    instance_type="t3.small",
    volume_size=20,
    device_name="/dev/sdg",
    versioning=True,
    encryption="aws:kms",
    block_public_access=False,
    instance_class="db.t3.small",
    allocated_storage=30,
    password="second-secret-password",
    backup_retention=3,
    multi_az=True,
    owner="rst",
)
# Each resource changes an argument it cannot change in place; the network's new CIDR block also gives
# the group, instance and volume new parents.
REPLACED = replace(
    UPDATED,
    network_cidr="10.20.0.0/16",
    subnets=(("app", "10.20.1.0/24", ZONE_A), ("data", "10.20.2.0/24", ZONE_B)),
    group_name="edu-web-2",
    image=UBUNTU_16_04,
    instance_subnet="data",
    volume_zone=ZONE_B,
    bucket_name="edu-lifecycle-files-2",
    database_identifier="edu-lifecycle-db-2",
)


def render(stack: Stack) -> str:
    subnets = "".join(
        f"""
  subnet {{
    name       = "{name}"
    cidr_block = "{cidr}"
    zone       = "{zone}"
  }}"""
        for name, cidr, zone in stack.subnets
    )
    ingress = "".join(
        f"""
  ingress {{
    protocol    = "tcp"
    port        = {port}
    to_port     = {"null" if to_port is None else to_port}
    cidr_blocks = [{", ".join(f'"{cidr}"' for cidr in cidrs)}]
  }}"""
        for port, to_port, cidrs in stack.ingress
    )
    tags = f'tags = {{ owner = "{stack.owner}" }}'
    return f"""
resource "pcloud_network" "this" {{
  cidr_block = "{stack.network_cidr}"
  name       = "{stack.network_name}"
  {tags}
  {subnets}
}}

resource "pcloud_security_group" "this" {{
  name       = "{stack.group_name}"
  network_id = pcloud_network.this.id
  {tags}
  {ingress}
}}

resource "pcloud_instance" "this" {{
  name               = "edu-app"
  image              = "{stack.image}"
  instance_type      = "{stack.instance_type}"
  subnet_id          = pcloud_network.this.subnet_ids["{stack.instance_subnet}"]
  security_group_ids = [pcloud_security_group.this.id]
  {tags}
}}

resource "pcloud_volume" "this" {{
  name        = "edu-data"
  zone        = "{stack.volume_zone}"
  size        = {stack.volume_size}
  instance_id = pcloud_instance.this.id
  device_name = "{stack.device_name}"
  {tags}
}}

resource "pcloud_bucket" "this" {{
  name                = "{stack.bucket_name}"
  versioning          = {str(stack.versioning).lower()}
  encryption          = "{stack.encryption}"
  block_public_access = {str(stack.block_public_access).lower()}
  force_destroy       = true
  {tags}
}}

resource "pcloud_database" "this" {{
  identifier        = "{stack.database_identifier}"
  engine            = "postgres"
  instance_class    = "{stack.instance_class}"
  allocated_storage = {stack.allocated_storage}
  username          = "portal"
  password          = "{stack.password}"
  backup_retention  = {stack.backup_retention}
  multi_az          = {str(stack.multi_az).lower()}
  {tags}
}}
"""


@dataclass
class Stage:
    """What one stage planned and what the state held after it."""

    plan: Plan
    state: dict[str, dict[str, Any]]
    # A plan straight after an apply must be empty, or what reads report disagrees with what was applied.
    replan: Plan | None = None

    def id(self, resource_type: str) -> str:
        return self.state[ADDRESSES[resource_type]]["id"]


def write_stack(workspace: Workspace, cloud: Cloud, stack: Stack) -> None:
    workspace.write(render(stack), provider=f'  endpoint = "{cloud.endpoint}"\n  region   = "{REGION}"')


def apply_stage(workspace: Workspace, cloud: Cloud, stack: Stack) -> Stage:
    write_stack(workspace, cloud, stack)
    plan = workspace.plan()
    workspace.apply_plan()
    return Stage(plan=plan, state=workspace.state(), replan=workspace.plan())


@pytest.fixture(scope="module")
def created(workspace: Workspace, cloud: Cloud) -> Stage:
    write_stack(workspace, cloud, CREATED)
    workspace.init()
    return apply_stage(workspace, cloud, CREATED)


@pytest.fixture(scope="module")
def updated(created: Stage, workspace: Workspace, cloud: Cloud) -> Stage:
    return apply_stage(workspace, cloud, UPDATED)


@pytest.fixture(scope="module")
def replaced(updated: Stage, workspace: Workspace, cloud: Cloud) -> Stage:
    return apply_stage(workspace, cloud, REPLACED)


@pytest.fixture(scope="module")
def drifted(replaced: Stage, workspace: Workspace, cloud: Cloud) -> Stage:
    """Delete every object behind Terraform's back, then plan."""
    cloud.ec2.detach_volume(VolumeId=replaced.id("pcloud_volume"), InstanceId=replaced.id("pcloud_instance"))
    cloud.ec2.delete_volume(VolumeId=replaced.id("pcloud_volume"))
    cloud.ec2.terminate_instances(InstanceIds=[replaced.id("pcloud_instance")])
    cloud.ec2.delete_security_group(GroupId=replaced.id("pcloud_security_group"))
    for subnet in cloud.subnets(replaced.id("pcloud_network")).values():
        cloud.ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    cloud.ec2.delete_vpc(VpcId=replaced.id("pcloud_network"))
    cloud.s3.delete_bucket(Bucket=replaced.id("pcloud_bucket"))
    cloud.rds.delete_db_instance(DBInstanceIdentifier=replaced.id("pcloud_database"), SkipFinalSnapshot=True)
    return Stage(plan=workspace.plan(), state=replaced.state)


@pytest.fixture(scope="module")
def recreated(drifted: Stage, workspace: Workspace) -> Stage:
    workspace.apply_plan()
    return Stage(plan=drifted.plan, state=workspace.state())


@pytest.fixture(scope="module")
def destroyed(recreated: Stage, workspace: Workspace, cloud: Cloud) -> Stage:
    # Put an object in the bucket: `force_destroy` must empty it, or the bucket cannot be deleted.
    cloud.s3.put_object(Bucket=recreated.id("pcloud_bucket"), Key="report.csv", Body=b"agency,cost\n")
    workspace.run("destroy", "-auto-approve")
    return Stage(plan=recreated.plan, state=recreated.state)


# --- created ------------------------------------------------------------------------------------------------


def test_create_plans_every_resource_and_a_second_plan_is_empty(created: Stage) -> None:
    assert created.plan.actions == {address: ["create"] for address in ADDRESSES.values()}
    assert created.replan.actions == {}


def test_created_network_has_its_block_name_tags_and_subnets(created: Stage, cloud: Cloud) -> None:
    vpc = cloud.vpc(created.id("pcloud_network"))
    subnets = cloud.subnets(created.id("pcloud_network"))

    assert vpc["CidrBlock"] == "10.10.0.0/16"
    assert tags(vpc) == {"Name": "edu-net", "owner": "jyt"}
    assert {name: (s["CidrBlock"], s["AvailabilityZone"]) for name, s in subnets.items()} == {
        "app": ("10.10.1.0/24", ZONE_A)
    }
    assert created.state[ADDRESSES["pcloud_network"]]["subnet_ids"] == {"app": subnets["app"]["SubnetId"]}


def test_created_security_group_admits_the_configured_sources(created: Stage, cloud: Cloud) -> None:
    group = cloud.security_group(created.id("pcloud_security_group"))

    assert group["GroupName"] == "edu-web"
    assert group["VpcId"] == created.id("pcloud_network")
    assert [
        (rule["IpProtocol"], rule["FromPort"], rule["ToPort"], sorted(r["CidrIp"] for r in rule["IpRanges"]))
        for rule in group["IpPermissions"]
    ] == [("tcp", 443, 443, ["10.0.0.0/8", "172.16.0.0/12"])]


def test_created_instance_runs_the_image_in_its_subnet_and_group(created: Stage, cloud: Cloud) -> None:
    instance = cloud.instance(created.id("pcloud_instance"))
    state = created.state[ADDRESSES["pcloud_instance"]]

    assert instance["ImageId"] == AMAZON_LINUX_2
    assert instance["InstanceType"] == "t3.micro"
    assert instance["SubnetId"] == created.state[ADDRESSES["pcloud_network"]]["subnet_ids"]["app"]
    assert [group["GroupId"] for group in instance["SecurityGroups"]] == [created.id("pcloud_security_group")]
    assert tags(instance) == {"Name": "edu-app", "owner": "jyt"}
    assert (state["private_ip"], state["state"], state["zone"]) == (
        instance["PrivateIpAddress"],
        "running",
        ZONE_A,
    )


def test_created_volume_is_attached_at_its_device(created: Stage, cloud: Cloud) -> None:
    volume = cloud.volume(created.id("pcloud_volume"))

    assert (volume["Size"], volume["VolumeType"], volume["AvailabilityZone"]) == (10, "gp3", ZONE_A)
    assert [(a["InstanceId"], a["Device"]) for a in volume["Attachments"]] == [
        (created.id("pcloud_instance"), "/dev/sdf")
    ]


def test_created_bucket_is_encrypted_private_and_tagged(created: Stage, cloud: Cloud) -> None:
    name = created.id("pcloud_bucket")
    encryption = cloud.s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]

    assert name == "edu-lifecycle-files"
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert all(cloud.s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"].values())
    assert "Status" not in cloud.s3.get_bucket_versioning(Bucket=name)
    assert tags(cloud.s3.get_bucket_tagging(Bucket=name), "TagSet") == {"owner": "jyt"}


def test_created_database_has_its_settings_and_reports_its_endpoint(created: Stage, cloud: Cloud) -> None:
    database = cloud.database(created.id("pcloud_database"))
    state = created.state[ADDRESSES["pcloud_database"]]

    assert (database["Engine"], database["DBInstanceClass"], database["AllocatedStorage"]) == (
        "postgres",
        "db.t3.micro",
        20,
    )
    assert (database["MasterUsername"], database["BackupRetentionPeriod"], database["MultiAZ"]) == (
        "portal",
        7,
        False,
    )
    assert tags(database, "TagList") == {"owner": "jyt"}
    assert (state["address"], state["port"]) == (
        database["Endpoint"]["Address"],
        database["Endpoint"]["Port"],
    )


def test_terraform_treats_the_database_password_as_sensitive(created: Stage) -> None:
    assert created.plan.changes[ADDRESSES["pcloud_database"]]["after_sensitive"]["password"] is True
    assert CREATED.password not in created.plan.output
    assert "(sensitive value)" in created.plan.output


# --- updated in place ---------------------------------------------------------------------------------------


def test_update_changes_every_resource_in_place(updated: Stage, created: Stage) -> None:
    assert updated.plan.actions == {address: ["update"] for address in ADDRESSES.values()}
    assert updated.replan.actions == {}
    assert {t: updated.id(t) for t in RESOURCE_TYPES} == {t: created.id(t) for t in RESOURCE_TYPES}


def test_updated_network_adds_a_subnet_and_keeps_the_existing_one(
    updated: Stage, created: Stage, cloud: Cloud
) -> None:
    subnets = cloud.subnets(updated.id("pcloud_network"))

    assert tags(cloud.vpc(updated.id("pcloud_network"))) == {"Name": "edu-net-renamed", "owner": "rst"}
    assert {name: s["CidrBlock"] for name, s in subnets.items()} == {
        "app": "10.10.1.0/24",
        "data": "10.10.2.0/24",
    }
    assert updated.state[ADDRESSES["pcloud_network"]]["subnet_ids"] == {
        "app": created.state[ADDRESSES["pcloud_network"]]["subnet_ids"]["app"],
        "data": subnets["data"]["SubnetId"],
    }


def test_updated_security_group_admits_the_added_port_range(updated: Stage, cloud: Cloud) -> None:
    group = cloud.security_group(updated.id("pcloud_security_group"))

    assert sorted(
        (rule["FromPort"], rule["ToPort"], sorted(r["CidrIp"] for r in rule["IpRanges"]))
        for rule in group["IpPermissions"]
    ) == [(443, 443, ["10.0.0.0/8", "172.16.0.0/12"]), (8000, 8080, ["10.10.0.0/16"])]


def test_updated_instance_is_resized_and_running_again(updated: Stage, cloud: Cloud) -> None:
    instance = cloud.instance(updated.id("pcloud_instance"))

    assert (instance["InstanceType"], instance["State"]["Name"]) == ("t3.small", "running")
    assert tags(instance) == {"Name": "edu-app", "owner": "rst"}


def test_updated_volume_grew_and_moved_to_the_new_device(updated: Stage, cloud: Cloud) -> None:
    volume = cloud.volume(updated.id("pcloud_volume"))

    assert volume["Size"] == 20
    assert [(a["InstanceId"], a["Device"]) for a in volume["Attachments"]] == [
        (updated.id("pcloud_instance"), "/dev/sdg")
    ]


def test_updated_bucket_is_versioned_kms_encrypted_and_not_blocked(updated: Stage, cloud: Cloud) -> None:
    name = updated.id("pcloud_bucket")
    encryption = cloud.s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]

    assert cloud.s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    with pytest.raises(cloud.s3.exceptions.ClientError, match="NoSuchPublicAccessBlockConfiguration"):
        cloud.s3.get_public_access_block(Bucket=name)
    assert tags(cloud.s3.get_bucket_tagging(Bucket=name), "TagSet") == {"owner": "rst"}


def test_updated_database_has_its_new_class_storage_and_backups(updated: Stage, cloud: Cloud) -> None:
    database = cloud.database(updated.id("pcloud_database"))

    assert (database["DBInstanceClass"], database["AllocatedStorage"]) == ("db.t3.small", 30)
    assert (database["BackupRetentionPeriod"], database["MultiAZ"]) == (3, True)
    assert tags(database, "TagList") == {"owner": "rst"}


# --- replaced -----------------------------------------------------------------------------------------------


def test_replacement_plans_every_resource_replaced_and_a_second_plan_is_empty(replaced: Stage) -> None:
    assert replaced.plan.actions == {address: ["delete", "create"] for address in ADDRESSES.values()}
    assert replaced.replan.actions == {}


@pytest.mark.parametrize("resource_type", RESOURCE_TYPES)
def test_replacement_leaves_a_new_object_and_removes_the_old(
    resource_type: str, replaced: Stage, updated: Stage, cloud: Cloud
) -> None:
    assert replaced.id(resource_type) != updated.id(resource_type)
    assert cloud.exists(resource_type, replaced.id(resource_type))
    assert not cloud.exists(resource_type, updated.id(resource_type))


def test_replaced_objects_carry_the_new_arguments(replaced: Stage, cloud: Cloud) -> None:
    instance = cloud.instance(replaced.id("pcloud_instance"))
    volume = cloud.volume(replaced.id("pcloud_volume"))

    assert cloud.vpc(replaced.id("pcloud_network"))["CidrBlock"] == "10.20.0.0/16"
    assert cloud.security_group(replaced.id("pcloud_security_group"))["GroupName"] == "edu-web-2"
    assert (instance["ImageId"], instance["Placement"]["AvailabilityZone"]) == (UBUNTU_16_04, ZONE_B)
    assert volume["AvailabilityZone"] == ZONE_B
    assert [a["InstanceId"] for a in volume["Attachments"]] == [replaced.id("pcloud_instance")]
    assert replaced.id("pcloud_bucket") == "edu-lifecycle-files-2"
    assert cloud.database("edu-lifecycle-db-2")["DBInstanceClass"] == "db.t3.small"


# --- drift, recreation, destruction -------------------------------------------------------------------------


def test_plan_recreates_objects_deleted_behind_terraforms_back(drifted: Stage) -> None:
    assert drifted.plan.actions == {address: ["create"] for address in ADDRESSES.values()}


@pytest.mark.parametrize("resource_type", RESOURCE_TYPES)
def test_apply_after_drift_creates_the_objects_again(
    resource_type: str, recreated: Stage, cloud: Cloud
) -> None:
    assert cloud.exists(resource_type, recreated.id(resource_type))


@pytest.mark.parametrize("resource_type", RESOURCE_TYPES)
def test_destroy_removes_every_object(resource_type: str, destroyed: Stage, cloud: Cloud) -> None:
    assert not cloud.exists(resource_type, destroyed.id(resource_type))
