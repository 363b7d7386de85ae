"""The audit tamper suite, on PostgreSQL: what an attacker with the database's keys (but not the audit key)
can do to the trail, and that each attempt is refused or named by audit_verify.

The attacker's writes go around the trigger the way a superuser can (session_replication_role = replica);
checkpoints land in a bucket of the local cloud (a real moto server), as they do in the embedded mode.
"""
import hashlib
import json
import uuid
from datetime import timedelta
from unittest import mock

import pytest
from botocore.exceptions import ClientError
from django.core.management import CommandError, call_command
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from portal import audit_chain
from portal.cloud_clients import state_client
from portal.management.commands.db_app_role import app_role_grants
from portal.models import AuditEvent
from portal.services import audit_checkpoint_write, audit_purge, audit_record, audit_verify
from portal.tasks import audit_checkpoint

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger and the roles are PostgreSQL's"),
]


@pytest.fixture
def checkpoint_bucket(settings, cloud_server):
    """A fresh checkpoint bucket of this test's own on the local cloud's state store."""
    settings.STATE_ENDPOINT = cloud_server
    settings.AUDIT_CHECKPOINT_BUCKET = f"audit-checkpoints-{uuid.uuid4().hex[:12]}"
    return settings.AUDIT_CHECKPOINT_BUCKET


def s3():
    return state_client("s3")


def trail(actor, n: int) -> list[AuditEvent]:
    return [audit_record(actor=actor, action=f"test.step{i}", details={"i": i}) for i in range(n)]


