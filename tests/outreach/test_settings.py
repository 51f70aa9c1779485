"""The production profile refuses unsafe configurations; `check --deploy` is clean."""

import base64
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def production_env(**overrides: str) -> dict[str, str]:
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "outreach.settings",
        "OUTREACH_PROFILE": "production",
        "SECRET_KEY": "a-long-random-production-secret-" + _key(),
        "ALLOWED_HOSTS": "outreach.example.org",
        "DATABASE_URL": "postgres://u@127.0.0.1/outreach",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/1",
        "OUTREACH_PSEUDONYM_KEYS": f"2026-11:{_key()},assignment:{_key()}",
        "OUTREACH_FIELD_ENCRYPTION_KEYS": f"k0001:{_key()}",
        "OUTREACH_BLIND_INDEX_KEYS": f"k0001:{_key()}",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_production_check_deploy_reports_nothing_above_info():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stderr + result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    result = manage("check", env=production_env(SECRET_KEY=""))
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_pseudonymisation_keys(tmp_path):
    env = production_env(OUTREACH_PSEUDONYM_KEYS="", OUTREACH_KEY_DIR=str(tmp_path))
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "pseudonymisation keys" in result.stderr


def test_production_refuses_to_start_without_the_arm_assignment_key(tmp_path):
    # Period keys alone (the README's example) made every live intervention a 500.
    result = manage("check", env=production_env(OUTREACH_PSEUDONYM_KEYS=f"2026-11:{_key()}"))
    assert result.returncode != 0
    assert "arm-assignment key" in result.stderr
    (tmp_path / "pseudonym").mkdir()
    (tmp_path / "pseudonym" / "2026-11.key").write_text(_key())
    env = production_env(OUTREACH_PSEUDONYM_KEYS="", OUTREACH_KEY_DIR=str(tmp_path))
    assert "arm-assignment key" in manage("check", env=env).stderr
    (tmp_path / "pseudonym" / "assignment.key").write_text(_key())
    assert "arm-assignment key" not in manage("check", env=env).stderr


def test_production_refuses_a_blind_index_ring_without_its_fixed_key_id():
    result = manage("check", env=production_env(OUTREACH_BLIND_INDEX_KEYS=f"other:{_key()}"))
    assert result.returncode != 0
    assert "key id k0001" in result.stderr


def test_production_refuses_to_start_without_field_encryption_keys(tmp_path):
    env = production_env(OUTREACH_FIELD_ENCRYPTION_KEYS="", OUTREACH_KEY_DIR=str(tmp_path))
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "field-encryption keys" in result.stderr
