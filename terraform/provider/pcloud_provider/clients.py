"""The one place that builds boto3 clients.

boto3 is imported on the first call, not at import time: Terraform starts the provider several times per
plan or apply, and most of those processes only answer schema questions. Credentials come from the
environment and nowhere else, never from Terraform configuration, and are never logged.

The provider's credentials are PCLOUD_ACCESS_KEY_ID / PCLOUD_SECRET_ACCESS_KEY (and PCLOUD_SESSION_TOKEN),
because the portal runs Terraform with the S3 state backend's own credentials in the AWS_* variables. The
AWS_* variables are used only when no PCLOUD_ credential variable is present at all.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

_lock = threading.Lock()
_session: Any = None
_clients: dict[tuple[str, str, str | None, str], Any] = {}

PCLOUD_VARIABLES = ("PCLOUD_ACCESS_KEY_ID", "PCLOUD_SECRET_ACCESS_KEY", "PCLOUD_SESSION_TOKEN")
AWS_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


class CredentialsMissing(Exception):
    """The environment holds no usable cloud credentials."""


def credentials_from_environment(
    environ: Mapping[str, str] = os.environ,
) -> tuple[str, str, str | None]:
    """Return (access key id, secret access key, session token) from the PCLOUD_* or else the AWS_* variables.

    Once any PCLOUD_ credential variable is present, even empty, the set must be complete: falling back to
    AWS_* then would act in the state store's account instead of the cloud's.
    """
    variables = PCLOUD_VARIABLES if any(name in environ for name in PCLOUD_VARIABLES) else AWS_VARIABLES
    key_variable, secret_variable, token_variable = variables
    access_key, secret_key = environ.get(key_variable), environ.get(secret_variable)
    if not access_key or not secret_key:
        if variables is PCLOUD_VARIABLES:
            raise CredentialsMissing(
                f"Set both {key_variable} and {secret_variable} (non-empty) in the environment Terraform "
                "runs in. Once a PCLOUD_ credential variable is present, the pcloud provider does not fall "
                "back to AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY."
            )
        raise CredentialsMissing(
            "Set PCLOUD_ACCESS_KEY_ID and PCLOUD_SECRET_ACCESS_KEY (or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY) in the environment Terraform runs in; the pcloud provider takes "
            "credentials from nowhere else."
        )
    # Never a token of the other set: AWS_SESSION_TOKEN belongs to the state store's credentials.
    return access_key, secret_key, environ.get(token_variable) or None


def client(service: str, *, region: str, endpoint: str | None = None) -> Any:
    """A boto3 client for `service` ("ec2", "s3", "rds"), built once per process and then reused."""
    access_key, secret_key, token = credentials_from_environment()
    key = (service, region, endpoint, access_key)
    with _lock:  # Terraform applies resources in parallel threads, and a boto3 Session is not thread-safe.
        if key not in _clients:
            _clients[key] = _new_client(service, region, endpoint, access_key, secret_key, token)
        return _clients[key]


def _new_client(
    service: str, region: str, endpoint: str | None, access_key: str, secret_key: str, token: str | None
) -> Any:
    global _session
    import boto3
    from botocore.config import Config

    from pcloud_provider import VERSION

    if _session is None:
        # One session per process: its loaders cache the service models, so the second client is cheap.
        _session = boto3.session.Session()
    return _session.client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        aws_session_token=token,
        config=Config(
            user_agent_extra=f"terraform-provider-pcloud/{VERSION}",
            retries={"mode": "standard", "max_attempts": 5},
            # AWS-compatible clouds seldom serve a DNS name per bucket; AWS itself prefers its own style.
            s3={"addressing_style": "path" if endpoint else "auto"},
        ),
    )
