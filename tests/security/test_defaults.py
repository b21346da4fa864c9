"""Issue 11, item 12: unsafe defaults.

- DEBUG was on unless turned off: `make serve`, deploy/serve.py and every deployment file must run
  with it off unless asked, while `make run` (the developer's embedded default) still works on a
  fresh machine.
- /metrics was open to anyone without METRICS_TOKEN and compared the token with `!=`.
- /healthz showed exception text (driver messages, host names) to anyone.
- A generated SSH private key waited in the session (the database) until downloaded.
- `add_users` told any dataset creator which e-mail addresses have accounts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_ssh_private_key
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from dashboard.celery import app as celery_app
from datasets_app import models as m
from datasets_app.sdk import UserClient
from datasets_app.sdk.exceptions import ResourceNotFoundError
from datasets_app.sdk.orm import DatasetUserRole
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]


def _settings_in_fresh_process(tmp_path, **env: str) -> str:
    """DEBUG as a process outside pytest sees it, with only `env` set (plus a SECRET_KEY)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DEBUG", "PYTEST", "SECRET_KEY"))}
    clean.update(DATA_DIR=str(tmp_path), **env)
    code = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**clean, "DJANGO_SETTINGS_MODULE": "dashboard.settings"},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_debug_is_off_unless_asked(tmp_path):
    assert _settings_in_fresh_process(tmp_path, SECRET_KEY="x" * 50) == "False"
    assert _settings_in_fresh_process(tmp_path, SECRET_KEY="x" * 50, DEBUG="1") == "True"


def test_deployment_files_never_turn_debug_on():
    for path in [ROOT / "deploy" / "datasets.env.example", ROOT / "deploy" / "compose.yaml"]:
        text = path.read_text()
        assert "DEBUG" in text and "DEBUG=1" not in text and 'DEBUG: "1"' not in text, path
    serve = (ROOT / "deploy" / "serve.py").read_text()
    assert 'setdefault("DEBUG", "0")' in serve


def test_make_run_asks_for_debug_explicitly():
    """The developer's embedded default still gets DEBUG (and a generated SECRET_KEY) on a fresh
    machine: deploy/dev.py run sets DEBUG=1 when the environment does not say otherwise."""
    dev = (ROOT / "deploy" / "dev.py").read_text()
    assert 'os.environ.setdefault("DEBUG", "1")' in dev


# ---- /metrics --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_without_token_is_refused_to_other_hosts(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.7").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200


@pytest.mark.django_db
def test_metrics_token_is_compared_in_constant_time(client, settings, monkeypatch):
    import hmac

    settings.METRICS_TOKEN = "s3cret-token"
    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: calls.append(1) or real(a, b))
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong", REMOTE_ADDR="203.0.113.7").status_code == 401
    assert client.get(
        "/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token", REMOTE_ADDR="203.0.113.7"
    ).status_code == 200
    assert calls, "the token must be compared with hmac.compare_digest"


# ---- /healthz --------------------------------------------------------------------------------


@pytest.fixture
def broken_broker():
    saved = celery_app.conf.broker_url, celery_app.conf.broker_write_url
    celery_app.conf.broker_url = celery_app.conf.broker_write_url = "redis://127.0.0.1:9/0"
    yield
    celery_app.conf.broker_url, celery_app.conf.broker_write_url = saved


@pytest.mark.django_db
def test_healthz_hides_exception_text_from_anonymous_callers(client, broken_broker, settings):
    settings.METRICS_TOKEN = "s3cret-token"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["problems"] == ["broker: unavailable"]
    # the operator's view (metrics token or an organisation admin) keeps the reason
    detailed = client.get("/healthz", HTTP_AUTHORIZATION="Bearer s3cret-token").json()["problems"]
    assert detailed[0].startswith("broker: ") and detailed[0] != "broker: unavailable"
    admin = Client()
    admin.force_login(UserFactory(is_org_admin=True))
    assert admin.get("/healthz").json()["problems"] == detailed
    someone = Client()
    someone.force_login(UserFactory())
    assert someone.get("/healthz").json()["problems"] == ["broker: unavailable"]


# ---- generated SSH key pairs -----------------------------------------------------------------


@pytest.mark.django_db
def test_generated_private_key_is_handed_over_at_once_and_never_stored(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post(reverse("dashboard:key-pair-generate"), {"title": "laptop"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    start = page.index("-----BEGIN OPENSSH PRIVATE KEY-----")
    end = page.index("-----END OPENSSH PRIVATE KEY-----") + len("-----END OPENSSH PRIVATE KEY-----")
    private = load_ssh_private_key(page[start:end].encode() + b"\n", password=None)
    public_hex = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    assert m.PublicKey.objects.get(user=user).key_hex == public_hex
    # nothing server-side holds it: no session row, no stored key
    for session in Session.objects.all():
        assert "PRIVATE KEY" not in str(session.get_decoded())
    assert "PRIVATE KEY" not in client.get(reverse("dashboard:account")).content.decode()


# ---- add_users -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_add_users_does_not_tell_a_dataset_creator_which_accounts_exist():
    creator, existing = UserFactory(), UserFactory(email="Known.Person@example.com")
    client = UserClient.for_user(creator)
    ds = client.get_dataset(client.create_dataset("mine", "CORD_STORAGE").dataset_hash)

    def answer(email):
        try:
            return [(u.user_email, u.user_role) for u in ds.add_users([email], DatasetUserRole.USER)]
        except ResourceNotFoundError as error:
            return ("error", error.message.replace(email, "<email>"))

    known = answer("known.person@example.com")
    unknown = answer("nobody.here@example.com")
    assert known == [("known.person@example.com", DatasetUserRole.USER)]
    assert unknown == [("nobody.here@example.com", DatasetUserRole.USER)]
    assert m.DatasetMembership.objects.filter(user=existing).exists()
    assert not m.User.objects.filter(email__iexact="nobody.here@example.com").exists()


@pytest.mark.django_db
def test_org_admins_still_hear_which_addresses_are_unknown():
    admin = UserFactory(is_org_admin=True)
    client = UserClient.for_user(admin)
    ds = client.get_dataset(client.create_dataset("theirs", "CORD_STORAGE").dataset_hash)
    with pytest.raises(ResourceNotFoundError, match="nobody.here@example.com"):
        ds.add_users(["nobody.here@example.com"], DatasetUserRole.USER)
