"""pcloud_network: a VPC and its named subnets; `subnet_ids` maps each subnet name to its id.

Subnets are part of the network rather than resources of their own, so a service module describes its
whole network in one block. The subnet list is authoritative: subnets the configuration does not name,
including ones added outside Terraform, are deleted on the next apply. Subnets carry the provider's default
tags and their name as the Name tag; the default tags are written when a subnet is made and again whenever
the network is updated.
"""

from __future__ import annotations

from typing import Any

from tf.blocks import SetNestedBlock
from tf.iface import Config, PlanContext, State
from tf.schema import Attribute, Block, Schema
from tf.types import Map, String, Unknown
from tf.utils import Diagnostics

from pcloud_provider.resources.base import (
    SCHEMA_VERSION,
    absent,
    given,
    known_blocks,
    tag_dict,
    tag_list,
    tags_attributes,
    wait,
)
from pcloud_provider.resources.ec2 import NAME_TAG, Ec2Resource, name_attribute, split_name

SUBNET = Block(
    attributes=[
        Attribute(
            "name", String(), required=True, description="Unique in the network; kept as the Name tag."
        ),
        Attribute("cidr_block", String(), required=True, description="Inside the network's CIDR block."),
        Attribute("zone", String(), required=True, description="Availability zone, e.g. cn-north-1a."),
    ]
)


class Network(Ec2Resource):
    TYPE = "network"
    TAG_RESOURCE_TYPE = "vpc"
    SCHEMA = Schema(
        version=SCHEMA_VERSION,
        description="A private network (VPC) with named subnets.",
        attributes=[
            Attribute("id", String(), computed=True, description="VPC id."),
            Attribute("cidr_block", String(), required=True, requires_replace=True),
            name_attribute(),
            *tags_attributes(),
            Attribute("subnet_ids", Map(String()), computed=True, description="Subnet id by subnet name."),
        ],
        block_types=[SetNestedBlock("subnet", SUBNET)],
    )

    def _check(self, diagnostics: Diagnostics, config: Config) -> None:
        super()._check(diagnostics, config)
        names = [subnet["name"] for subnet in known_blocks(config, "subnet") if given(subnet["name"])]
        for name in sorted({name for name in names if names.count(name) > 1}):
            diagnostics.add_error(f'Two subnets are named "{name}"', path=["subnet"])

    def _plan(self, ctx: PlanContext, current: State | None, planned: State) -> State:
        planned["subnet_ids"] = _planned_subnet_ids(current, planned)
        return planned

    def _create(self, planned: State) -> str:
        return self.ec2.create_vpc(
            CidrBlock=planned["cidr_block"], TagSpecifications=self._tag_specifications(planned)
        )["Vpc"]["VpcId"]

    def _await(self, object_id: str, new: bool) -> None:
        wait(self.ec2, "vpc_available", VpcIds=[object_id])

    def _find(self, planned: State, workspace: str) -> list[str]:
        vpcs = self.ec2.describe_vpcs(Filters=self._identity_filters(planned, workspace))["Vpcs"]
        return sorted(vpc["VpcId"] for vpc in vpcs)

    def _read(self, object_id: str, known: State) -> State | None:
        vpcs = absent(lambda: self.ec2.describe_vpcs(VpcIds=[object_id])["Vpcs"])
        if not vpcs:
            return None
        name, tags = split_name(vpcs[0].get("Tags"))
        subnets = {_subnet_name(subnet): subnet for subnet in self._subnets(object_id)}
        return {
            "id": object_id,
            "cidr_block": vpcs[0]["CidrBlock"],
            "name": name,
            **self._tags_state(tags, known),
            "subnet_ids": {name: subnet["SubnetId"] for name, subnet in subnets.items()},
            "subnet": [
                {"name": name, "cidr_block": subnet["CidrBlock"], "zone": subnet["AvailabilityZone"]}
                for name, subnet in subnets.items()
            ],
        }

    def _converge(self, object_id: str, current: State, planned: State) -> None:
        self._converge_tags(object_id, current, planned)
        defaults = self.provider.applied_default_tags()
        have = {subnet["name"]: subnet for subnet in current["subnet"]}
        want = {subnet["name"]: subnet for subnet in planned["subnet"]}
        # Delete first: a subnet moving to another zone keeps its CIDR block, which must be free again.
        for name, subnet in have.items():
            if want.get(name) != subnet:
                self.ec2.delete_subnet(SubnetId=current["subnet_ids"][name])
        if defaults:
            self._retag_subnets(object_id, {name for name in have if want.get(name) == have[name]}, defaults)
        for name, subnet in want.items():
            if have.get(name) != subnet:
                created = self.ec2.create_subnet(
                    VpcId=object_id,
                    CidrBlock=subnet["cidr_block"],
                    AvailabilityZone=subnet["zone"],
                    TagSpecifications=[
                        {"ResourceType": "subnet", "Tags": tag_list({**defaults, NAME_TAG: name})}
                    ],
                )
                wait(self.ec2, "subnet_available", SubnetIds=[created["Subnet"]["SubnetId"]])

    def _retag_subnets(self, vpc_id: str, kept: set[str], defaults: dict[str, str]) -> None:
        """Give the subnets that stay the current default tags (other tags on a subnet are left alone)."""
        for subnet in self._subnets(vpc_id):
            tags = tag_dict(subnet.get("Tags"))
            changed = {key: value for key, value in defaults.items() if tags.get(key) != value}
            if _subnet_name(subnet) in kept and changed:
                self.ec2.create_tags(Resources=[subnet["SubnetId"]], Tags=tag_list(changed))

    def _delete(self, current: State) -> None:
        for subnet in self._subnets(current["id"]):
            absent(lambda subnet_id=subnet["SubnetId"]: self.ec2.delete_subnet(SubnetId=subnet_id))
        absent(lambda: self.ec2.delete_vpc(VpcId=current["id"]))

    def _subnets(self, vpc_id: str) -> list[dict[str, Any]]:
        return self.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]


def _subnet_name(subnet: dict[str, Any]) -> str:
    """A subnet's Name tag; a subnet made outside Terraform without one goes by its id."""
    name, _ = split_name(subnet.get("Tags"))
    return name or subnet["SubnetId"]


def _planned_subnet_ids(current: State | None, planned: State) -> Any:
    """Keep the ids of subnets that stay as they are, so instances in them are not replaced needlessly."""
    subnets = planned["subnet"]
    if current is None or not given(subnets) or not all(given(subnet["name"]) for subnet in subnets):
        return Unknown
    have = {subnet["name"]: subnet for subnet in current["subnet"]}
    return {
        subnet["name"]: current["subnet_ids"][subnet["name"]]
        if have.get(subnet["name"]) == subnet
        else Unknown
        for subnet in subnets
    }