def around_the_trigger(sql: str, params=None) -> None:
    """What a superuser (or the owner, who can disable the trigger) can do to the table."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")


def forge_hash(event: AuditEvent) -> str:
    """The best an attacker without the audit key can do: the hash under a key of their own."""
    with mock.patch.object(audit_chain, "_keys", return_value={event.key_id: "attacker-key-" + "x" * 40}):
        return event.compute_hash()


def rehash_from(event_id: int, details: dict) -> None:
    """Rewrite one event and re-hash it and every later one, so that the chain links again."""
    previous = AuditEvent.objects.filter(id__lt=event_id).order_by("-id").values_list("hash", flat=True).first() or ""
    for event in AuditEvent.objects.filter(id__gte=event_id).order_by("id"):
        if event.pk == event_id:
            event.details = details
        event.prev_hash = previous
        event.hash = forge_hash(event)
        around_the_trigger(
            "UPDATE portal_auditevent SET details = %s, prev_hash = %s, hash = %s WHERE id = %s",
            [json.dumps(event.details, cls=DjangoJSONEncoder), event.prev_hash, event.hash, event.pk],
        )
        previous = event.hash


def assert_verify_names(event_id: int, words: str) -> None:
    result = audit_verify()
    assert not result.intact and result.broken_id == event_id, result.problem
    assert words in result.problem
    with pytest.raises(CommandError) as error:
        call_command("audit_verify")
    assert f"broken at event {event_id}" in str(error.value)


# --- the trigger ---------------------------------------------------------------------------------------------


def test_update_delete_and_truncate_are_refused(requester):
    event = audit_record(actor=requester, action="test.one")
    for sql in (
        "UPDATE portal_auditevent SET action = 'changed' WHERE id = %s",
        "DELETE FROM portal_auditevent WHERE id = %s",
        "TRUNCATE portal_auditevent",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's open foreign-key checks would block TRUNCATE
                cursor.execute("SET LOCAL portal.audit_allow_truncate = 'off'")  # tests/conftest.py turns it on
                cursor.execute(sql, [event.pk] if "%s" in sql else None)
    assert AuditEvent.objects.filter(pk=event.pk, action="test.one").exists()


def test_the_purge_flag_does_not_open_young_events(requester):
    event = audit_record(actor=requester, action="test.one")
    with pytest.raises(DatabaseError, match="younger than 184 days"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL portal.audit_purge = 'on'")
            cursor.execute("DELETE FROM portal_auditevent WHERE id = %s", [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk).exists()


# --- the keyed chain -----------------------------------------------------------------------------------------


def test_a_rewritten_row_is_named(requester):
    events = trail(requester, 4)
    around_the_trigger("UPDATE portal_auditevent SET details = '{\"i\": 99}' WHERE id = %s", [events[1].pk])
    assert_verify_names(events[1].pk, "content does not match")


def test_a_rehashed_tail_is_named_at_the_rewritten_row(requester):
    events = trail(requester, 5)
    rehash_from(events[2].pk, {"i": 99})
    # The forger's chain links (each row points at the one before) ...
    rows = list(AuditEvent.objects.order_by("id"))
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:], strict=False))
    # ... but without the audit key its hashes are not the chain's.
    assert_verify_names(events[2].pk, "content does not match")


def test_a_tail_rehashed_as_unkeyed_rows_is_named(requester):
    events = trail(requester, 4)
    previous = events[1].hash
    for event in events[2:]:
        event.key_id, event.prev_hash = "", previous
        event.hash = event.compute_hash()  # plain SHA-256 needs no key
        around_the_trigger(
            "UPDATE portal_auditevent SET key_id = '', prev_hash = %s, hash = %s WHERE id = %s",
            [event.prev_hash, event.hash, event.pk],
        )
        previous = event.hash
    assert_verify_names(events[2].pk, "no key after keyed events")


def test_a_forged_row_put_at_the_end_is_named(requester):
    events = trail(requester, 3)
    forged = AuditEvent(
        occurred_at=timezone.now(), actor_username="requester", action="request.approve",
        details={"forged": True}, prev_hash=events[-1].hash, key_id=events[-1].key_id,
    )
    forged.hash = forge_hash(forged)
    forged.save()
    assert_verify_names(forged.pk, "content does not match")


def test_a_row_deleted_in_the_middle_is_named_at_the_next(requester):
    events = trail(requester, 4)
    around_the_trigger("DELETE FROM portal_auditevent WHERE id = %s", [events[1].pk])
    assert_verify_names(events[2].pk, "does not link")


# --- checkpoints ---------------------------------------------------------------------------------------------


def test_checkpoints_land_in_the_locked_bucket(requester, checkpoint_bucket):
    trail(requester, 3)
    total = AuditEvent.objects.count()
    audit_checkpoint()
    listed = s3().list_objects_v2(Bucket=checkpoint_bucket)["Contents"]
    assert len(listed) == 1
    first = audit_chain.checkpoint_parse(listed[0]["Key"], s3().get_object(Bucket=checkpoint_bucket, Key=listed[0]["Key"])["Body"].read())
    head = AuditEvent.objects.order_by("-id").first()
    assert (first.count, first.head_id, first.head_hash) == (total, head.pk, head.hash)
    assert s3().get_bucket_versioning(Bucket=checkpoint_bucket)["Status"] == "Enabled"
    lock = s3().get_object_lock_configuration(Bucket=checkpoint_bucket)["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled" and lock["Rule"]["DefaultRetention"]["Mode"] == "COMPLIANCE"
    # Nothing new: nothing written. One more event: a newer checkpoint, which lists first.
    audit_checkpoint()
    assert len(s3().list_objects_v2(Bucket=checkpoint_bucket)["Contents"]) == 1
    audit_record(actor=requester, action="test.more")
    audit_checkpoint()
    assert audit_chain.checkpoint_latest().count == total + 1
    # A locked checkpoint cannot be deleted by whoever holds the state store's keys either.
    version = s3().head_object(Bucket=checkpoint_bucket, Key=listed[0]["Key"])["VersionId"]
    with pytest.raises(ClientError, match="AccessDenied"):
        s3().delete_object(Bucket=checkpoint_bucket, Key=listed[0]["Key"], VersionId=version)
    result = audit_verify()
    assert result.intact and result.checkpoint.count == total + 1


def test_a_cut_tail_is_named_against_the_checkpoint(requester, checkpoint_bucket):
    events = trail(requester, 5)
    checkpoint = audit_checkpoint_write()
    around_the_trigger("DELETE FROM portal_auditevent WHERE id >= %s", [events[3].pk])
    # What is left links, and the portal keeps writing after it: only the checkpoint knows.
    audit_record(actor=requester, action="test.after")
    assert_verify_names(checkpoint.head_id, "deleted at the end")


def test_an_emptied_table_is_named_against_the_checkpoint(requester, checkpoint_bucket):
    trail(requester, 3)
    checkpoint = audit_checkpoint_write()
    with connection.cursor() as cursor:  # the owner can disable the trigger; the application role cannot
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE portal_auditevent DISABLE TRIGGER portal_auditevent_no_truncate")
        cursor.execute("TRUNCATE portal_auditevent")
        cursor.execute("ALTER TABLE portal_auditevent ENABLE TRIGGER portal_auditevent_no_truncate")
    assert not AuditEvent.objects.exists()
    assert_verify_names(checkpoint.head_id, "the table was emptied")


def test_a_rehashed_tail_is_not_vouched_for_by_a_new_checkpoint(requester, checkpoint_bucket):
    events = trail(requester, 3)
    audit_checkpoint_write()
    audit_record(actor=requester, action="test.after")
    rehash_from(events[-1].pk, {"i": 99})
    audit_checkpoint()  # logs and writes nothing
    assert audit_chain.checkpoint_latest().head_id == events[-1].pk
    assert not audit_verify().intact


def test_a_delete_marker_does_not_hide_the_newest_checkpoint(requester, checkpoint_bucket):
    trail(requester, 4)
    audit_checkpoint_write()
    newest = audit_record(actor=requester, action="test.more")
    checkpoint = audit_checkpoint_write()
    s3().delete_object(Bucket=checkpoint_bucket, Key=checkpoint.name)  # a delete marker: lock allows it
    assert s3().list_objects_v2(Bucket=checkpoint_bucket)["KeyCount"] == 1
    around_the_trigger("DELETE FROM portal_auditevent WHERE id = %s", [newest.pk])
    assert audit_chain.checkpoint_latest().head_id == newest.pk
    assert_verify_names(newest.pk, "deleted at the end")


def test_a_checkpoint_not_signed_by_the_key_is_refused(requester, checkpoint_bucket):
    trail(requester, 2)
    audit_checkpoint_write()
    fake = audit_chain.Checkpoint(count=1, head_id=1, head_hash="0" * 64, written_at="2026-01-01T00:00:00+00:00")
    body = json.loads(audit_chain.checkpoint_sign(fake))
    body["count"] = 10**9  # names itself newest
    s3().put_object(Bucket=checkpoint_bucket, Key=audit_chain.CHECKPOINT_PREFIX + "000000000000000-1.json",
                    Body=json.dumps(body).encode())
    result = audit_verify()
    assert not result.intact and "not signed by the audit key" in result.problem


# --- the purge -----------------------------------------------------------------------------------------------


def record_days_ago(days: int, action: str) -> AuditEvent:
    with mock.patch("django.utils.timezone.now", return_value=timezone.now() - timedelta(days=days)):
        return audit_record(actor=None, action=action)


def test_the_purge_keeps_the_chain_intact_and_records_itself(checkpoint_bucket):
    old = [record_days_ago(200 - i, f"test.old{i}") for i in range(3)]
    young = [audit_record(actor=None, action="test.young") for _ in range(2)]
    before = audit_checkpoint_write()
    call_command("audit_purge", "--days", "184")
    assert not AuditEvent.objects.filter(pk__in=[e.pk for e in old]).exists()
    purge = AuditEvent.objects.get(action="audit.purge")
    assert purge.details["purged"] == 3 and purge.details["first_id"] == old[0].pk
    assert purge.details["last_id"] == old[-1].pk and purge.details["start_prev_hash"] == old[-1].hash
    result = audit_verify()
    assert result.intact, result.problem
    assert result.checked == 3 and result.purged == 3 and result.count == before.count + 1
    # The purge wrote a checkpoint of its own, counting the purged events too.
    assert audit_chain.checkpoint_latest().count == 6
    # The events kept are still the chain: tampering after the purge is named as before.
    around_the_trigger("DELETE FROM portal_auditevent WHERE id = %s", [young[0].pk])
    assert_verify_names(young[1].pk, "does not link")


def test_the_purge_refuses_a_horizon_under_184_days(db):
    record_days_ago(200, "test.old")
    with pytest.raises(CommandError, match="at least 184 days"):
        call_command("audit_purge", "--days", "30")
    with pytest.raises(ValueError, match="at least 184 days"):
        audit_purge(actor=None, days=183)
    assert AuditEvent.objects.count() == 1


def test_the_purge_refuses_a_broken_chain(db):
    old = [record_days_ago(300, f"test.old{i}") for i in range(2)]
    around_the_trigger("UPDATE portal_auditevent SET action = 'forged' WHERE id = %s", [old[0].pk])
    with pytest.raises(CommandError, match="does not verify"):
        call_command("audit_purge")
    assert AuditEvent.objects.count() == 2


# --- the application role ------------------------------------------------------------------------------------


@pytest.fixture
def as_app_role():
    """Act as a login role made by db_app_role's grants, one that owns nothing (rolled back with the test)."""
    role = f"{connection.settings_dict['NAME']}_app"[:63]
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {connection.ops.quote_name(role)} NOLOGIN")
        for statement in app_role_grants(role):
            cursor.execute(statement)
        cursor.execute(f"SET LOCAL ROLE {connection.ops.quote_name(role)}")
    return role


