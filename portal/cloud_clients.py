"""The one place the portal builds boto3 clients: for the state store (the portal's own account, which the
audit checkpoints also use, hence here at the bottom of the import order), and for each cloud's own account."""
from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from django.conf import settings

if TYPE_CHECKING:
    from catalogue.models import Cloud

# Short timeouts and few retries: the portal asks small questions; Terraform does the long work.
CLIENT_CONFIG = Config(
    connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"}, s3={"addressing_style": "path"}
)


def state_client(service: str):
    """A client of the state store (bucket and lock table) under the portal's own credentials."""
    endpoint = settings.STATE_DYNAMODB_ENDPOINT if service == "dynamodb" else settings.STATE_ENDPOINT
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint or None,
        region_name=settings.STATE_REGION,
        aws_access_key_id=settings.STATE_ACCESS_KEY_ID or None,
        aws_secret_access_key=settings.STATE_SECRET_ACCESS_KEY or None,
        config=CLIENT_CONFIG,
    )


def cloud_client(cloud: Cloud, service: str):
    """A client of one cloud, signed with that cloud's own (decrypted) credentials."""
    credentials = cloud.get_credentials()
    if credentials is None:
        raise ValueError(f"cloud {cloud.slug} has no credentials")
    return boto3.session.Session().client(
        service,
        endpoint_url=cloud.endpoint or None,
        region_name=cloud.region,
        aws_access_key_id=credentials["access_key_id"],
        aws_secret_access_key=credentials["secret_access_key"],
        config=CLIENT_CONFIG,
    )


def local_cloud_client(service: str, *, account_id: str | None = None):
    """A client of the local moto server acting inside one account (the x-moto-account-id header).

    Only the local cloud's bootstrap uses this, to create each cloud's account and keys.
    """
    client = boto3.session.Session().client(
        service,
        endpoint_url=settings.LOCAL_CLOUD_URL,
        region_name=settings.STATE_REGION,
        aws_access_key_id="local-cloud-admin",
        aws_secret_access_key="local-cloud-admin",
        config=CLIENT_CONFIG,
    )
    if account_id:
        def add_account_header(request, **kwargs):
            request.headers["x-moto-account-id"] = account_id

        client.meta.events.register("before-sign.*.*", add_account_header)
    return client
