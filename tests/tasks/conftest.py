"""A real Celery worker thread for data-job tests (embedded filesystem broker, or CELERY_BROKER_URL)."""

from __future__ import annotations

import pytest
from celery.contrib.testing.worker import start_worker

from dashboard.celery import app as celery_app


@pytest.fixture
def data_worker(transactional_db):
    """Consumes both queues (`default` for images/DICOM, `media` for videos), solo pool."""
    with start_worker(
        celery_app, pool="solo", perform_ping_check=False, queues=["default", "media"], shutdown_timeout=30
    ):
        yield