def refused(sql: str, params=None, match: str = "") -> None:
    with pytest.raises(DatabaseError, match=match), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def test_the_application_role_cannot_disable_the_trigger(requester, as_app_role):
    event = audit_record(actor=None, action="test.as_app", actor_username="requester")
    assert AuditEvent.objects.filter(pk=event.pk).exists()  # it writes and reads the trail
    refused("ALTER TABLE portal_auditevent DISABLE TRIGGER portal_auditevent_append_only", match="must be owner")
    refused("ALTER TABLE portal_auditevent DISABLE TRIGGER ALL", match="must be owner")
    refused("SET session_replication_role = replica", match="permission denied")
    refused("UPDATE portal_auditevent SET action = 'x' WHERE id = %s", [event.pk], match="permission denied")
    refused("SET CONSTRAINTS ALL IMMEDIATE; TRUNCATE portal_auditevent", match="permission denied")
    with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL portal.audit_purge = 'on'")
            cursor.execute("DELETE FROM portal_auditevent WHERE id = %s", [event.pk])
    # Ordinary tables stay writable.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE portal_user SET full_name = 'x' WHERE id = %s", [requester.pk])
        assert cursor.rowcount == 1


def test_verify_reads_a_legacy_sha256_prefix(db):
    """Events from before the chain was keyed carry no key id and verify by plain SHA-256."""
    legacy = trail(None, 2)
    previous = ""
    for event in legacy:
        event.key_id, event.prev_hash = "", previous
        event.hash = event.compute_hash()
        assert event.hash == hashlib.sha256(
            json.dumps({k: v for k, v in {
                "occurred_at": event.occurred_at.isoformat(), "actor_id": event.actor_id,
                "actor_username": event.actor_username, "source_ip": event.source_ip, "action": event.action,
                "object_type": event.object_type, "object_id": event.object_id, "object_repr": event.object_repr,
                "agency_id": event.agency_id, "outcome": event.outcome, "details": event.details,
                "prev_hash": event.prev_hash,
            }.items()}, sort_keys=True, ensure_ascii=False, cls=DjangoJSONEncoder).encode()
        ).hexdigest()
        around_the_trigger(
            "UPDATE portal_auditevent SET key_id = '', prev_hash = %s, hash = %s WHERE id = %s",
            [event.prev_hash, event.hash, event.pk],
        )
        previous = event.hash
    audit_record(actor=None, action="test.keyed")
    result = audit_verify()
    assert result.intact and result.unkeyed == 2 and result.checked == 3


