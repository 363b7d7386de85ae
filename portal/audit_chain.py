"""The keyed audit chain: each event's MAC, and the signed checkpoints kept outside the database.

An event's hash is HMAC-SHA256 over its content and the previous event's hash, under AUDIT_HMAC_KEY, which the
database never holds: somebody who can write the table can change a row but cannot make its hash, or the
hashes of the rows after it, hold again. Events written before the chain was keyed carry no key id and keep
their plain SHA-256 hash.

Cutting the end off the table (or emptying it) leaves a chain that holds, so every AUDIT_CHECKPOINT_MINUTES
the portal writes a checkpoint (how many events, the last one's id and hash, HMAC-signed) to a bucket of the
state store with object lock on, where the database's users cannot reach; audit_verify compares the table
with the newest one.
"""
import hashlib
import hmac
import json
from dataclasses import dataclass, replace
from functools import lru_cache

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.utils import timezone

from .cloud_clients import state_client

# Never fewer days than this are kept: six months, the Cybersecurity Law's minimum (art. 21).
RETENTION_MIN_DAYS = 184
CHECKPOINT_KIND = "portal-audit-checkpoint"
CHECKPOINT_PREFIX = "audit-checkpoints/"
# Checkpoint names count down, so the first name a bucket lists is the newest checkpoint.
_NAME_TOP = 10**15


class CheckpointError(Exception):
    """The checkpoint store cannot be read or holds an object the audit key did not sign."""


@lru_cache(maxsize=8)
def key_id(key: str) -> str:
    """A name for a key that gives nothing of it away: which key signed an event, so rotation keeps old ones."""
    return hmac.new(key.encode(), b"portal audit key id", hashlib.sha256).hexdigest()[:16]


def current_key_id() -> str:
    return key_id(settings.AUDIT_HMAC_KEY)


def _keys() -> dict[str, str]:
    return {key_id(key): key for key in [settings.AUDIT_HMAC_KEY, *settings.AUDIT_HMAC_PREVIOUS_KEYS]}


def known_key(kid: str) -> bool:
    return kid in _keys()


def digest(canonical: bytes, kid: str) -> str:
    """The hash of an event's canonical content: HMAC under the named key, plain SHA-256 for unkeyed old rows.

    An unknown key id gives "", which no stored hash equals."""
    if not kid:
        return hashlib.sha256(canonical).hexdigest()
    key = _keys().get(kid)
    if key is None:
        return ""
    return hmac.new(key.encode(), canonical, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    """What the trail held at one moment: `count` events since the very first (purged ones included), the
    last of them `head_id` with hash `head_hash`."""

    count: int
    head_id: int
    head_hash: str
    written_at: str
    name: str = ""

    def body(self) -> dict:
        return {
            "kind": CHECKPOINT_KIND,
            "count": self.count,
            "head_id": self.head_id,
            "head_hash": self.head_hash,
            "written_at": self.written_at,
        }


def _canonical(values: dict) -> bytes:
    return json.dumps(values, sort_keys=True, separators=(",", ":")).encode()


def checkpoint_sign(checkpoint: Checkpoint) -> bytes:
    body = checkpoint.body()
    kid = current_key_id()
    signed = {**body, "key_id": kid, "mac": digest(_canonical({**body, "key_id": kid}), kid)}
    return json.dumps(signed, sort_keys=True, indent=1).encode()


def checkpoint_parse(name: str, raw: bytes) -> Checkpoint:
    """The checkpoint in a stored object, if the audit key signed it and its name is the one it was given."""
    try:
        signed = json.loads(raw)
        mac, kid = signed.pop("mac"), signed["key_id"]
        checkpoint = Checkpoint(
            count=int(signed["count"]), head_id=int(signed["head_id"]), head_hash=str(signed["head_hash"]),
            written_at=str(signed["written_at"]), name=name,
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"checkpoint {name} cannot be read: {exc}") from exc
    expected = digest(_canonical(signed), kid) if kid else ""
    if signed.get("kind") != CHECKPOINT_KIND or not expected or not hmac.compare_digest(mac, expected):
        raise CheckpointError(f"checkpoint {name} is not signed by the audit key")
    if name != checkpoint_name(checkpoint):
        raise CheckpointError(f"checkpoint {name} was stored under another name than its content gives")
    return checkpoint


def checkpoint_name(checkpoint: Checkpoint) -> str:
    return f"{CHECKPOINT_PREFIX}{_NAME_TOP - checkpoint.count:015d}-{checkpoint.head_id}.json"


def checkpoint_store_ensure(s3) -> None:
    """Create the checkpoint bucket with object lock (compliance mode) and versioning if it is missing."""
    bucket = settings.AUDIT_CHECKPOINT_BUCKET
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError:
        pass
    params = {"Bucket": bucket, "ObjectLockEnabledForBucket": True}
    if settings.STATE_REGION != "us-east-1":
        params["CreateBucketConfiguration"] = {"LocationConstraint": settings.STATE_REGION}
    s3.create_bucket(**params)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(
        Bucket=bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": settings.AUDIT_CHECKPOINT_LOCK_DAYS}},
        },
    )


def checkpoint_put(*, count: int, head_id: int, head_hash: str) -> Checkpoint:
    checkpoint = Checkpoint(
        count=count, head_id=head_id, head_hash=head_hash, written_at=timezone.now().isoformat(timespec="seconds")
    )
    s3 = state_client("s3")
    checkpoint_store_ensure(s3)
    s3.put_object(
        Bucket=settings.AUDIT_CHECKPOINT_BUCKET,
        Key=checkpoint_name(checkpoint),
        Body=checkpoint_sign(checkpoint),
        ContentType="application/json",
    )
    return replace(checkpoint, name=checkpoint_name(checkpoint))


def checkpoint_latest() -> Checkpoint | None:
    """The newest checkpoint, or None when none was written yet (or checkpoints are off).

    Raises CheckpointError when the store cannot be read, or when an object newer-named than the newest good
    checkpoint is not one the audit key signed: somebody put it there."""
    if not settings.AUDIT_CHECKPOINT_BUCKET:
        return None
    s3 = state_client("s3")
    try:
        # Versions, not the current objects: a delete marker (which object lock allows) must not hide one.
        pages = s3.get_paginator("list_object_versions").paginate(
            Bucket=settings.AUDIT_CHECKPOINT_BUCKET, Prefix=CHECKPOINT_PREFIX, PaginationConfig={"PageSize": 100}
        )
        for page in pages:
            for item in page.get("Versions", [])[:1]:
                raw = s3.get_object(
                    Bucket=settings.AUDIT_CHECKPOINT_BUCKET, Key=item["Key"], VersionId=item["VersionId"]
                )["Body"].read()
                return checkpoint_parse(item["Key"], raw)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in {"NoSuchBucket", "404"}:
            return None
        raise CheckpointError(f"the checkpoint store cannot be read: {exc}") from exc
    except BotoCoreError as exc:
        raise CheckpointError(f"the checkpoint store cannot be reached: {exc}") from exc
    return None
