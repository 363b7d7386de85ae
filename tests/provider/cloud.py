"""The local cloud as the provider tests see it: where it is, its credentials, a second account with keys of
its own, and boto3 look-ups that say whether an object behind a pcloud resource exists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pcloud_provider import clients
from pcloud_provider.resources.base import absent

REGION = "cn-north-1"
ZONE_A = f"{REGION}a"
ZONE_B = f"{REGION}b"
# Any keys work for moto's default account; they only have to be present.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "provider-tests", "AWS_SECRET_ACCESS_KEY": "provider-tests-secret"}
# The provider's own credential variables; the tests start with none of them set.
PCLOUD_CREDENTIAL_VARIABLES = clients.PCLOUD_VARIABLES
# A moto account other than the default one (123456789012), standing for one cloud's tenant.
CLOUD_ACCOUNT_ID = "210987654321"


@dataclass(frozen=True)
class Cloud:
    """The local cloud, and boto3 clients to check what Terraform did to it."""

    endpoint: str

    def client(self, service: str) -> Any:
        return clients.client(service, region=REGION, endpoint=self.endpoint)

    @property
    def ec2(self) -> Any:
        return self.client("ec2")

    @property
    def s3(self) -> Any:
        return self.client("s3")

    @property
    def rds(self) -> Any:
        return self.client("rds")

    def vpc(self, vpc_id: str) -> dict[str, Any] | None:
        found = absent(lambda: self.ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"])
        return found[0] if found else None

    def subnets(self, vpc_id: str) -> dict[str, dict[str, Any]]:
        """The network's subnets by Name tag."""
        subnets = self.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
        return {tags(subnet)["Name"]: subnet for subnet in subnets}

    def security_group(self, group_id: str) -> dict[str, Any] | None:
        found = absent(lambda: self.ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"])
        return found[0] if found else None

    def instance(self, instance_id: str) -> dict[str, Any] | None:
        found = absent(lambda: self.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"])
        if not found or found[0]["Instances"][0]["State"]["Name"] == "terminated":
            return None
        return found[0]["Instances"][0]

    def volume(self, volume_id: str) -> dict[str, Any] | None:
        found = absent(lambda: self.ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"])
        return found[0] if found else None

    def bucket_exists(self, name: str) -> bool:
        return absent(lambda: self.s3.head_bucket(Bucket=name)) is not None

    def database(self, identifier: str) -> dict[str, Any] | None:
        found = absent(lambda: self.rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"])
        return found[0] if found else None

    def exists(self, resource_type: str, object_id: str) -> bool:
        """Whether the object behind a pcloud resource of this type is in the cloud."""
        lookups = {
            "pcloud_network": self.vpc,
            "pcloud_security_group": self.security_group,
            "pcloud_instance": self.instance,
            "pcloud_volume": self.volume,
            "pcloud_bucket": lambda name: self.bucket_exists(name) or None,
            "pcloud_database": self.database,
        }
        return lookups[resource_type](object_id) is not None


@dataclass(frozen=True)
class Account:
    """An account of the local cloud with an IAM access key of its own: requests it signs act in it."""

    endpoint: str
    account_id: str
    access_key: str
    secret_key: str

    @classmethod
    def create(cls, endpoint: str, account_id: str) -> Account:
        """Make an IAM user and access key inside `account_id`, addressed by moto's account header."""
        iam = _client("iam", endpoint, CREDENTIALS["AWS_ACCESS_KEY_ID"], CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
        iam.meta.events.register(
            "before-sign.iam.*",
            lambda request, **_: request.headers.__setitem__("x-moto-account-id", account_id),
        )
        iam.create_user(UserName="pcloud-provider")
        key = iam.create_access_key(UserName="pcloud-provider")["AccessKey"]
        return cls(endpoint, account_id, key["AccessKeyId"], key["SecretAccessKey"])

    @property
    def environment(self) -> dict[str, str]:
        """The variables that give the provider this account."""
        return {"PCLOUD_ACCESS_KEY_ID": self.access_key, "PCLOUD_SECRET_ACCESS_KEY": self.secret_key}

    def client(self, service: str) -> Any:
        return _client(service, self.endpoint, self.access_key, self.secret_key)


def _client(service: str, endpoint: str, access_key: str, secret_key: str) -> Any:
    """A client with explicit keys; the provider's factory takes them from the environment only."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(s3={"addressing_style": "path"}),
    )


def tags(cloud_object: dict[str, Any], key: str = "Tags") -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in cloud_object.get(key) or []}
