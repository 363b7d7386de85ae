"""pcloud_bucket: an object storage bucket (S3) with versioning, default encryption and public access block.

Defaults lean safe for government data: encrypted (AES256) and closed to the public unless the
configuration says otherwise. A bucket that still holds objects is only deleted with `force_destroy`.
S3 cannot tag a bucket in the call that makes it, so the tags are the first setting converge writes.
"""

from __future__ import annotations

from typing import Any

from tf.iface import Config, State
from tf.schema import Attribute, Schema
from tf.types import Bool, String
from tf.utils import Diagnostics

from pcloud_provider.resources.base import (
    SCHEMA_VERSION,
    WORKSPACE_TAG,
    CloudResource,
    absent,
    given,
    tag_dict,
    tag_list,
    tags_attributes,
    unique,
)

NO_ENCRYPTION = "none"
ENCRYPTIONS = (NO_ENCRYPTION, "AES256", "aws:kms")
BLOCK_ALL_PUBLIC_ACCESS = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
# AWS's first region takes no location constraint for a new bucket, and refuses one.
DEFAULT_REGION = "us-east-1"


class Bucket(CloudResource):
    TYPE = "bucket"
    IMPORT_DEFAULTS = {"force_destroy": False}
    SCHEMA = Schema(
        version=SCHEMA_VERSION,
        description="An object storage bucket.",
        attributes=[
            Attribute("id", String(), computed=True, description="The bucket name."),
            Attribute("name", String(), required=True, requires_replace=True, description="Globally unique."),
            Attribute("versioning", Bool(), optional=True, computed=True, default=False),
            Attribute(
                "encryption",
                String(),
                optional=True,
                computed=True,
                default="AES256",
                description='Default encryption: "none", "AES256" or "aws:kms".',
            ),
            Attribute(
                "block_public_access",
                Bool(),
                optional=True,
                computed=True,
                default=True,
                description="Block every form of public access.",
            ),
            Attribute(
                "force_destroy",
                Bool(),
                optional=True,
                computed=True,
                default=False,
                description="On destroy, delete every object and version first.",
            ),
            *tags_attributes(),
        ],
    )

    @property
    def s3(self) -> Any:
        return self.provider.client("s3")

    def _check(self, diagnostics: Diagnostics, config: Config) -> None:
        encryption = config.get("encryption")
        if given(encryption) and encryption not in ENCRYPTIONS:
            diagnostics.add_error(
                f'Encryption "{encryption}" is not one of {", ".join(ENCRYPTIONS)}', path=["encryption"]
            )

    def _create(self, planned: State) -> str:
        params: dict[str, Any] = {}
        if self.provider.region != DEFAULT_REGION:
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.provider.region}
        with unique(f'Bucket "{planned["name"]}"'):
            self.s3.create_bucket(Bucket=planned["name"], **params)
        return planned["name"]

    def _identity(self, state: State) -> str | None:
        return f'name "{state["name"]}"'

    def _find(self, planned: State, workspace: str) -> list[str]:
        # Another account's bucket of that name answers AccessDenied: not ours to adopt.
        tagging = absent(lambda: self.s3.get_bucket_tagging(Bucket=planned["name"]), also=("AccessDenied",))
        if tagging and tag_dict(tagging["TagSet"]).get(WORKSPACE_TAG) == workspace:
            return [planned["name"]]
        return []

    def _read(self, object_id: str, known: State) -> State | None:
        if absent(lambda: self.s3.head_bucket(Bucket=object_id)) is None:
            return None
        tags = absent(lambda: self.s3.get_bucket_tagging(Bucket=object_id))
        return {
            "id": object_id,
            "name": object_id,
            "versioning": self.s3.get_bucket_versioning(Bucket=object_id).get("Status") == "Enabled",
            "encryption": self._encryption(object_id),
            "block_public_access": self._blocks_public_access(object_id),
            "force_destroy": known["force_destroy"],
            **self._tags_state(tag_dict(tags["TagSet"] if tags else None), known),
        }

    def _encryption(self, object_id: str) -> str:
        found = absent(lambda: self.s3.get_bucket_encryption(Bucket=object_id))
        if not found:
            return NO_ENCRYPTION
        rule = found["ServerSideEncryptionConfiguration"]["Rules"][0]
        return rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]

    def _blocks_public_access(self, object_id: str) -> bool:
        found = absent(lambda: self.s3.get_public_access_block(Bucket=object_id))
        return bool(found) and all(
            found["PublicAccessBlockConfiguration"].get(key) for key in BLOCK_ALL_PUBLIC_ACCESS
        )

    def _converge(self, object_id: str, current: State, planned: State) -> None:
        # Tags first: they let a retried apply find a bucket whose creation was interrupted.
        wanted = self._wanted_tags(planned)
        if wanted != current["tags_all"]:
            self._set_tags(object_id, wanted)
        if planned["versioning"] != current["versioning"]:
            status = "Enabled" if planned["versioning"] else "Suspended"
            self.s3.put_bucket_versioning(Bucket=object_id, VersioningConfiguration={"Status": status})
        if planned["encryption"] != current["encryption"]:
            self._set_encryption(object_id, planned["encryption"])
        if planned["block_public_access"] != current["block_public_access"]:
            if planned["block_public_access"]:
                self.s3.put_public_access_block(
                    Bucket=object_id, PublicAccessBlockConfiguration=BLOCK_ALL_PUBLIC_ACCESS
                )
            else:
                self.s3.delete_public_access_block(Bucket=object_id)

    def _set_encryption(self, object_id: str, encryption: str) -> None:
        if encryption == NO_ENCRYPTION:
            self.s3.delete_bucket_encryption(Bucket=object_id)
            return
        self.s3.put_bucket_encryption(
            Bucket=object_id,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": encryption}}]
            },
        )

    def _set_tags(self, object_id: str, tags: dict[str, str]) -> None:
        """S3 replaces a bucket's whole tag set at once."""
        if tags:
            self.s3.put_bucket_tagging(Bucket=object_id, Tagging={"TagSet": tag_list(tags)})
        else:
            self.s3.delete_bucket_tagging(Bucket=object_id)

    def _delete(self, current: State) -> None:
        if current["force_destroy"]:
            absent(lambda: self._empty(current["id"]))
        absent(lambda: self.s3.delete_bucket(Bucket=current["id"]))

    def _empty(self, object_id: str) -> None:
        """Delete every object version and delete marker, at most 1000 per call (the API's limit)."""
        for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=object_id):
            objects = [
                {"Key": item["Key"], "VersionId": item["VersionId"]}
                for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            for start in range(0, len(objects), 1000):
                batch = objects[start : start + 1000]
                self.s3.delete_objects(Bucket=object_id, Delete={"Objects": batch, "Quiet": True})
