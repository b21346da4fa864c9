"""The one way the SDK layer queues work: a task named by string, sent once the surrounding
transaction commits (so a worker never looks for a row that is not there yet, and a rolled-back
request queues nothing).

The SDK never imports `datasets_app.tasks` (imports go edges -> sdk -> media/models, and tasks.py
is an edge); Celery routes a message by its task name (CELERY_TASK_ROUTES), so sending by name is
the same as `.delay`. tests/tasks/test_queue.py checks that every name here is a registered task."""

from __future__ import annotations

from collections.abc import Iterable

from celery import current_app
from django.db import transaction

DELETE_STORED_FILES = "datasets_app.tasks.delete_stored_files_task"
RUN_DATA_JOB = "datasets_app.tasks.run_data_job_task"
RUN_VIDEO_DATA_JOB = "datasets_app.tasks.run_video_data_job_task"
REENCODE_VIDEOS = "datasets_app.tasks.reencode_videos_task"
MAKE_SEQUENCE_VIDEO = "datasets_app.tasks.make_sequence_video_task"
PROBE_VIDEO_ROW = "datasets_app.tasks.probe_video_row_task"

TASK_NAMES = (DELETE_STORED_FILES, RUN_DATA_JOB, RUN_VIDEO_DATA_JOB, REENCODE_VIDEOS, MAKE_SEQUENCE_VIDEO, PROBE_VIDEO_ROW)


def enqueue(task_name: str, *args) -> None:
    """Sends `task_name(*args)` after commit (at once outside a transaction). Arguments are ids and
    plain JSON values."""
    transaction.on_commit(lambda: current_app.send_task(task_name, args=list(args)))


def delete_files_after_commit(keys: Iterable[str]) -> None:
    """Queues the deletion of hosted files once the surrounding transaction commits."""
    keys = list(keys)
    if keys:
        enqueue(DELETE_STORED_FILES, keys)
