"""Whose account the provider acts in when Terraform's environment holds two sets of credentials.

The portal runs Terraform with its state store's credentials in AWS_* (the S3 backend reads those) and the
cloud's own in PCLOUD_*. With both sets present, every object must land in the PCLOUD_ account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.provider.cloud import CREDENTIALS, REGION, ZONE_A, Account, Cloud
from tests.provider.workspace import Plan, Workspace

BUCKET = "edu-tenant-files"

CONFIGURATION = f"""
resource "pcloud_network" "this" {{
  cidr_block = "10.40.0.0/16"
  name       = "tenant-net"
  subnet {{
    name       = "app"
    cidr_block = "10.40.1.0/24"
    zone       = "{ZONE_A}"
  }}
}}

resource "pcloud_bucket" "this" {{
  name = "{BUCKET}"
}}
"""


@dataclass
class Applied:
    state: dict[str, dict[str, Any]]
    replan: Plan

    @property
    def network_id(self) -> str:
        return self.state["pcloud_network.this"]["id"]


@pytest.fixture(scope="module")
def applied(
    terraform_env: dict[str, str],
    cloud: Cloud,
    cloud_account: Account,
    tmp_path_factory: pytest.TempPathFactory,
) -> Applied:
    env = {**terraform_env, **CREDENTIALS, **cloud_account.environment}
    workspace = Workspace(tmp_path_factory.mktemp("credentials"), env)
    workspace.write(CONFIGURATION, provider=f'  endpoint = "{cloud.endpoint}"\n  region   = "{REGION}"')
    workspace.init()
    workspace.apply()
    return Applied(state=workspace.state(), replan=workspace.plan())


def test_objects_are_made_in_the_pcloud_account(applied: Applied, cloud_account: Account) -> None:
    vpcs = cloud_account.client("ec2").describe_vpcs(VpcIds=[applied.network_id])["Vpcs"]
    buckets = cloud_account.client("s3").list_buckets()["Buckets"]

    assert [vpc["OwnerId"] for vpc in vpcs] == [cloud_account.account_id]
    assert BUCKET in {bucket["Name"] for bucket in buckets}


def test_no_object_is_made_in_the_account_of_the_aws_variables(applied: Applied, cloud: Cloud) -> None:
    assert cloud.vpc(applied.network_id) is None
    assert BUCKET not in {bucket["Name"] for bucket in cloud.s3.list_buckets()["Buckets"]}


def test_reads_ask_the_pcloud_account_too(applied: Applied) -> None:
    # Reading in the other account would find nothing and plan to create both objects again.
    assert applied.replan.actions == {}
