"""pcloud_volume: a block storage volume (EBS), optionally attached to an instance.

Size and type change in place (a volume can only grow); attaching, detaching and moving the volume to
another instance or device happen in place too. A volume cannot leave its availability zone.
"""

from __future__ import annotations

from typing import Any

from tf.iface import Config, PlanContext, State
from tf.schema import Attribute, Schema
from tf.types import Number, String
from tf.utils import Diagnostics

from pcloud_provider.resources.base import (
    SCHEMA_VERSION,
    CloudError,
    absent,
    check_whole,
    given,
    poll,
    tags_attributes,
    wait,
)
from pcloud_provider.resources.ec2 import Ec2Resource, name_attribute, split_name

DEFAULT_TYPE = "gp3"
MAX_SIZE_GIB = 65536
# Attachment states that still tie the volume to an instance.
ATTACHED_STATES = ("attaching", "attached")
LIVE_STATES = ("creating", "available", "in-use")


class Volume(Ec2Resource):
    TYPE = "volume"
    TAG_RESOURCE_TYPE = "volume"
    SCHEMA = Schema(
        version=SCHEMA_VERSION,
        description="A block storage volume.",
        attributes=[
            Attribute("id", String(), computed=True, description="Volume id."),
            name_attribute(),
            Attribute(
                "zone", String(), required=True, requires_replace=True, description="Availability zone."
            ),
            Attribute("size", Number(), required=True, description="Size in GiB; can only grow."),
            Attribute(
                "type", String(), optional=True, computed=True, default=DEFAULT_TYPE, description="e.g. gp3."
            ),
            Attribute(
                "instance_id", String(), optional=True, description="Instance to attach the volume to."
            ),
            Attribute(
                "device_name", String(), optional=True, description="e.g. /dev/sdf; set with instance_id."
            ),
            *tags_attributes(),
        ],
    )

    def _check(self, diagnostics: Diagnostics, config: Config) -> None:
        super()._check(diagnostics, config)
        if (config.get("instance_id") is None) != (config.get("device_name") is None):
            diagnostics.add_error("Set instance_id and device_name together", path=["device_name"])
        check_whole(diagnostics, config, "size", 1, MAX_SIZE_GIB)

    def _plan(self, ctx: PlanContext, current: State | None, planned: State) -> State:
        if current and given(planned["size"]) and planned["size"] < current["size"]:
            ctx.diagnostics.add_error(
                f"A volume cannot shrink from {current['size']} to {planned['size']} GiB",
                "Create a new volume and copy the data instead.",
                path=["size"],
            )
        return planned

    def _create(self, planned: State) -> str:
        return self.ec2.create_volume(
            AvailabilityZone=planned["zone"],
            Size=planned["size"],
            VolumeType=planned["type"],
            TagSpecifications=self._tag_specifications(planned),
        )["VolumeId"]

    def _await(self, object_id: str, new: bool) -> None:
        # An adopted volume may already be attached ("in-use"), and would never become "available".
        if new or self.ec2.describe_volumes(VolumeIds=[object_id])["Volumes"][0]["State"] == "creating":
            wait(self.ec2, "volume_available", VolumeIds=[object_id])

    def _find(self, planned: State, workspace: str) -> list[str]:
        filters = [
            *self._identity_filters(planned, workspace),
            {"Name": "status", "Values": list(LIVE_STATES)},
        ]
        return sorted(volume["VolumeId"] for volume in self.ec2.describe_volumes(Filters=filters)["Volumes"])

    def _read(self, object_id: str, known: State) -> State | None:
        volumes = absent(lambda: self.ec2.describe_volumes(VolumeIds=[object_id])["Volumes"])
        if not volumes or volumes[0]["State"] in ("deleting", "deleted"):
            return None
        volume = volumes[0]
        attachment = _attachment(volume)
        name, tags = split_name(volume.get("Tags"))
        return {
            "id": object_id,
            "name": name,
            "zone": volume["AvailabilityZone"],
            "size": volume["Size"],
            "type": volume["VolumeType"],
            "instance_id": attachment["InstanceId"] if attachment else None,
            "device_name": attachment["Device"] if attachment else None,
            **self._tags_state(tags, known),
        }

    def _converge(self, object_id: str, current: State, planned: State) -> None:
        self._converge_tags(object_id, current, planned)
        changes: dict[str, Any] = {}
        if planned["size"] != current["size"]:
            changes["Size"] = planned["size"]
        if planned["type"] != current["type"]:
            changes["VolumeType"] = planned["type"]
        if changes:
            self.ec2.modify_volume(VolumeId=object_id, **changes)
            poll(lambda: self._modified(object_id), f"volume {object_id} to take its new size and type")
        wanted = (planned["instance_id"], planned["device_name"])
        if (current["instance_id"], current["device_name"]) != wanted:
            if current["instance_id"] is not None:
                self._detach(object_id, current["instance_id"])
            if planned["instance_id"] is not None:
                self.ec2.attach_volume(
                    VolumeId=object_id, InstanceId=planned["instance_id"], Device=planned["device_name"]
                )
                wait(self.ec2, "volume_in_use", VolumeIds=[object_id])

    def _modified(self, object_id: str) -> bool:
        """True once the cloud reports the new size and type (the volume may still be optimizing)."""
        modifications = self.ec2.describe_volumes_modifications(VolumeIds=[object_id])["VolumesModifications"]
        latest = max(modifications, key=lambda modification: modification["StartTime"])
        if latest["ModificationState"] == "failed":
            raise CloudError(f"Volume {object_id} could not be modified: {latest.get('StatusMessage', '')}")
        return latest["ModificationState"] in ("optimizing", "completed")

    def _detach(self, object_id: str, instance_id: str) -> None:
        self.ec2.detach_volume(VolumeId=object_id, InstanceId=instance_id)
        wait(self.ec2, "volume_available", VolumeIds=[object_id])

    def _delete(self, current: State) -> None:
        volumes = absent(lambda: self.ec2.describe_volumes(VolumeIds=[current["id"]])["Volumes"])
        if not volumes:
            return
        attachment = _attachment(volumes[0])
        if attachment:
            self._detach(current["id"], attachment["InstanceId"])
        absent(lambda: self.ec2.delete_volume(VolumeId=current["id"]))


def _attachment(volume: dict[str, Any]) -> dict[str, Any] | None:
    attachments = [item for item in volume.get("Attachments", []) if item["State"] in ATTACHED_STATES]
    return attachments[0] if attachments else None
