"""The Celery app `dashboard`: configured from Django settings (CELERY_* names)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

app = Celery("dashboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Trace ids from the request into its tasks, task timings, storage-error counts.
from datasets_app.observability import connect_celery_signals  # noqa: E402

connect_celery_signals()
