"""`terraform import` of objects made outside Terraform, for every pcloud resource.

The objects are made with boto3, imported by id into a configuration that describes them, planned (which
must change nothing the cloud can report) and destroyed. This workspace configures the provider through
PCLOUD_ENDPOINT and PCLOUD_REGION instead of the provider block.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import Any

import pytest

from tests.provider.cloud import REGION, ZONE_A, Cloud
from tests.provider.workspace import Plan, Workspace

IMAGE = "ami-04681a1dbd79675a5"
PASSWORD = "imported-password"

CONFIGURATION = f"""
resource "pcloud_network" "this" {{
  cidr_block = "10.30.0.0/16"
  name       = "imported-net"
  subnet {{
    name       = "web"
    cidr_block = "10.30.1.0/24"
    zone       = "{ZONE_A}"
  }}
}}

resource "pcloud_security_group" "this" {{
  name        = "imported-web"
  description = "Made outside Terraform"
  network_id  = pcloud_network.this.id
  ingress {{
    protocol    = "tcp"
    port        = 22
    cidr_blocks = ["10.30.0.0/16"]
  }}
}}

resource "pcloud_instance" "this" {{
  name               = "imported-app"
  image              = "{IMAGE}"
  instance_type      = "t3.micro"
  subnet_id          = pcloud_network.this.subnet_ids["web"]
  security_group_ids = [pcloud_security_group.this.id]
  tags               = {{ owner = "import" }}
}}

resource "pcloud_volume" "this" {{
  zone        = "{ZONE_A}"
  size        = 8
  instance_id = pcloud_instance.this.id
  device_name = "/dev/sdh"
}}

resource "pcloud_bucket" "this" {{
  name       = "edu-imported-files"
  versioning = true
}}

resource "pcloud_database" "this" {{
  identifier        = "edu-imported-db"
  engine            = "mysql"
  instance_class    = "db.t3.micro"
  allocated_storage = 20
  username          = "admin"
  password          = "{PASSWORD}"
}}
"""


@dataclass
class Imported:
    ids: dict[str, str]  # import id by resource address
    missing: subprocess.CompletedProcess[str]  # the import of an id the cloud does not know
    state: dict[str, dict[str, Any]]
    plan: Plan


def make_objects(cloud: Cloud) -> dict[str, str]:
    """The objects the configuration describes, made with boto3; returns their ids by address."""
    ec2 = cloud.ec2
    vpc_id = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    ec2.create_tags(Resources=[vpc_id], Tags=[{"Key": "Name", "Value": "imported-net"}])
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.30.1.0/24", AvailabilityZone=ZONE_A)["Subnet"][
        "SubnetId"
    ]
    ec2.create_tags(Resources=[subnet_id], Tags=[{"Key": "Name", "Value": "web"}])
    group_id = ec2.create_security_group(
        GroupName="imported-web", Description="Made outside Terraform", VpcId=vpc_id
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.30.0.0/16"}]}
        ],
    )
    instance_id = ec2.run_instances(
        ImageId=IMAGE,
        InstanceType="t3.micro",
        SubnetId=subnet_id,
        SecurityGroupIds=[group_id],
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [{"Key": "Name", "Value": "imported-app"}, {"Key": "owner", "Value": "import"}],
            }
        ],
    )["Instances"][0]["InstanceId"]
    volume_id = ec2.create_volume(AvailabilityZone=ZONE_A, Size=8, VolumeType="gp3")["VolumeId"]
    ec2.attach_volume(VolumeId=volume_id, InstanceId=instance_id, Device="/dev/sdh")
    cloud.s3.create_bucket(
        Bucket="edu-imported-files", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    cloud.s3.put_bucket_versioning(Bucket="edu-imported-files", VersioningConfiguration={"Status": "Enabled"})
    cloud.s3.put_bucket_encryption(
        Bucket="edu-imported-files",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    cloud.s3.put_public_access_block(
        Bucket="edu-imported-files",
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    cloud.rds.create_db_instance(
        DBInstanceIdentifier="edu-imported-db",
        Engine="mysql",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="admin",
        MasterUserPassword="password-made-elsewhere",
        BackupRetentionPeriod=7,
    )
    return {
        "pcloud_network.this": vpc_id,
        "pcloud_security_group.this": group_id,
        "pcloud_instance.this": instance_id,
        "pcloud_volume.this": volume_id,
        "pcloud_bucket.this": "edu-imported-files",
        "pcloud_database.this": "edu-imported-db",
    }


@pytest.fixture(scope="module")
def workspace(
    terraform_env: dict[str, str], cloud: Cloud, tmp_path_factory: pytest.TempPathFactory
) -> Workspace:
    env = {**terraform_env, "PCLOUD_ENDPOINT": cloud.endpoint, "PCLOUD_REGION": REGION}
    return Workspace(tmp_path_factory.mktemp("import"), env)


@pytest.fixture(scope="module")
def imported(workspace: Workspace, cloud: Cloud) -> Imported:
    ids = make_objects(cloud)
    workspace.write(CONFIGURATION)
    workspace.init()
    missing = workspace.run("import", "pcloud_instance.this", "i-0123456789abcdef0", check=False)
    for address, object_id in ids.items():
        workspace.run("import", address, object_id)
    return Imported(ids=ids, missing=missing, state=workspace.state(), plan=workspace.plan())


@pytest.fixture(scope="module")
def destroyed(imported: Imported, workspace: Workspace) -> Imported:
    workspace.run("destroy", "-auto-approve")
    return imported


def test_import_of_an_unknown_id_fails_and_says_why(imported: Imported) -> None:
    assert imported.missing.returncode != 0
    assert "the cloud has no object with id 'i-0123456789abcdef0'" in imported.missing.stderr


def test_import_records_every_object_under_its_id(imported: Imported) -> None:
    assert {address: values["id"] for address, values in imported.state.items()} == imported.ids


def test_import_reads_what_the_cloud_reports(imported: Imported, cloud: Cloud) -> None:
    network = imported.state["pcloud_network.this"]
    instance = imported.state["pcloud_instance.this"]
    database = imported.state["pcloud_database.this"]
    (subnet,) = cloud.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [network["id"]]}])["Subnets"]

    assert network["subnet_ids"] == {"web": subnet["SubnetId"]}
    assert (instance["subnet_id"], instance["state"], instance["tags"]) == (
        subnet["SubnetId"],
        "running",
        {"owner": "import"},
    )
    assert imported.state["pcloud_volume.this"]["instance_id"] == instance["id"]
    assert imported.state["pcloud_bucket.this"]["encryption"] == "AES256"
    assert (database["port"], database["password"]) == (3306, None)


def test_plan_after_import_changes_only_the_password_the_cloud_cannot_report(imported: Imported) -> None:
    database = imported.plan.changes["pcloud_database.this"]
    changed = {key for key, value in database["after"].items() if database["before"].get(key) != value}

    assert imported.plan.actions == {"pcloud_database.this": ["update"]}
    assert changed == {"password"}


@pytest.mark.parametrize(
    "address",
    [
        "pcloud_network.this",
        "pcloud_security_group.this",
        "pcloud_instance.this",
        "pcloud_volume.this",
        "pcloud_bucket.this",
        "pcloud_database.this",
    ],
)
def test_destroy_removes_imported_objects(address: str, destroyed: Imported, cloud: Cloud) -> None:
    resource_type = address.split(".")[0]
    assert not cloud.exists(resource_type, destroyed.ids[address])
