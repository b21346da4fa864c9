"""Item 6 of issue 11: a v1 signature covers the body only, and the dataset comes from the
unsigned ResourceID header. A captured request must not act on another dataset.

Where the signed body names the dataset (`values.uid` of `datasetdatalongpolling`, `video` POST,
`datasetusers`) or rows and tasks of it (`datarow`, `video` DELETE, `reencodevideotask` GET), a
replay with another ResourceID is refused. The SDK sends `dataset` GET, `datarows` GET and
`cloudintegration` GET with an empty uid: those stay replayable against another dataset the same
user can read (residual risk, README), which is why production refuses plain HTTP (TLS is what
keeps a request from being captured): the second half of this module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from datasets_app import models as m
from tests.api.conftest import error_code, wire_client  # noqa: F401  (fixture)
from tests.factories import DataJobFactory, DataRowFactory, DatasetFactory, DatasetMembershipFactory, ReEncodeTaskFactory

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def two_datasets(dataset, ds_admin):
    """The victim is ADMIN of A and B; A has a row; a capture of a request for A is replayed
    with ResourceID B (same body, same signature: Ed25519 signatures are deterministic)."""
    other = DatasetFactory()
    DatasetMembershipFactory(dataset=other, user=ds_admin, role=m.DatasetUserRole.ADMIN)
    row = DataRowFactory(dataset=dataset, title="a-row.mp4", client_metadata={"k": "v"})
    return dataset, other, row


def _state():
    return (
        sorted(m.DataRow.objects.values_list("dataset_id", "item__name")),
        sorted(m.DatasetMembership.objects.values_list("dataset_id", "user_id", "role")),
        m.DataJob.objects.count(),
    )


def _captured(client, query_type, method, uid, payload, resource_id):
    body = json.dumps(
        {"query_type": query_type, "query_method": method, "values": {"uid": uid, "payload": payload}}
    ).encode()
    original = client.post_raw("/public", body, resource_id=resource_id)
    return body, original


@pytest.mark.django_db
def test_bodies_naming_dataset_a_are_refused_with_resource_id_b(wire_client, ds_admin, stranger, two_datasets):
    a, b, row = two_datasets
    A, B = str(a.dataset_hash), str(b.dataset_hash)
    victim = wire_client(ds_admin)
    job = DataJobFactory(dataset=a, kind=m.DataJob.KIND_UPLOAD, created_by=ds_admin)
    # exactly the bodies the SDK signs (protocol §6.8, §6.12, §6.14; uid = the dataset)
    calls = [
        ("datasetdatalongpolling", "GET", A, {"process_hash": str(job.process_hash), "timeout_seconds": 0}),
        ("video", "POST", A, [{"video_hash": str(row.data_hash), "title": "renamed"}]),
        ("datasetusers", "POST", A, {"user_emails": [stranger.email], "user_role": 0}),
        ("datasetdatalongpolling", "POST", A, {"dataItems": None, "ignoreErrors": False}),
    ]
    for query_type, method, uid, payload in calls:
        body = json.dumps(
            {"query_type": query_type, "query_method": method, "values": {"uid": uid, "payload": payload}}
        ).encode()
        before = _state()
        replay = victim.post_raw("/public", body, resource_id=B).json()
        assert replay["status"] != 200, (query_type, method, replay)
        assert error_code(replay) == "INVALID_ARGUMENTS_ERROR" and "different datasets" in replay["payload"]
        assert _state() == before, f"a refused replay of {query_type}/{method} changed something"


@pytest.mark.django_db
def test_bodies_naming_rows_or_tasks_of_a_find_nothing_in_b(wire_client, ds_admin, two_datasets):
    a, b, row = two_datasets
    A, B = str(a.dataset_hash), str(b.dataset_hash)
    victim = wire_client(ds_admin)
    task = ReEncodeTaskFactory(dataset=a, created_by=ds_admin)
    for query_type, method, uid, payload in [
        ("datarow", "GET", str(row.data_hash), {"additional_data": {"client_metadata": True}}),
        ("datarow", "POST", str(row.data_hash), {"data_title": "replayed"}),
        ("reencodevideotask", "GET", task.pk, None),
    ]:
        body, original = _captured(victim, query_type, method, uid, payload, A)
        assert original.json()["status"] == 200, original.json()
        before = _state()
        replay = victim.post_raw("/public", body, resource_id=B).json()
        assert error_code(replay) == "RESOURCE_NOT_FOUND_ERROR", (query_type, replay)
        assert _state() == before
    _captured(victim, "video", "DELETE", [str(row.data_hash)], None, B)  # A's row named with ResourceID B
    assert m.DataRow.objects.filter(pk=row.pk).exists(), "a DELETE replayed with B removed a row of A"


# ---- production refuses plain HTTP -------------------------------------------------------------


def _settings_of_a_fresh_process(tmp_path, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SECURE_", "DEBUG", "PYTEST", "SECRET_KEY"))}
    clean.update(DATA_DIR=str(tmp_path), SECRET_KEY="k" * 50, DJANGO_SETTINGS_MODULE="dashboard.settings", **env)
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER, "
        "s.SECURE_REDIRECT_EXEMPT]))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    redirect, hsts, proxy_header, exempt = json.loads(result.stdout.strip().splitlines()[-1])
    return {"redirect": redirect, "hsts": hsts, "proxy_header": proxy_header, "exempt": exempt}


def test_production_refuses_plain_http_by_default(tmp_path):
    s = _settings_of_a_fresh_process(tmp_path, DEBUG="0")
    assert s["redirect"] is True
    assert s["hsts"] >= 31536000
    assert s["proxy_header"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert {"^healthz$", "^livez$", "^metrics$"} <= set(s["exempt"])


def test_https_enforcement_can_be_turned_off_for_a_proxy_that_sets_no_header(tmp_path):
    s = _settings_of_a_fresh_process(tmp_path, DEBUG="0", SECURE_SSL_REDIRECT="0", SECURE_PROXY_SSL_HEADER="0")
    assert s["redirect"] is False and s["proxy_header"] is None
    assert s["hsts"] >= 31536000  # HSTS is sent on HTTPS responses only; it stays


def test_development_keeps_plain_http(tmp_path):
    s = _settings_of_a_fresh_process(tmp_path, DEBUG="1")
    assert s["redirect"] is False and s["hsts"] == 0 and s["proxy_header"] is None


@pytest.mark.django_db
def test_plain_http_requests_are_redirected_and_health_checks_are_not(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    client = Client()  # built after the override: SecurityMiddleware reads settings when loaded
    plain = client.post("/public", data=b"{}", content_type="application/json")
    assert plain.status_code == 301 and plain["Location"].startswith("https://")
    assert client.get("/livez").status_code == 200
    assert client.get("/healthz").status_code != 301
    over_tls = client.post("/public", data=b"{}", content_type="application/json", HTTP_X_FORWARDED_PROTO="https")
    assert over_tls.status_code != 301 and over_tls["Strict-Transport-Security"].startswith("max-age=31536000")
    # requests turns the redirected POST into a GET: the answer says what to change
    followed = client.get("/public", HTTP_X_FORWARDED_PROTO="https")
    assert followed.status_code == 405 and "give the client an https:// domain" in followed.json()["payload"]
