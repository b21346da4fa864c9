from __future__ import annotations

import pytest

from dashboard.celery import app


@pytest.mark.django_db
def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    assert response.json() == {"status": "ok", "problems": []}


@pytest.mark.django_db
def test_healthz_reports_unreachable_broker(client):
    # Celery may have filled broker_write_url from broker_url: point both at the discard port.
    saved = app.conf.broker_url, app.conf.broker_write_url
    app.conf.broker_url = app.conf.broker_write_url = "redis://127.0.0.1:9/0"
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url, app.conf.broker_write_url = saved
    assert response.status_code == 503
    [problem] = response.json()["problems"]
    assert problem.startswith("broker:")
