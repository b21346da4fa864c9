"""Production serving: `check --deploy` is clean with the documented production environment,
and the same check fails when a protection is missing (so this test can fail)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "a-production-secret-key-that-is-long-and-random-9f8e7d6c5b4a3210",
    "ALLOWED_HOSTS": "datasets.example.com",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
}


def _check_deploy(tmp_path, **overrides: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SECURE_", "DEBUG", "PYTEST"))}
    env.update(PRODUCTION_ENV, DATA_DIR=str(tmp_path))
    env.update(overrides)
    env = {k: v for k, v in env.items() if v is not None and v != "<unset>"}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )


def test_check_deploy_is_clean_with_the_production_environment(tmp_path):
    result = _check_deploy(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_without_hsts(tmp_path):
    result = _check_deploy(tmp_path, SECURE_HSTS_SECONDS="0")
    assert result.returncode != 0
    assert "security.W004" in result.stdout + result.stderr


def test_log_level_is_taken_in_any_case_and_a_wrong_one_is_named(tmp_path):
    # gunicorn's own setting reads the same LOG_LEVEL in lower case
    assert _check_deploy(tmp_path, LOG_LEVEL="warning").returncode == 0
    wrong = _check_deploy(tmp_path, LOG_LEVEL="loud")
    assert wrong.returncode != 0 and "LOG_LEVEL must be one of" in wrong.stderr


def test_debug_off_refuses_to_start_without_a_secret_key(tmp_path):
    result = _check_deploy(tmp_path, SECRET_KEY="<unset>")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_debug_off_gives_secure_cookies_and_compressed_static(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SECURE_", "DEBUG", "PYTEST"))}
    env.update(PRODUCTION_ENV, DATA_DIR=str(tmp_path))
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, "
        "s.STORAGES['staticfiles']['BACKEND'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": "dashboard.settings"},
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.split()
    assert out == ["True", "True", "True", "whitenoise.storage.CompressedStaticFilesStorage"]


def test_livez_answers_without_touching_the_database(client):
    # no `db` fixture: any query here would raise
    response = client.get("/livez")
    assert response.status_code == 200 and response.content == b"ok\n"
