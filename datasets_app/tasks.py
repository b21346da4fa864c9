"""Thin Celery tasks: ids and plain values in, one call into the SDK layer's runners (sdk/jobs.py,
sdk/reencode_jobs.py, sdk/sequence_videos.py). The SDK queues them by name (sdk/queue.py), so
nothing imports this module back."""

from __future__ import annotations

from celery import shared_task

from datasets_app.sdk import jobs, reencode_jobs, sequence_videos


@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def delete_stored_files_task(keys: list[str]) -> int:
    return jobs.run_delete_files(keys)


# Data jobs (uploads, private-cloud imports): units already recorded are skipped on redelivery.
# Jobs with videos go to the `media` queue (CELERY_TASK_ROUTES), the rest to `default`.
@shared_task(acks_late=True, reject_on_worker_lost=True, time_limit=2 * 3600, soft_time_limit=2 * 3600 - 60)
def run_data_job_task(job_id: int) -> str:
    return jobs.run_data_job(job_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, time_limit=6 * 3600, soft_time_limit=6 * 3600 - 60)
def run_video_data_job_task(job_id: int) -> str:
    return jobs.run_data_job(job_id)


# Re-encodes are long: one at a time per worker process, redone on redelivery if the worker dies.
# Routed to the `media` queue by CELERY_TASK_ROUTES (settings).
@shared_task(acks_late=True, reject_on_worker_lost=True)
def reencode_videos_task(task_id: int) -> str:
    return reencode_jobs.run_reencode(task_id)


# An image group asked for as a video (createVideo): one task per group, after its data job.
@shared_task(acks_late=True, reject_on_worker_lost=True, time_limit=2 * 3600, soft_time_limit=2 * 3600 - 60)
def make_sequence_video_task(item_uuid: str) -> str:
    # (tasks queued before storage items existed carry a row's data_hash: also accepted)
    return sequence_videos.make_sequence_video(item_uuid)


# The frame table of a video row that has none yet, asked for by a web request (which never probes
# itself): one probe, bounded, in the worker; a row that has a verdict by now is left alone.
@shared_task(acks_late=True, reject_on_worker_lost=True, time_limit=3600, soft_time_limit=3600 - 60)
def probe_video_row_task(data_hash: str) -> str:
    return reencode_jobs.probe_row_once(data_hash)
