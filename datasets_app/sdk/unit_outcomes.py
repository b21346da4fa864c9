"""Recording a data job's outcomes, the steps both runners share (uploads in sdk/jobs.py, private
imports in sdk/private_import.py): a unit's rows and DONE in one transaction, a unit's error, the
rest cancelled after a failure, and the job's final status. Each move is a conditional update
(PENDING -> ...), so a redelivered task changes nothing."""

from __future__ import annotations

import logging
import uuid

from django.db import transaction
from django.utils import timezone

from datasets_app import models as m
from datasets_app.media import storage

from . import dataset_stats, queue
from .item_deletion import data_rows_delete, items_delete_unlinked
from .sequence_videos import queue_for_job
from .units import Destination

logger = logging.getLogger(__name__)


def enqueue_data_job(job: m.DataJob, *, video: bool = False) -> None:
    """Queues the job's task once the surrounding transaction commits (video jobs: `media` queue)."""
    queue.enqueue(queue.RUN_VIDEO_DATA_JOB if video else queue.RUN_DATA_JOB, job.pk)


def record_unit_error(unit: m.DataJobUnit, message: str) -> bool:
    """Marks a pending unit ERROR with a message a person can act on; False if it was already
    finished (a redelivery). Upload units' files are removed then: nothing half-kept."""
    now = timezone.now()
    done = (
        m.DataJobUnit.objects.filter(pk=unit.pk, status=m.JobStatus.PENDING).update(
            status=m.JobStatus.ERROR, error=message[:5000], finished_at=now
        )
        == 1
    )
    if done and unit.job.kind == m.DataJob.KIND_UPLOAD:
        delete_unit_files(unit)
    return done


def unit_files(unit: m.DataJobUnit) -> list[str]:
    keys = list(unit.object_urls or [])
    return keys + [storage.thumbnail_key(k) for k in keys]


def delete_unit_files(unit: m.DataJobUnit) -> None:
    try:
        storage.delete_files(unit_files(unit))
    except OSError:
        logger.exception("could not remove the files of failed unit %s", unit.pk)


def commit_unit(
    job: m.DataJob,
    unit: m.DataJobUnit,
    *,
    rows: list[m.DataRow],
    members: dict[uuid.UUID, list[m.DataRowMember]],
    results: list[dict],
    upsert: list[tuple[int, dict]] | None = None,
    dest: Destination | None = None,
) -> bool:
    """Creates the unit's items (`row.item`, unsaved), the rows linking them (dest.links: none
    for a folder no dataset mirrors, more for a plain dataset's upload into a mirror folder) and
    the items' members (by the row's data_hash), and marks it DONE, atomically; False (and nothing
    created) if another delivery finished it first. `upsert`: (item pk, metadata) of existing
    items that take that metadata."""
    now = timezone.now()
    with transaction.atomic():
        claimed = m.DataJobUnit.objects.filter(pk=unit.pk, status=m.JobStatus.PENDING).update(
            status=m.JobStatus.DONE, results=results, finished_at=now
        )
        if claimed != 1:
            return False
        if rows:
            for row in rows:
                row.created_by_job_id = row.item.created_by_job_id = unit.pk
            m.StorageItem.objects.bulk_create([row.item for row in rows])
            links = dest.links(rows) if dest is not None else rows
            m.DataRow.objects.bulk_create(links)
            dataset_stats.rows_added(links)
            by_hash = {r.data_hash: r for r in rows}
            all_members = []
            for data_hash, group in members.items():
                for mem in group:
                    mem.item = by_hash[data_hash].item
                    all_members.append(mem)
            if all_members:
                m.DataRowMember.objects.bulk_create(all_members, batch_size=2000)
        for item_pk, metadata in upsert or []:
            m.StorageItem.objects.filter(pk=item_pk).update(client_metadata=metadata, last_edited_at=now)
        touched = [job.dataset_id] if dest is None else [dest.dataset_id, *dest.also]
        m.Dataset.objects.filter(pk__in=[d for d in touched if d is not None]).update(last_edited_at=now)
    return True


def unit_result(row: m.DataRow, duplicate_of: str | None = None) -> dict:
    """A unit's result for one row; `row.item` may be a model or a bulk_insert.blank_row."""
    out = {
        "data_hash": str(row.data_hash),
        "title": row.item.name,
        "backing_item_uuid": str(row.item.item_uuid),
    }
    if row.dataset_id is None:
        del out["data_hash"]  # a Files upload into a folder no dataset mirrors: an item, no row
    if duplicate_of:
        out["duplicate_of"] = duplicate_of
    return out


def cancel_pending(job: m.DataJob, reason: str) -> int:
    """Marks the job's pending units CANCELLED (a unit a worker is probing then records nothing:
    its conditional PENDING -> DONE loses); their uploaded files go. Returns how many."""
    units = list(
        m.DataJobUnit.objects.filter(job=job, status=m.JobStatus.PENDING).only("pk", "object_urls", "job")
    )
    cancelled = m.DataJobUnit.objects.filter(pk__in=[u.pk for u in units], status=m.JobStatus.PENDING).update(
        status=m.JobStatus.CANCELLED, error=reason, finished_at=timezone.now()
    )
    if cancelled and job.kind == m.DataJob.KIND_UPLOAD:
        storage.delete_files([k for u in units for k in unit_files(u)])
    return cancelled




def finish_data_job(job: m.DataJob) -> str:
    """Records the job's final status from its units, once. With ignore_errors off, a failed unit
    makes the job ERROR and the rows of its other units are rolled back (nothing half-added)."""
    # One query: the units' states, and whether any asked for its image group as a video.
    outcomes = set(m.DataJobUnit.objects.filter(job=job).values_list("status", "spec__create_video").distinct())
    statuses = {status for status, _ in outcomes}
    wants_video = any(video for _, video in outcomes)
    if m.JobStatus.PENDING in statuses:
        return m.JobStatus.PENDING
    failed = m.JobStatus.ERROR in statuses
    if failed and not job.ignore_errors:
        with transaction.atomic():
            claimed = m.DataJob.move(
                job.pk, m.JobStatus.PENDING, m.JobStatus.ERROR, message="At least one item failed; nothing was added."
            )
            if claimed:
                # Nothing half-added: the job's rows go (in every dataset), and the items it created.
                data_rows_delete(m.DataRow.objects.filter(created_by_job__job=job), with_items=False)
                items_delete_unlinked(
                    m.StorageItem.objects.filter(created_by_job__job=job).values_list("pk", flat=True)
                )
                m.DataJobUnit.objects.filter(job=job, status=m.JobStatus.DONE).update(
                    status=m.JobStatus.CANCELLED,
                    error="Rolled back: another item of this job failed and ignore_errors is off.",
                )
        return m.JobStatus.ERROR
    if m.JobStatus.CANCELLED in statuses:
        # Only a caller's cancel leaves cancelled units in a job that did not fail.
        m.DataJob.move(job.pk, m.JobStatus.PENDING, m.JobStatus.CANCELLED)
        return m.JobStatus.CANCELLED
    finished = m.DataJob.move(job.pk, m.JobStatus.PENDING, m.JobStatus.DONE)
    if finished and wants_video:
        queue_for_job(job)
    return m.JobStatus.DONE
