"""Shared by the EC2-backed resources: the `name` argument kept as the Name tag, tags set at creation, tag
updates, and the filters that find a workspace's object by name."""

from __future__ import annotations

from typing import Any, ClassVar

from tf.iface import Config, State
from tf.schema import Attribute
from tf.types import String
from tf.utils import Diagnostics

from pcloud_provider.resources.base import (
    WORKSPACE_TAG,
    CloudResource,
    given,
    tag_dict,
    tag_list,
    update_tags,
)

NAME_TAG = "Name"


def name_attribute() -> Attribute:
    return Attribute("name", String(), optional=True, description="Display name, kept as the Name tag.")


def split_name(cloud_tags: list[dict[str, str]] | None) -> tuple[str | None, dict[str, str]]:
    """Split an EC2 tag list into the Name tag and the other tags."""
    tags = tag_dict(cloud_tags)
    return tags.pop(NAME_TAG, None), tags


def tag_filters(tags: dict[str, str]) -> list[dict[str, Any]]:
    """Describe* filters matching objects that carry all of `tags`."""
    return [{"Name": f"tag:{key}", "Values": [value]} for key, value in sorted(tags.items())]


class Ec2Resource(CloudResource):
    """An EC2 object, by default with its `name` argument kept as its Name tag."""

    # A security group has a name of its own, so its tags are only what `tags` says.
    NAME_IS_TAG: ClassVar[bool] = True
    # The TagSpecifications resource type for tags given at creation.
    TAG_RESOURCE_TYPE: ClassVar[str]

    @property
    def ec2(self) -> Any:
        return self.provider.client("ec2")

    def _check(self, diagnostics: Diagnostics, config: Config) -> None:
        tags = config.get("tags")
        if self.NAME_IS_TAG and given(tags) and NAME_TAG in tags:
            diagnostics.add_error(f'Set the "{NAME_TAG}" tag through the `name` argument', path=["tags"])

    def _identity(self, state: State) -> str | None:
        if self.NAME_IS_TAG and given(state["name"]):
            return f'{NAME_TAG} "{state["name"]}"'
        return None

    def _identity_filters(self, planned: State, workspace: str) -> list[dict[str, Any]]:
        """Filters for objects of the workspace named as planned."""
        return tag_filters({WORKSPACE_TAG: workspace, NAME_TAG: planned["name"]})

    def _tag_specifications(self, planned: State) -> list[dict[str, Any]]:
        """TagSpecifications for the create call: an object made by an interrupted apply is still findable."""
        tags = self._named(self._wanted_tags(planned), planned)
        return [{"ResourceType": self.TAG_RESOURCE_TYPE, "Tags": tag_list(tags)}] if tags else []

    def _converge_tags(self, object_id: str, current: State, planned: State) -> None:
        update_tags(
            self._named(current["tags_all"], current),
            self._named(self._wanted_tags(planned), planned),
            put=lambda tags: self.ec2.create_tags(Resources=[object_id], Tags=tag_list(tags)),
            remove=lambda keys: self.ec2.delete_tags(
                Resources=[object_id], Tags=[{"Key": key} for key in keys]
            ),
        )

    def _named(self, tags: dict[str, str], state: State) -> dict[str, str]:
        """`tags` plus the Name tag kept from `name`."""
        tags = dict(tags)
        if self.NAME_IS_TAG and state["name"] is not None:
            tags[NAME_TAG] = state["name"]
        return tags
