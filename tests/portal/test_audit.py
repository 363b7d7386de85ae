"""The audit trail: keyed chained hashes, append-only rows, logins (failed ones too) recorded with their IP,
the retention purge. The PostgreSQL tamper suite is test_audit_tamper.py."""
import hashlib
import hmac
import json
from datetime import timedelta
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.test import Client
from django.utils import timezone

from portal.audit_chain import key_id
from portal.choices import AuditOutcome
from portal.models import AuditEvent
from portal.services import audit_record, audit_verify

pytestmark = pytest.mark.django_db


def test_events_chain_and_verify(requester):
    first = audit_record(actor=requester, action="test.one", details={"n": 1})
    second = audit_record(actor=requester, action="test.two", details={"n": 2})
    assert second.prev_hash == first.hash
    result = audit_verify()
    assert result.intact and result.broken is None
    assert result.checked == AuditEvent.objects.count()


def test_tampering_breaks_the_chain_at_the_tampered_row(requester):
    audit_record(actor=requester, action="test.one")
    target = audit_record(actor=requester, action="test.two", details={"amount": 1})
    audit_record(actor=requester, action="test.three")
    if connection.vendor == "postgresql":
        # Somebody with the database superuser's keys, going around the trigger.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute("UPDATE portal_auditevent SET details = '{\"amount\": 2}' WHERE id = %s", [target.pk])
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")
    else:
        AuditEvent.objects.filter(pk=target.pk).update(details={"amount": 2})
    result = audit_verify()
    assert result.broken is not None and result.broken.pk == target.pk


def test_rows_refuse_update_and_delete_through_the_orm(requester):
    event = audit_record(actor=requester, action="test.one")
    event.action = "changed"
    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(ValueError):
        event.delete()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_postgresql_refuses_update_and_delete_from_any_client(requester):
    from django.db import DatabaseError, transaction

    event = audit_record(actor=requester, action="test.one")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="changed")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()


def test_login_success_and_failure_are_audited_with_ip(requester):
    client = Client(REMOTE_ADDR="10.1.2.3")
    client.post("/login/", {"username": "requester", "password": "wrong"})
    client.post("/login/", {"username": "requester", "password": "pass-for-tests"})
    failed = AuditEvent.objects.get(action="auth.login", outcome=AuditOutcome.FAILURE)
    assert failed.actor_username == "requester" and failed.source_ip == "10.1.2.3"
    assert "wrong" not in str(failed.details)
    ok = AuditEvent.objects.get(action="auth.login", outcome=AuditOutcome.SUCCESS)
    assert ok.actor == requester and ok.source_ip == "10.1.2.3"


def test_times_are_stored_in_utc(requester):
    event = audit_record(actor=requester, action="test.one")
    event.refresh_from_db()
    assert event.occurred_at.utcoffset().total_seconds() == 0


def test_verify_command_reports_intact_and_broken_chains(requester, capsys):
    from django.core.management import CommandError, call_command

    audit_record(actor=requester, action="test.one")
    call_command("audit_verify")
    assert "intact" in capsys.readouterr().out
    target = audit_record(actor=requester, action="test.two")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute("UPDATE portal_auditevent SET action = 'forged' WHERE id = %s", [target.pk])
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")
    else:
        AuditEvent.objects.filter(pk=target.pk).update(action="forged")
    with pytest.raises(CommandError) as error:
        call_command("audit_verify")
    assert str(target.pk) in str(error.value)


