"""Celery beat tasks (CELERY_BEAT_SCHEDULE in settings): thin wrappers over sdk/maintenance.py."""

from __future__ import annotations

from celery import shared_task

from datasets_app.sdk import dataset_stats, maintenance


@shared_task(acks_late=True, ignore_result=True)
def expire_upload_slots_task() -> int:
    return maintenance.expire_upload_slots()


@shared_task(acks_late=True, ignore_result=True)
def sweep_orphan_files_task() -> int:
    return len(maintenance.sweep_orphan_files())


@shared_task(acks_late=True, ignore_result=True)
def requeue_stuck_jobs_task() -> int:
    return maintenance.requeue_stuck_jobs()


@shared_task(acks_late=True, ignore_result=True)
def sweep_upload_staging_task() -> int:
    from datasets_app.sdk import chunked_uploads

    return chunked_uploads.sweep_staging()


@shared_task(acks_late=True, ignore_result=True)
def reconcile_dataset_stats_task() -> int:
    return dataset_stats.reconcile()
