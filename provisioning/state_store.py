"""Terraform's remote state: the versioned bucket and the lock table, bootstrapped and read with boto3.

Terraform writes state and locks itself (S3 backend); the portal only creates the store, reads the state's
serial and lineage (to refuse a stale plan), and looks at a lock when its holder is known dead.
"""
import json

from botocore.exceptions import ClientError
from django.conf import settings

from portal.cloud_clients import state_client


def bootstrap() -> None:
    """Create the state bucket (versioned, encrypted at rest) and the lock table if they are missing; safe to
    run again."""
    s3 = state_client("s3")
    try:
        s3.head_bucket(Bucket=settings.STATE_BUCKET)
    except ClientError:
        params = {"Bucket": settings.STATE_BUCKET}
        if settings.STATE_REGION != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": settings.STATE_REGION}
        s3.create_bucket(**params)
    s3.put_bucket_versioning(Bucket=settings.STATE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    # State holds every secret a module was given (a database's password): encrypted at rest by default, and
    # the backend asks for it on each write too ("encrypt": true, provisioning.workspaces).
    s3.put_bucket_encryption(Bucket=settings.STATE_BUCKET, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}],
    })
    dynamodb = state_client("dynamodb")
    try:
        dynamodb.describe_table(TableName=settings.STATE_LOCK_TABLE)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        dynamodb.create_table(
            TableName=settings.STATE_LOCK_TABLE,
            AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )


def read_state(state_key: str) -> dict | None:
    """The current state document, or None when the workspace has none yet."""
    try:
        body = state_client("s3").get_object(Bucket=settings.STATE_BUCKET, Key=state_key)["Body"].read()
    except ClientError as exc:
        if exc.response["Error"]["Code"] in {"NoSuchKey", "404"}:
            return None
        raise
    return json.loads(body) if body else None


def state_version(state_key: str) -> tuple[int | None, str]:
    """(serial, lineage) of the current state; (None, "") when there is no state."""
    state = read_state(state_key)
    if not state:
        return None, ""
    return state.get("serial"), state.get("lineage", "")


def lock_info(state_key: str) -> dict | None:
    """The lock Terraform holds on this state, if any: {"ID": …, "Operation": …, "Who": …, "Created": …}."""
    item = state_client("dynamodb").get_item(
        TableName=settings.STATE_LOCK_TABLE,
        Key={"LockID": {"S": f"{settings.STATE_BUCKET}/{state_key}"}},
        ConsistentRead=True,
    ).get("Item")
    if not item or "Info" not in item:
        return None
    return json.loads(item["Info"]["S"])
