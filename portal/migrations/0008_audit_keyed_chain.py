"""The keyed chain names the key of each event (old rows: none, plain SHA-256). On PostgreSQL the trigger now
refuses TRUNCATE too, and lets one DELETE through: audit_purge's, of events older than 184 days, by the
table's owner, in a transaction that set portal.audit_purge. The owner may also TRUNCATE in a session that
set portal.audit_allow_truncate (test databases, which Django empties between tests); the owner could
disable the trigger anyway, which is why the portal runs as a role that owns nothing."""
from django.db import migrations, models

CREATE = """
CREATE OR REPLACE FUNCTION portal_audit_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE'
       AND current_setting('portal.audit_allow_truncate', true) = 'on'
       AND pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER') THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        IF current_setting('portal.audit_purge', true) = 'on'
           AND pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER') THEN
            IF OLD.occurred_at < now() - interval '184 days' THEN
                RETURN OLD;
            END IF;
            RAISE EXCEPTION 'audit event % is younger than 184 days and cannot be purged', OLD.id;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER portal_auditevent_no_truncate
    BEFORE TRUNCATE ON portal_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION portal_audit_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS portal_auditevent_no_truncate ON portal_auditevent;
CREATE OR REPLACE FUNCTION portal_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("portal", "0007_break_glass")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="key_id",
            field=models.CharField(blank=True, default="", max_length=16),
        ),
        migrations.RunPython(forwards, backwards),
    ]
