"""Thin Celery tasks: ids and plain values in, a call into sdk/jobs.py."""

from __future__ import annotations

from celery import shared_task

from datasets_app.sdk import jobs


@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def delete_stored_files_task(keys: list[str]) -> int:
    return jobs.run_delete_files(keys)


# Re-encodes are long: one at a time per worker process, redone on redelivery if the worker dies.
@shared_task(queue="media", acks_late=True, reject_on_worker_lost=True)
def reencode_videos_task(task_id: int) -> str:
    from datasets_app.sdk import reencode_jobs

    return reencode_jobs.run_reencode(task_id)
