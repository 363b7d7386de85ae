"""Production settings: the portal refuses to start on settings only good for one machine, naming the
setting; with good ones, Django's deployment checks pass."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def run_manage(args, env_overrides, tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in SET_BY_THE_TESTS}
    env.update({"PORTAL_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "portal.settings", **env_overrides})
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)


# Nothing of the machine's own environment (CI's DATABASE_URL, say) decides what these tests see.
SET_BY_THE_TESTS = {
    "SECRET_KEY", "CREDENTIALS_KEY", "AUDIT_HMAC_KEY", "DEBUG", "DATABASE_URL", "CELERY_BROKER_URL",
    "STATE_ACCESS_KEY_ID", "STATE_SECRET_ACCESS_KEY", "PORTAL_ENV", "CACHE_URL",
}

# A production environment that is right. `check` does not connect to the database or the broker.
PRODUCTION = {
    "PORTAL_ENV": "production",
    "SECRET_KEY": "x" * 20 + "-production-secret-key-with-enough-entropy-1234567890",
    "CREDENTIALS_KEY": Fernet.generate_key().decode(),
    "AUDIT_HMAC_KEY": "audit-hmac-key-for-the-production-settings-test-0123456789",
    "ALLOWED_HOSTS": "portal.example.gov.cn",
    "DATABASE_URL": "postgres://portal@db.example.gov.cn:5432/portal",
    "CELERY_BROKER_URL": "redis://redis.example.gov.cn:6379/0",
    "STATE_ACCESS_KEY_ID": "state",
    "STATE_SECRET_ACCESS_KEY": "state-secret",
}


def test_check_deploy_passes_with_production_settings(tmp_path):
    result = run_manage(["check", "--deploy", "--fail-level", "WARNING"], PRODUCTION, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = {**PRODUCTION, "SECRET_KEY": ""}
    result = run_manage(["check"], env, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_production_refuses_to_start_without_the_audit_key(tmp_path):
    result = run_manage(["check"], {**PRODUCTION, "AUDIT_HMAC_KEY": ""}, tmp_path)
    assert result.returncode != 0
    assert "AUDIT_HMAC_KEY must be set" in result.stderr
    assert not (tmp_path / "audit_hmac_key").exists()


def test_a_short_audit_key_is_refused(tmp_path):
    result = run_manage(["check"], {**PRODUCTION, "AUDIT_HMAC_KEY": "short"}, tmp_path)
    assert result.returncode != 0
    assert "AUDIT_HMAC_KEY must be at least 32 characters" in result.stderr


def test_the_audit_key_may_not_be_the_secret_key(tmp_path):
    result = run_manage(["check"], {**PRODUCTION, "AUDIT_HMAC_KEY": PRODUCTION["SECRET_KEY"]}, tmp_path)
    assert result.returncode != 0
    assert "AUDIT_HMAC_KEY must be a key of its own" in result.stderr


def test_development_generates_its_keys_once(tmp_path):
    first = run_manage(["check"], {}, tmp_path)
    assert first.returncode == 0, first.stderr
    key = (tmp_path / "secret_key").read_text()
    run_manage(["check"], {}, tmp_path)
    assert (tmp_path / "secret_key").read_text() == key
    assert oct((tmp_path / "credentials_key").stat().st_mode)[-3:] == "600"
    assert oct((tmp_path / "audit_hmac_key").stat().st_mode)[-3:] == "600"


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"SECRET_KEY": "short-key"}, "SECRET_KEY must be a random string"),
        ({"SECRET_KEY": "django-insecure-" + "a1b2c3d4e5" * 5}, "SECRET_KEY must be a random string"),
        ({"CREDENTIALS_KEY": ""}, "CREDENTIALS_KEY must be set"),
        ({"CREDENTIALS_KEY": "notafernetkey"}, "CREDENTIALS_KEY must be a Fernet key"),
        ({"DATABASE_URL": ""}, "DATABASE_URL must point at PostgreSQL"),
        ({"DATABASE_URL": "mysql://portal@db.example.gov.cn/portal"}, "DATABASE_URL must point at PostgreSQL"),
        ({"CELERY_BROKER_URL": ""}, "CELERY_BROKER_URL must be Redis or RabbitMQ"),
        ({"CELERY_BROKER_URL": "filesystem://"}, "CELERY_BROKER_URL must be Redis or RabbitMQ"),
        ({"DEBUG": "1"}, "DEBUG must be off"),
        ({"STATE_ACCESS_KEY_ID": ""}, "STATE_ACCESS_KEY_ID and STATE_SECRET_ACCESS_KEY must be set"),
        ({"STATE_SECRET_ACCESS_KEY": ""}, "STATE_ACCESS_KEY_ID and STATE_SECRET_ACCESS_KEY must be set"),
    ],
)
def test_production_refuses_to_start_on_a_wrong_setting(tmp_path, overrides, named):
    result = run_manage(["check"], {**PRODUCTION, **overrides}, tmp_path)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert named in result.stderr


def test_production_names_every_wrong_setting_at_once(tmp_path):
    env = {**PRODUCTION, "CREDENTIALS_KEY": "notafernetkey", "DATABASE_URL": "", "DEBUG": "on"}
    result = run_manage(["check"], env, tmp_path)
    assert result.returncode != 0
    for named in ("CREDENTIALS_KEY", "DATABASE_URL", "DEBUG"):
        assert named in result.stderr


def test_development_starts_on_the_embedded_defaults(tmp_path):
    """The same settings that production refuses are what one machine runs on without being told anything."""
    result = run_manage(["check"], {"CREDENTIALS_KEY": "", "DATABASE_URL": "", "CELERY_BROKER_URL": ""}, tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("cache_url", "engine"), [
    ("redis://redis.example.gov.cn:6379/1", "django.contrib.sessions.backends.cached_db"),
    # Each process's own cache would keep a session another process signed out: the database alone decides.
    ("", "django.contrib.sessions.backends.db"),
])
def test_sessions_are_cached_only_in_a_cache_every_process_shares(tmp_path, cache_url, engine):
    result = run_manage(["shell", "-c", "from django.conf import settings; print(settings.SESSION_ENGINE)"],
                        {**PRODUCTION, "CACHE_URL": cache_url}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == engine
