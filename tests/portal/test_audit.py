"""The audit trail: chained hashes, append-only rows, logins (failed ones too) recorded with their IP."""
import pytest
from django.db import connection
from django.test import Client

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
