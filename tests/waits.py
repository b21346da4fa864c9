"""Waits for work a finished data job hands on to the worker (tests that compare the state before
and after something must let it finish first)."""

from __future__ import annotations

import time

from datasets_app import models as m


def sequence_videos_settled(dataset, timeout: float = 90) -> None:
    """Until no image group of the dataset has its sequence video PENDING: a job asked for with
    create_video queues that video when it ends, so the job's DONE comes before the video's file."""
    deadline = time.monotonic() + timeout
    while m.DataRow.objects.filter(dataset=dataset, item__sequence_video_status="PENDING").exists():
        assert time.monotonic() < deadline, "a sequence video stayed PENDING"
        time.sleep(0.1)


def wait_for(predicate, timeout: float = 90.0, interval: float = 0.2):
    """predicate()'s first truthy value, polled every `interval` seconds; AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(interval)
    raise AssertionError("timed out")


def finish_job_from_another_thread(job_pk: int) -> None:
    """Marks a data job DONE as a worker would, on the calling thread's own connection (closed
    after), so a waiter on the test's thread sees the change arrive from elsewhere."""
    from django.db import connection

    m.DataJob.objects.filter(pk=job_pk).update(status=m.JobStatus.DONE)
    connection.close()
