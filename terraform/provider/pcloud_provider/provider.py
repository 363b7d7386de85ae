"""The pcloud provider: its configuration block, where endpoint and region come from, and its resources.

The `provider "pcloud"` block takes `endpoint` and `region`, each falling back to PCLOUD_ENDPOINT and
PCLOUD_REGION (then AWS_REGION / AWS_DEFAULT_REGION), and `default_tags`, which every object the provider
creates or updates carries. Credentials are never part of the configuration: they come from
PCLOUD_ACCESS_KEY_ID / PCLOUD_SECRET_ACCESS_KEY (else the AWS_* variables) in the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from tf.iface import Config, DataSource, Provider, Resource
from tf.schema import Attribute, Schema
from tf.types import Map, String, Unknown
from tf.utils import Diagnostics

from pcloud_provider import SOURCE, TYPE_NAME, clients
from pcloud_provider.claims import Claims
from pcloud_provider.resources.base import CloudError, given
from pcloud_provider.resources.bucket import Bucket
from pcloud_provider.resources.database import Database
from pcloud_provider.resources.instance import Instance
from pcloud_provider.resources.network import Network
from pcloud_provider.resources.security_group import SecurityGroup
from pcloud_provider.resources.volume import Volume

ENDPOINT_VARIABLES = ("PCLOUD_ENDPOINT",)
REGION_VARIABLES = ("PCLOUD_REGION", "AWS_REGION", "AWS_DEFAULT_REGION")
# The Name tag is each resource's own (`name`); a default for it would fight every named resource.
RESERVED_DEFAULT_TAGS = ("Name",)


def resolve_settings(config: Config, environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(endpoint, region): the configuration's value when set, else the first environment variable set."""

    def pick(name: str, variables: tuple[str, ...]) -> str | None:
        if config.get(name):
            return config[name]
        return next((environ[variable] for variable in variables if environ.get(variable)), None)

    return pick("endpoint", ENDPOINT_VARIABLES), pick("region", REGION_VARIABLES)


def resolve_default_tags(value: Any) -> Any:
    """default_tags as configured: {} when unset, Unknown while any part is still unknown (during a plan)."""
    if value is None:
        return {}
    if not given(value) or not all(given(tag) for tag in value.values()):
        return Unknown
    return dict(value)


class PcloudProvider(Provider):
    def __init__(self) -> None:
        self.endpoint: str | None = None
        self.region: str | None = None
        # The configured default_tags; Unknown while a plan cannot know them yet.
        self.default_tags: Any = {}
        # What this process (one Terraform operation) created, adopted or is deleting.
        self.claims = Claims()

    def full_name(self) -> str:
        return SOURCE

    def get_model_prefix(self) -> str:
        return f"{TYPE_NAME}_"

    def get_provider_schema(self, diags: Diagnostics) -> Schema:
        return Schema(
            attributes=[
                Attribute(
                    "endpoint",
                    String(),
                    optional=True,
                    description="AWS-compatible API endpoint URL; default PCLOUD_ENDPOINT, else AWS's own.",
                ),
                Attribute(
                    "region",
                    String(),
                    optional=True,
                    description="Region; default PCLOUD_REGION, AWS_REGION or AWS_DEFAULT_REGION.",
                ),
                Attribute(
                    "default_tags",
                    Map(String()),
                    optional=True,
                    description="Tags for every object the provider creates or updates; a resource's own "
                    "`tags` win on a clash. With `portal:workspace` set, create adopts a live object of "
                    "that workspace with the same identity instead of making a second one.",
                ),
            ]
        )

    def validate_config(self, diags: Diagnostics, config: Config) -> None:
        endpoint = config.get("endpoint")
        if isinstance(endpoint, str) and not endpoint.startswith(("http://", "https://")):
            diags.add_error(f"endpoint {endpoint!r} is not an http:// or https:// URL", path=["endpoint"])
        default_tags = config.get("default_tags")
        for key in RESERVED_DEFAULT_TAGS:
            if given(default_tags) and key in default_tags:
                diags.add_error(
                    f'default_tags may not set "{key}"; set it on each resource instead',
                    path=["default_tags"],
                )

    def configure_provider(self, diags: Diagnostics, config: Config) -> None:
        self.endpoint, self.region = resolve_settings(config, os.environ)
        self.default_tags = resolve_default_tags(config.get("default_tags"))
        if not self.region:
            diags.add_error(
                "No region for the pcloud provider",
                "Set `region` in the provider block, or PCLOUD_REGION in the environment.",
            )
        try:
            clients.credentials_from_environment()
        except clients.CredentialsMissing as exc:
            diags.add_error("No credentials for the pcloud provider", str(exc))

    def get_data_sources(self) -> list[type[DataSource]]:
        return []

    def get_resources(self) -> list[type[Resource]]:
        return [Network, SecurityGroup, Instance, Volume, Bucket, Database]

    def applied_default_tags(self) -> dict[str, str]:
        """The default tags to write to the cloud; by apply time Terraform has resolved them."""
        if self.default_tags is Unknown:
            raise CloudError("The provider's default_tags are not known yet.")
        return self.default_tags

    def client(self, service: str) -> Any:
        """A client for this provider's cloud; resources call this, never boto3."""
        if self.region is None:
            raise RuntimeError("The provider was used before Terraform configured it.")
        return clients.client(service, region=self.region, endpoint=self.endpoint)
