"""pcloud_security_group: a security group in a network and its ingress rules.

The `ingress` blocks are authoritative for rules that admit CIDR blocks: rules added outside Terraform show
up as drift and are revoked on the next apply. Egress keeps the cloud's default (all traffic allowed).
"""

from __future__ import annotations

from typing import Any

from tf.blocks import SetNestedBlock
from tf.iface import Config, State
from tf.schema import Attribute, Block, Schema
from tf.types import Number, Set, String
from tf.utils import Diagnostics

from pcloud_provider.resources.base import (
    SCHEMA_VERSION,
    WORKSPACE_TAG,
    absent,
    given,
    known_blocks,
    tag_dict,
    tags_attributes,
    unique,
)
from pcloud_provider.resources.ec2 import Ec2Resource, tag_filters

PROTOCOLS = ("tcp", "udp")
DEFAULT_DESCRIPTION = "Managed by the cloud portal"

RULE = Block(
    attributes=[
        Attribute("protocol", String(), required=True, description='"tcp" or "udp".'),
        Attribute("port", Number(), required=True, description="The port, or the first port of a range."),
        Attribute(
            "to_port", Number(), optional=True, description="The last port of a range; unset for one port."
        ),
        Attribute("cidr_blocks", Set(String()), required=True, description="Sources admitted."),
    ]
)

# One permission as the cloud stores it: (protocol, first port, last port, source CIDR block).
Permission = tuple[str, int, int, str]


class SecurityGroup(Ec2Resource):
    TYPE = "security_group"
    NAME_IS_TAG = False
    TAG_RESOURCE_TYPE = "security-group"
    SCHEMA = Schema(
        version=SCHEMA_VERSION,
        description="A security group with CIDR-based ingress rules.",
        attributes=[
            Attribute("id", String(), computed=True, description="Security group id."),
            Attribute(
                "name", String(), required=True, requires_replace=True, description="Unique in the network."
            ),
            Attribute(
                "description",
                String(),
                optional=True,
                computed=True,
                requires_replace=True,
                default=DEFAULT_DESCRIPTION,
            ),
            Attribute(
                "network_id", String(), required=True, requires_replace=True, description="pcloud_network id."
            ),
            *tags_attributes(),
        ],
        block_types=[SetNestedBlock("ingress", RULE)],
    )

    def _check(self, diagnostics: Diagnostics, config: Config) -> None:
        super()._check(diagnostics, config)
        seen: set[tuple[Any, Any, Any]] = set()
        for rule in known_blocks(config, "ingress"):
            for problem in _rule_problems(rule):
                diagnostics.add_error(problem, path=["ingress"])
            # The cloud keeps one rule per protocol and port range, so two such blocks could never match it.
            key = (rule["protocol"], rule["port"], rule["to_port"])
            if all(given(value) or value is None for value in key):
                if key in seen:
                    diagnostics.add_error(
                        f"Two ingress blocks for {rule['protocol']} port {rule['port']}; "
                        "list all their CIDR blocks in one",
                        path=["ingress"],
                    )
                seen.add(key)

    def _create(self, planned: State) -> str:
        with unique(f'Security group "{planned["name"]}" in network {planned["network_id"]}'):
            return self.ec2.create_security_group(
                GroupName=planned["name"],
                Description=planned["description"],
                VpcId=planned["network_id"],
                TagSpecifications=self._tag_specifications(planned),
            )["GroupId"]

    def _identity(self, state: State) -> str | None:
        return f'name "{state["name"]}" in network {state["network_id"]}'

    def _find(self, planned: State, workspace: str) -> list[str]:
        filters = [
            {"Name": "group-name", "Values": [planned["name"]]},
            {"Name": "vpc-id", "Values": [planned["network_id"]]},
            *tag_filters({WORKSPACE_TAG: workspace}),
        ]
        groups = self.ec2.describe_security_groups(Filters=filters)["SecurityGroups"]
        return sorted(group["GroupId"] for group in groups)

    def _read(self, object_id: str, known: State) -> State | None:
        groups = absent(lambda: self.ec2.describe_security_groups(GroupIds=[object_id])["SecurityGroups"])
        if not groups:
            return None
        group = groups[0]
        return {
            "id": object_id,
            "name": group["GroupName"],
            "description": group["Description"],
            "network_id": group["VpcId"],
            **self._tags_state(tag_dict(group.get("Tags")), known),
            "ingress": _rules(group.get("IpPermissions", [])),
        }

    def _converge(self, object_id: str, current: State, planned: State) -> None:
        self._converge_tags(object_id, current, planned)
        have, want = _permissions(current["ingress"]), _permissions(planned["ingress"])
        if have - want:
            self.ec2.revoke_security_group_ingress(
                GroupId=object_id, IpPermissions=_ip_permissions(have - want)
            )
        if want - have:
            self.ec2.authorize_security_group_ingress(
                GroupId=object_id, IpPermissions=_ip_permissions(want - have)
            )

    def _delete(self, current: State) -> None:
        absent(lambda: self.ec2.delete_security_group(GroupId=current["id"]))


def _rule_problems(rule: dict[str, Any]) -> list[str]:
    protocol, port, to_port = rule["protocol"], rule["port"], rule["to_port"]
    problems = []
    if given(protocol) and protocol not in PROTOCOLS:
        problems.append(f'Protocol "{protocol}" is not one of {", ".join(PROTOCOLS)}')
    for value in (port, to_port):
        if given(value) and (value != int(value) or not 0 <= value <= 65535):
            problems.append(f"Port {value} is not a whole number from 0 to 65535")
    if given(port) and given(to_port) and to_port < port:
        problems.append(f"to_port {to_port} is below port {port}")
    # The cloud reports a one-port rule without a range, so `to_port = port` would differ from it forever.
    if given(port) and given(to_port) and to_port == port:
        problems.append(f"to_port equals port {port}; leave to_port unset for a single port")
    return problems


def _rules(ip_permissions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cloud's permissions as `ingress` blocks, one per protocol and port range."""
    sources: dict[tuple[str, int, int], set[str]] = {}
    for permission in ip_permissions:
        cidrs = {ip_range["CidrIp"] for ip_range in permission.get("IpRanges", [])}
        if cidrs:
            key = (permission["IpProtocol"], permission.get("FromPort", -1), permission.get("ToPort", -1))
            sources.setdefault(key, set()).update(cidrs)
    return [
        {
            "protocol": protocol,
            "port": first,
            "to_port": None if last == first else last,
            "cidr_blocks": sorted(cidrs),
        }
        for (protocol, first, last), cidrs in sorted(sources.items())
    ]


def _permissions(rules: list[dict[str, Any]]) -> set[Permission]:
    return {
        (rule["protocol"], rule["port"], rule["port"] if rule["to_port"] is None else rule["to_port"], cidr)
        for rule in rules
        for cidr in rule["cidr_blocks"]
    }


def _ip_permissions(permissions: set[Permission]) -> list[dict[str, Any]]:
    ip_permissions = []
    for protocol, first, last, cidr in sorted(permissions):
        permission: dict[str, Any] = {"IpProtocol": protocol, "IpRanges": [{"CidrIp": cidr}]}
        # Rules for all protocols ("-1") can only come from outside Terraform, and carry no ports.
        if protocol != "-1":
            permission.update(FromPort=first, ToPort=last)
        ip_permissions.append(permission)
    return ip_permissions