def write_around_the_trigger(sql: str, params) -> None:
    """An attacker's write: straight SQL, going around the PostgreSQL trigger the way a superuser can."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")


def test_events_are_keyed_with_the_audit_key(requester, settings):
    event = audit_record(actor=requester, action="test.one")
    assert event.key_id == key_id(settings.AUDIT_HMAC_KEY)
    assert event.hash == hmac.new(settings.AUDIT_HMAC_KEY.encode(), _canonical(event), hashlib.sha256).hexdigest()
    assert settings.AUDIT_HMAC_KEY not in json.dumps(list(AuditEvent.objects.values()), default=str)


def _canonical(event) -> bytes:
    payload = {
        "occurred_at": event.occurred_at.isoformat(), "actor_id": event.actor_id,
        "actor_username": event.actor_username, "source_ip": event.source_ip, "action": event.action,
        "object_type": event.object_type, "object_id": event.object_id, "object_repr": event.object_repr,
        "agency_id": event.agency_id, "outcome": event.outcome, "details": event.details,
        "prev_hash": event.prev_hash, "key_id": event.key_id,
    }
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, cls=DjangoJSONEncoder).encode()


def test_a_tail_rehashed_without_the_key_breaks_at_the_rewritten_row(requester):
    audit_record(actor=requester, action="test.one")
    target = audit_record(actor=requester, action="test.two", details={"amount": 1})
    audit_record(actor=requester, action="test.three")
    # The attacker knows the algorithm, not the key: they re-hash with plain SHA-256, as the chain used to be.
    previous = AuditEvent.objects.filter(id__lt=target.pk).order_by("-id").first().hash
    for event in AuditEvent.objects.filter(id__gte=target.pk).order_by("id"):
        if event.pk == target.pk:
            event.details = {"amount": 2}
        event.prev_hash, event.key_id = previous, ""
        event.hash = event.compute_hash()
        write_around_the_trigger(
            "UPDATE portal_auditevent SET details = %s, prev_hash = %s, key_id = '', hash = %s WHERE id = %s",
            [json.dumps(event.details), event.prev_hash, event.hash, event.pk],
        )
        previous = event.hash
    result = audit_verify()
    assert not result.intact and result.broken.pk == target.pk


def test_a_chain_under_another_key_does_not_verify(requester, settings):
    event = audit_record(actor=requester, action="test.one")
    settings.AUDIT_HMAC_KEY = "another-key-" + "y" * 40
    result = audit_verify()
    assert not result.intact and "key the portal does not hold" in result.problem
    assert result.broken_id == AuditEvent.objects.order_by("id").first().pk <= event.pk


def test_events_of_a_retired_key_verify_after_a_rotation(requester, settings):
    old_key = settings.AUDIT_HMAC_KEY
    audit_record(actor=requester, action="test.old_key")
    settings.AUDIT_HMAC_KEY = "the-new-key-" + "z" * 40
    settings.AUDIT_HMAC_PREVIOUS_KEYS = [old_key]
    newer = audit_record(actor=requester, action="test.new_key")
    assert newer.key_id == key_id(settings.AUDIT_HMAC_KEY) != key_id(old_key)
    result = audit_verify()
    assert result.intact, result.problem


def test_the_purge_removes_only_events_past_the_horizon_and_the_chain_holds(db):
    with mock.patch("django.utils.timezone.now", return_value=timezone.now() - timedelta(days=190)):
        old = audit_record(actor=None, action="test.old")
    kept = audit_record(actor=None, action="test.young")
    call_command("audit_purge")
    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True)) == ["test.young", "audit.purge"]
    purge = AuditEvent.objects.get(action="audit.purge")
    assert purge.details["purged"] == 1 and purge.details["last_id"] == old.pk
    result = audit_verify()
    assert result.intact and result.purged == 1 and result.checked == 2
    assert kept.prev_hash == purge.details["start_prev_hash"]
    # Nothing older than the horizon is left: a second purge removes nothing and writes nothing.
    call_command("audit_purge")
    assert AuditEvent.objects.filter(action="audit.purge").count() == 1


def test_the_purge_refuses_a_horizon_under_six_months(db):
    with mock.patch("django.utils.timezone.now", return_value=timezone.now() - timedelta(days=400)):
        audit_record(actor=None, action="test.old")
    with pytest.raises(CommandError, match="at least 184 days"):
        call_command("audit_purge", "--days", "183")
    assert AuditEvent.objects.count() == 1


def test_beat_writes_a_checkpoint_every_few_minutes(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["audit-checkpoint"]
    assert entry["task"] == "portal.tasks.audit_checkpoint"
    assert entry["schedule"] == 60.0 * settings.AUDIT_CHECKPOINT_MINUTES == 300.0


def test_the_purge_event_has_a_name_in_both_languages():
    from django.utils import translation

    from portal.audit import action_label

    assert action_label("audit.purge") == "清理过期审计记录"
    with translation.override("en"):
        assert action_label("audit.purge") == "Purge of expired audit events"
