"""The portal runs as a database role that owns nothing, as docs/operations.md tells production to: the owner
migrates and grants (db_app_role), then the portal's own commands run as the application role. It loads the
demo data (catalogue, agencies, users, role grants, each audited) and verifies the trail. It cannot disable
the audit trigger or change the trail. PostgreSQL only; real processes, a database and role of their own."""
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.django_db, pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
    reason="the application role is PostgreSQL's",
)]


def url(role: str, database: str) -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") and role == db["USER"] else ""
    return f"postgres://{role}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{database}"


def manage(args: list[str], database_url: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url, "PORTAL_VAR_DIR": str(tmp_path), "AUDIT_CHECKPOINT_BUCKET": "",
           "DJANGO_SETTINGS_MODULE": "portal.settings"}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture
def split_database(tmp_path):
    suffix = uuid.uuid4().hex[:8]
    database, role = f"portal_split_{suffix}", f"portal_app_{suffix}"
    owner = connection.settings_dict["USER"]
    admin = psycopg.connect(url(owner, "postgres"), autocommit=True)
    admin.execute(f'CREATE DATABASE "{database}"')
    admin.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        yield {"owner": url(owner, database), "app": url(role, database), "role": role}
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        admin.close()


def test_the_portal_runs_as_a_role_that_cannot_cut_its_trail(split_database, tmp_path):
    for args, as_url in (
        (["migrate", "--no-input", "-v", "0"], split_database["owner"]),
        (["db_app_role", split_database["role"], "--execute"], split_database["owner"]),
        (["demo_data"], split_database["app"]),
        (["audit_verify"], split_database["app"]),
    ):
        result = manage(args, as_url, tmp_path)
        assert result.returncode == 0, f"{args[0]}: {result.stdout[-2000:]}{result.stderr[-3000:]}"
    assert "audit chain intact" in result.stdout

    with psycopg.connect(split_database["app"], autocommit=True) as app:
        events = app.execute("SELECT count(*) FROM portal_auditevent").fetchone()[0]
        assert events > 0  # the demo data's role grants were audited, as the application role
        for statement in (
            "ALTER TABLE portal_auditevent DISABLE TRIGGER ALL",
            "UPDATE portal_auditevent SET action = 'forged'",
            "DELETE FROM portal_auditevent",
            "TRUNCATE portal_auditevent",
            "SET session_replication_role = replica",
        ):
            with pytest.raises(psycopg.Error):
                app.execute(statement)
        assert app.execute("SELECT count(*) FROM portal_auditevent").fetchone()[0] == events