def test_the_session_allowances_are_the_owners_alone(as_app_role):
    """Even given TRUNCATE and DELETE on the table, a role that does not own it gets nothing from the session
    settings that let the owner flush a test database or purge: the trigger refuses."""
    old = record_days_ago(300, "test.old")
    role = connection.ops.quote_name(as_app_role)
    with connection.cursor() as cursor:
        cursor.execute(f"RESET ROLE; GRANT TRUNCATE, DELETE ON portal_auditevent TO {role}; SET LOCAL ROLE {role}")
    refused(
        "SET CONSTRAINTS ALL IMMEDIATE; SET LOCAL portal.audit_allow_truncate = 'on'; TRUNCATE portal_auditevent",
        match="append-only",
    )
    refused(
        "SET LOCAL portal.audit_purge = 'on'; DELETE FROM portal_auditevent WHERE id = %s", [old.pk],
        match="append-only",
    )
    assert AuditEvent.objects.filter(pk=old.pk).exists()


def test_the_purge_leaves_no_door_open_in_its_transaction(db):
    record_days_ago(300, "test.old")
    audit_record(actor=None, action="test.young")
    audit_purge(actor=None, days=184)
    late = record_days_ago(300, "test.late")
    refused("DELETE FROM portal_auditevent WHERE id = %s", [late.pk], match="append-only")
