"""A real Celery worker thread for data-job tests (embedded filesystem broker, or CELERY_BROKER_URL)."""

from __future__ import annotations

import pytest
from celery.contrib.testing.worker import start_worker

from dashboard.celery import app as celery_app


@pytest.fixture(scope="session")
def _data_worker_thread(django_db_setup, django_db_blocker):
    """One worker for the session (starting one per test costs ~4 s): both queues, solo pool.

    Earlier tests of the session may have queued tasks that no worker took (their rows are gone
    by now): drop them, so this worker never spends its shutdown window on stale work."""
    with django_db_blocker.unblock():
        celery_app.control.purge()
    with (
        django_db_blocker.unblock(),
        start_worker(
            celery_app,
            pool="solo",
            perform_ping_check=False,
            queues=["default", "media"],
            shutdown_timeout=120,
        ),
    ):
        yield


@pytest.fixture
def data_worker(transactional_db, _data_worker_thread):
    yield
