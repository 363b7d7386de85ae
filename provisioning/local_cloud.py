"""The local cloud: one moto server on loopback standing for every cloud of the catalogue.

Each cloud is a tenant of its own: an account whose IAM access key the portal stores encrypted on the Cloud,
so moto places everything Terraform creates for that cloud in that cloud's account. The state bucket and the
lock table live in the server's default account, under the portal's own keys. A moto server keeps nothing
across restarts, so `bootstrap` checks every stored key and makes a new one when the server forgot it.
"""
import logging
import time
from urllib.parse import urlparse

import boto3
from botocore.exceptions import ClientError, EndpointConnectionError
from django.conf import settings
from django.db import transaction

from catalogue.models import Cloud
from portal.cloud_clients import CLIENT_CONFIG, local_cloud_client
from portal.services import audit_record

from . import state_store

logger = logging.getLogger(__name__)
ACCOUNT_BASE = 100_000_000_000
IAM_USER = "portal-provisioner"


def account_id_for(cloud: Cloud) -> str:
    return str(ACCOUNT_BASE + cloud.pk)


def is_local(cloud: Cloud) -> bool:
    return cloud.endpoint.rstrip("/") == settings.LOCAL_CLOUD_URL.rstrip("/")


def wait_until_up(timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    client = local_cloud_client("sts")
    while True:
        try:
            client.get_caller_identity()
            return
        except (EndpointConnectionError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _stored_key_works(cloud: Cloud) -> bool:
    credentials = cloud.get_credentials()
    if not credentials:
        return False
    sts = boto3.session.Session().client(
        "sts",
        endpoint_url=settings.LOCAL_CLOUD_URL,
        region_name=cloud.region,
        aws_access_key_id=credentials["access_key_id"],
        aws_secret_access_key=credentials["secret_access_key"],
        config=CLIENT_CONFIG,
    )
    # moto answers an unknown key with its default account, so the account id tells whether it knows ours.
    return sts.get_caller_identity()["Account"] == cloud.account_id


def cloud_account_ensure(cloud: Cloud) -> bool:
    """Give the cloud an account and a working access key on the local server; True when keys were made."""
    account = account_id_for(cloud)
    if cloud.account_id == account and _stored_key_works(cloud):
        return False
    iam = local_cloud_client("iam", account_id=account)
    try:
        iam.create_user(UserName=IAM_USER)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
    key = iam.create_access_key(UserName=IAM_USER)["AccessKey"]
    with transaction.atomic():
        cloud.account_id = account
        cloud.set_credentials(key["AccessKeyId"], key["SecretAccessKey"])
        cloud.save(update_fields=["account_id", "credentials_token"])
        audit_record(actor=None, actor_username="local-cloud", action="cloud.credentials", obj=cloud,
                     details={"account_id": account})
    return True


def bootstrap() -> dict[str, int]:
    """Make the state store and every local cloud's account ready; safe to run again."""
    wait_until_up()
    state_store.bootstrap()
    made = 0
    clouds = [cloud for cloud in Cloud.objects.all() if is_local(cloud)]
    for cloud in clouds:
        made += cloud_account_ensure(cloud)
    return {"clouds": len(clouds), "new_keys": made}


def serve(port: int | None = None):
    """Start the moto server in this process (threaded) and return it; `stop()` ends it."""
    from moto.server import ThreadedMotoServer

    parsed = urlparse(settings.LOCAL_CLOUD_URL)
    server = ThreadedMotoServer(ip_address=parsed.hostname or "127.0.0.1", port=port or parsed.port or 5000, verbose=False)
    server.start()
    return server
