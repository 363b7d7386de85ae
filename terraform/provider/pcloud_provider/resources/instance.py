"""pcloud_instance: a virtual machine (EC2 instance) in a subnet.

Changing the instance type is done in place: the instance is stopped, resized and started again. A new
image or subnet needs a new instance.
"""

from __future__ import annotations

from typing import Any

from tf.iface import PlanContext, State
from tf.schema import Attribute, Schema
from tf.types import Set, String, Unknown

from pcloud_provider.resources.base import SCHEMA_VERSION, absent, given, tags_attributes, wait
from pcloud_provider.resources.ec2 import Ec2Resource, name_attribute, split_name

# An instance in these states is gone for Terraform's purposes: it will not come back.
ENDED_STATES = ("shutting-down", "terminated")
LIVE_STATES = ("pending", "running", "stopping", "stopped")


class Instance(Ec2Resource):
    TYPE = "instance"
    TAG_RESOURCE_TYPE = "instance"
    IMPORT_DEFAULTS = {"user_data": None}
    SCHEMA = Schema(
        version=SCHEMA_VERSION,
        description="A virtual machine.",
        attributes=[
            Attribute("id", String(), computed=True, description="Instance id."),
            name_attribute(),
            Attribute("image", String(), required=True, requires_replace=True, description="Image (AMI) id."),
            Attribute(
                "instance_type", String(), required=True, description="e.g. t3.micro; resized in place."
            ),
            Attribute("subnet_id", String(), required=True, requires_replace=True),
            Attribute(
                "user_data",
                String(),
                optional=True,
                sensitive=True,
                requires_replace=True,
                description="cloud-init user data run at first boot (it may carry a password, so it is sensitive).",
            ),
            Attribute(
                "security_group_ids",
                Set(String()),
                optional=True,
                computed=True,
                description="Security groups; when unset, the cloud's choice is kept.",
            ),
            *tags_attributes(),
            Attribute("private_ip", String(), computed=True),
            Attribute("zone", String(), computed=True, description="Availability zone the instance runs in."),
            Attribute("state", String(), computed=True, description="e.g. running, stopped."),
        ],
    )

    def upgrade(self, ctx, version: int, old: State) -> State | None:
        old = super().upgrade(ctx, version, old)
        old.setdefault("user_data", None)
        return old

    def _plan(self, ctx: PlanContext, current: State | None, planned: State) -> State:
        if "instance_type" in ctx.changed_fields:
            planned["state"] = Unknown  # a resize stops the instance and starts it again
        return planned

    def _create(self, planned: State) -> str:
        params: dict[str, Any] = {}
        if given(planned["security_group_ids"]):
            params["SecurityGroupIds"] = sorted(planned["security_group_ids"])
        if given(planned.get("user_data")):
            params["UserData"] = planned["user_data"]
        instance = self.ec2.run_instances(
            ImageId=planned["image"],
            InstanceType=planned["instance_type"],
            SubnetId=planned["subnet_id"],
            MinCount=1,
            MaxCount=1,
            TagSpecifications=self._tag_specifications(planned),
            **params,
        )["Instances"][0]
        return instance["InstanceId"]

    def _await(self, object_id: str, new: bool) -> None:
        # An adopted instance may be stopped, and would never become "running" by itself.
        if new or self._state(object_id) == "pending":
            wait(self.ec2, "instance_running", InstanceIds=[object_id])

    def _state(self, object_id: str) -> str:
        reservations = self.ec2.describe_instances(InstanceIds=[object_id])["Reservations"]
        return reservations[0]["Instances"][0]["State"]["Name"]

    def _find(self, planned: State, workspace: str) -> list[str]:
        filters = [
            *self._identity_filters(planned, workspace),
            {"Name": "instance-state-name", "Values": list(LIVE_STATES)},
        ]
        reservations = self.ec2.describe_instances(Filters=filters)["Reservations"]
        return sorted(instance["InstanceId"] for found in reservations for instance in found["Instances"])

    def _read(self, object_id: str, known: State) -> State | None:
        reservations = absent(lambda: self.ec2.describe_instances(InstanceIds=[object_id])["Reservations"])
        instances = [instance for reservation in reservations or [] for instance in reservation["Instances"]]
        if not instances or instances[0]["State"]["Name"] in ENDED_STATES:
            return None
        instance = instances[0]
        name, tags = split_name(instance.get("Tags"))
        return {
            "id": object_id,
            "name": name,
            "image": instance["ImageId"],
            "instance_type": instance["InstanceType"],
            "subnet_id": instance["SubnetId"],
            # The cloud does not give user data back in a describe call; keep what was applied.
            "user_data": known.get("user_data"),
            "security_group_ids": sorted(group["GroupId"] for group in instance.get("SecurityGroups", [])),
            **self._tags_state(tags, known),
            "private_ip": instance.get("PrivateIpAddress"),
            "zone": instance["Placement"]["AvailabilityZone"],
            "state": instance["State"]["Name"],
        }

    def _converge(self, object_id: str, current: State, planned: State) -> None:
        self._converge_tags(object_id, current, planned)
        groups = planned["security_group_ids"]
        if given(groups) and set(groups) != set(current["security_group_ids"]):
            self.ec2.modify_instance_attribute(InstanceId=object_id, Groups=sorted(groups))
        if planned["instance_type"] != current["instance_type"]:
            self._resize(object_id, planned["instance_type"], restart=current["state"] == "running")

    def _resize(self, object_id: str, instance_type: str, restart: bool) -> None:
        self.ec2.stop_instances(InstanceIds=[object_id])
        wait(self.ec2, "instance_stopped", InstanceIds=[object_id])
        self.ec2.modify_instance_attribute(InstanceId=object_id, InstanceType={"Value": instance_type})
        if restart:
            self.ec2.start_instances(InstanceIds=[object_id])
            wait(self.ec2, "instance_running", InstanceIds=[object_id])

    def _delete(self, current: State) -> None:
        if absent(lambda: self.ec2.terminate_instances(InstanceIds=[current["id"]])) is not None:
            wait(self.ec2, "instance_terminated", InstanceIds=[current["id"]])
