"""sdk/queue.py sends tasks by name: every name must be a task the worker knows, and a message sent
inside a transaction leaves only when it commits."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import transaction

from dashboard.celery import app
from datasets_app import tasks  # noqa: F401  (registers the tasks)
from datasets_app.sdk import queue


@pytest.mark.parametrize("name", queue.TASK_NAMES)
def test_every_queued_name_is_a_registered_task(name):
    assert name in app.tasks, f"{name} is not a task of the Celery app"


def test_every_task_of_the_app_can_be_queued_by_name():
    ours = {n for n in app.tasks if n.startswith("datasets_app.tasks.")}
    assert ours <= set(queue.TASK_NAMES), ours - set(queue.TASK_NAMES)


@pytest.mark.django_db(transaction=True)
def test_sent_after_commit_and_not_at_all_on_rollback():
    with mock.patch.object(app, "send_task") as send:
        with transaction.atomic():
            queue.enqueue(queue.PROBE_VIDEO_ROW, "abc")
            assert not send.called
        send.assert_called_once_with(queue.PROBE_VIDEO_ROW, args=["abc"])
        send.reset_mock()
        with pytest.raises(RuntimeError), transaction.atomic():
            queue.enqueue(queue.PROBE_VIDEO_ROW, "abc")
            raise RuntimeError("rolled back")
        assert not send.called


def test_no_keys_queue_nothing():
    with mock.patch.object(app, "send_task") as send:
        queue.delete_files_after_commit([])
    assert not send.called
