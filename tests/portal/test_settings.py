"""Production settings: required secrets, and Django's deployment checks pass."""
import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def run_manage(args, env_overrides, tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in {"SECRET_KEY", "CREDENTIALS_KEY", "AUDIT_HMAC_KEY", "DEBUG"}}
    env.update({"PORTAL_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "portal.settings", **env_overrides})
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)


PRODUCTION = {
    "PORTAL_ENV": "production",
    "SECRET_KEY": "x" * 20 + "-production-secret-key-with-enough-entropy-1234567890",
    "CREDENTIALS_KEY": Fernet.generate_key().decode(),
    "AUDIT_HMAC_KEY": "audit-hmac-key-for-the-production-settings-test-0123456789",
    "ALLOWED_HOSTS": "portal.example.gov.cn",
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
