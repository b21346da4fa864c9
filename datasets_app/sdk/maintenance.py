"""Periodic upkeep run by Celery beat (datasets_app/periodic.py): expired upload slots, orphan hosted
files, jobs whose units stayed pending past their time limit. Each function is safe to run twice
and from two beat processes at once (rows are claimed with conditional deletes/updates)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Iterator

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from datasets_app import models as m
from datasets_app.media import storage

from . import queue, sequence_videos

logger = logging.getLogger(__name__)


def expire_upload_slots(*, now: dt.datetime | None = None, batch: int = 500) -> int:
    """Deletes upload slots past expires_at that were never registered, then their stored files
    (after commit). Returns how many slots went. One SELECT + one DELETE per batch."""
    now = now or timezone.now()
    removed = 0
    while True:
        with transaction.atomic():
            # skip_locked: a second beat (or a registration holding the row) is left alone.
            rows = list(
                m.UploadSlot.objects.select_for_update(skip_locked=True)
                .filter(expires_at__lt=now, consumed_at__isnull=True)
                .values_list("pk", "object_key")[:batch]
            )
            if not rows:
                return removed
            m.UploadSlot.objects.filter(pk__in=[pk for pk, _ in rows], consumed_at__isnull=True).delete()
            keys = [key for _, key in rows if key]
            # Files go only once the rows are gone for good; a failure leaves an orphan that
            # sweep_orphan_files collects later, never a slot pointing at nothing.
            transaction.on_commit(lambda keys=keys: storage.delete_files(keys))
        removed += len(rows)
        logger.info("expired %d upload slots", len(rows))


def _referenced(keys: list[str]) -> set[str]:
    """Which of these keys a storage item, member, upload slot or re-encode output points at. Eight
    queries."""
    found: set[str] = set()
    for model, fields in (
        (m.StorageItem, ("storage_key", "thumbnail_key", "original_storage_key", "sequence_video_key")),
        (m.DataRowMember, ("storage_key", "thumbnail_key")),
        (m.UploadSlot, ("object_key",)),
        (m.ReEncodeVideo, ("output_key",)),
    ):
        for field in fields:
            found.update(model.objects.filter(**{f"{field}__in": keys}).values_list(field, flat=True))
    return found


def find_orphan_files(*, older_than: dt.timedelta, batch: int = 1000) -> Iterator[str]:
    """Stored keys nothing in the database points at, last modified before now - older_than.

    Streams the storage listing and checks it in batches, so memory stays flat at any size. The age
    guard leaves alone files a running job wrote moments before it records their row."""
    cutoff = timezone.now() - older_than
    pending: list[str] = []

    def flush() -> Iterator[str]:
        refs = _referenced(pending)
        for key in pending:
            if key in refs:
                continue
            try:
                if storage.modified_time(key) > cutoff:
                    continue
            except (NotImplementedError, FileNotFoundError):
                continue
            yield key
        pending.clear()

    # .part files included: those an interrupted write left behind are orphans too.
    for key in storage.walk_keys(include_partial=True):
        pending.append(key)
        if len(pending) >= batch:
            yield from flush()
    if pending:
        yield from flush()


def sweep_orphan_files(*, older_than: dt.timedelta | None = None, dry_run: bool = False) -> list[str]:
    """Deletes (unless dry_run) hosted files no row references; returns their keys."""
    if older_than is None:
        # Longer than an upload URL lives and a task may run, so nothing in flight is touched.
        longest = max(settings.UPLOAD_URL_LIFETIME_SECONDS, settings.CELERY_TASK_TIME_LIMIT)
        older_than = dt.timedelta(seconds=longest) + dt.timedelta(hours=1)
    orphans = list(find_orphan_files(older_than=older_than))
    if orphans and not dry_run:
        storage.delete_files(orphans)
        logger.warning("deleted %d orphan stored files", len(orphans))
    return orphans


def _resumable_jobs() -> list[tuple[type[m.Job], str, str]]:
    """(job model, the related name of its units, the task that runs it by id).

    Stuck data jobs go to run_video_data_job_task (the `media` queue, the long time limit): it runs
    the same idempotent sdk.jobs.run_data_job, and media workers can do every kind of unit."""
    return [
        (m.ReEncodeTask, "videos", queue.REENCODE_VIDEOS),
        (m.DataJob, "units", queue.RUN_VIDEO_DATA_JOB),
    ]


def requeue_stuck_jobs(*, now: dt.datetime | None = None, stuck_after: dt.timedelta | None = None) -> int:
    """Queues again every job still not terminal whose row has not moved for `stuck_after`
    (default JOB_STUCK_AFTER_SECONDS, longer than a task may run, so no live run is doubled).

    Covers messages lost with a broker restart and runs killed without redelivery. Each job is
    claimed by bumping updated_at with a conditional update, so two beats queue it once; the job
    runners are idempotent, so a requeue of a job that was merely slow is still one result."""
    now = now or timezone.now()
    if stuck_after is None:  # timedelta(0) is a real value: "everything not terminal"
        stuck_after = dt.timedelta(seconds=settings.JOB_STUCK_AFTER_SECONDS)
    cutoff = now - stuck_after
    queued = 0
    for model, units, task in _resumable_jobs():
        # A unit finished recently means a worker is on it: not stuck, however old the job row.
        stuck = model.objects.filter(status=model.INITIAL_STATUS, updated_at__lt=cutoff).exclude(
            **{f"{units}__finished_at__gte": cutoff}
        )
        for pk in stuck.values_list("pk", flat=True).distinct()[:1000]:
            with transaction.atomic():
                if not model.claim_stuck(pk, cutoff=cutoff, now=now):
                    continue
                queue.enqueue(task, pk)
            queued += 1
            logger.warning("re-queued stuck %s %s", model.__name__, pk)
    sequences = sequence_videos.requeue_stuck(cutoff, now)
    if sequences:
        logger.warning("re-queued %d stuck image-sequence videos", sequences)
    return queued + sequences
