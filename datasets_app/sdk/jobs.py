"""Worker-side entry points: tasks call these with ids or plain values.

`run_data_job(job_id)` processes a data job's units. Each unit's outcome is recorded once with a
conditional update (PENDING -> DONE/ERROR) in the same transaction as the rows it creates, so a
redelivered task skips finished units and never creates a row twice. Upload units are processed
here; private imports (DataJob.KIND_PRIVATE) by sdk/private_import.py's runner. Recording outcomes
is sdk/unit_outcomes.py, shared by both."""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict

from celery.exceptions import SoftTimeLimitExceeded
from django.db import transaction
from django.utils import timezone

from datasets_app import models as m
from datasets_app.media import probe, storage
from datasets_app.media.probe import MediaError

from . import uploads as up
from .private_import import process_private_unit, run_private_job
from .unit_outcomes import (
    cancel_pending,
    commit_unit,
    delete_unit_files,
    finish_data_job,
    record_unit_error,
    unit_result,
)

logger = logging.getLogger(__name__)

UNIT_BATCH = 500


def run_delete_files(keys: list[str]) -> int:
    return storage.delete_files(keys)


# ---- processing upload units ---------------------------------------------------------------------


def _probe_file(key: str, sha: str, kind: str, unit_used: int = 0):
    """(facts, sha256) of one hosted upload; MediaError when missing, not the right media or
    over a media limit (`unit_used`: pixels of the unit's earlier files, see media/probe.py)."""
    try:
        with storage.local_copy(key, want_sha256=not sha) as (path, digest):
            if kind == up.UNIT_VIDEO:
                facts = probe.video(path)
            elif kind == up.UNIT_DICOM:
                facts = probe.dicom(path, unit_used=unit_used)
            else:
                facts = probe.image(path, unit_used=unit_used)
    except FileNotFoundError:
        raise MediaError("The uploaded file is missing from storage.") from None
    return facts, sha or digest


def _existing_by_sha(job: m.DataJob, shas: list[str]) -> dict[str, str]:
    """sha256 -> data_hash of rows of this dataset with that content (one indexed query)."""
    shas = [s for s in shas if s]
    if not shas:
        return {}
    found = {}
    for sha, data_hash in (
        m.DataRow.objects.filter(dataset_id=job.dataset_id, sha256__in=shas)
        .values_list("sha256", "data_hash")
        .order_by("created_at")
    ):
        found.setdefault(sha, str(data_hash))
    return found



def _skip_duplicate(job: m.DataJob, unit: m.DataJobUnit, title: str, existing: str, metadata: dict) -> None:
    """Skip: nothing is created, the upload's files go, the result names the existing row."""
    upsert = [(existing, metadata)] if job.upsert_metadata and metadata else None
    results = [{"title": title, "duplicate_of": existing, "skipped": True}]
    if commit_unit(job, unit, rows=[], members={}, results=results, upsert=upsert):
        delete_unit_files(unit)


def _process_single(job: m.DataJob, unit: m.DataJobUnit) -> None:
    spec = unit.spec
    kind = spec["type"]
    key = spec["key"]
    facts, sha = _probe_file(key, spec.get("sha256", ""), kind)
    existing = _existing_by_sha(job, [sha]).get(sha)
    if existing and job.skip_duplicates:
        _skip_duplicate(job, unit, spec["title"], existing, spec.get("client_metadata") or {})
        return
    thumb = storage.thumbnail_key(key)
    storage.save_small(thumb, facts.thumbnail)
    row = m.DataRow(
        dataset_id=job.dataset_id,
        title=spec["title"],
        data_type=m.DataType.VIDEO if kind == up.UNIT_VIDEO else m.DataType.IMAGE,
        file_size=spec.get("size"),
        mime_type="video/mp4" if kind == up.UNIT_VIDEO else facts.mime_type,
        width=facts.width,
        height=facts.height,
        client_metadata=spec.get("client_metadata") or {},
        storage_key=key,
        sha256=sha,
        thumbnail_key=thumb,
    )
    if kind == up.UNIT_VIDEO:
        row.fps, row.duration, row.frame_count = facts.fps, facts.duration, facts.frame_count
        row.media_info = facts.media_info
        container = (facts.media_info or {}).get("container") or ""
        row.mime_type = _VIDEO_MIME.get(container.split(",")[0], "video/mp4")
    commit_unit(job, unit, rows=[row], members={}, results=[unit_result(row, existing)])


_VIDEO_MIME = {
    "mov": "video/mp4",
    "matroska": "video/x-matroska",
    "avi": "video/x-msvideo",
    "webm": "video/webm",
}


def _process_image_group(job: m.DataJob, unit: m.DataJobUnit) -> None:
    """Images of one resolution form one group; several resolutions make several groups, each
    keeping the caller's order as data_sequence. Any bad image fails the whole unit."""
    spec = unit.spec
    probed, used = [], 0
    for f in spec["files"]:
        try:
            facts, sha = _probe_file(f["key"], f.get("sha256", ""), up.UNIT_IMAGE, used)
        except MediaError as exc:
            raise MediaError(f"{f['title']}: {exc.reason}") from None
        used += facts.width * facts.height
        probed.append((f, facts, sha))
    groups: OrderedDict[tuple[int, int], list] = OrderedDict()
    for item in probed:
        groups.setdefault((item[1].width, item[1].height), []).append(item)
    base_title = spec.get("title") or f"image-group-{str(unit.subtask_uuid)[:8]}"
    digests = {res: up.group_digest([sha for _, _, sha in items]) for res, items in groups.items()}
    existing = _existing_by_sha(job, list(digests.values()))
    metadata = spec.get("client_metadata") or {}
    if job.skip_duplicates and existing and all(d in existing for d in digests.values()):
        _skip_duplicate(job, unit, base_title, existing[next(iter(digests.values()))], metadata)
        return
    rows, members, results = [], {}, []
    for (w, h), items in groups.items():
        digest = digests[(w, h)]
        if job.skip_duplicates and digest in existing:
            results.append({"title": base_title, "duplicate_of": existing[digest], "skipped": True})
            continue
        title = base_title if len(groups) == 1 else f"{base_title} ({w}x{h})"
        group_members = []
        for seq, (f, facts, sha) in enumerate(items):
            thumb = storage.thumbnail_key(f["key"])
            storage.save_small(thumb, facts.thumbnail)
            group_members.append(
                m.DataRowMember(
                    data_sequence=seq,
                    title=f["title"],
                    storage_key=f["key"],
                    mime_type=facts.mime_type,
                    file_size=f.get("size"),
                    width=w,
                    height=h,
                    sha256=sha,
                    thumbnail_key=thumb,
                )
            )
        row = m.DataRow(
            dataset_id=job.dataset_id,
            title=title,
            data_type=m.DataType.IMG_GROUP,
            file_size=sum(mem.file_size or 0 for mem in group_members),
            mime_type=group_members[0].mime_type,
            width=w,
            height=h,
            frame_count=len(group_members),
            client_metadata=metadata,
            sha256=digest,
            thumbnail_key=group_members[0].thumbnail_key,
            is_optimised_image_group=bool(spec.get("create_video")),
            sequence_video_status="PENDING" if spec.get("create_video") else "",
        )
        rows.append(row)
        members[row.data_hash] = group_members
        results.append(unit_result(row, existing.get(digest)))
    commit_unit(job, unit, rows=rows, members=members, results=results)


def _process_dicom(job: m.DataJob, unit: m.DataJobUnit) -> None:
    from datasets_app.media.dicom import series_order

    spec = unit.spec
    probed, used = [], 0
    for f in spec["files"]:
        try:
            info, sha = _probe_file(f["key"], f.get("sha256", ""), up.UNIT_DICOM, used)
        except MediaError as exc:
            raise MediaError(f"{f['title']}: {exc.reason}") from None
        used += info.pixels
        probed.append((f, info, sha))
    order = series_order([info for _, info, _ in probed])
    ordered = [probed[i] for i in order]
    digest = up.group_digest([sha for _, _, sha in ordered])
    title = spec.get("title") or f"dicom-series-{str(unit.subtask_uuid)[:8]}"
    metadata = spec.get("client_metadata") or {}
    existing = _existing_by_sha(job, [digest]).get(digest)
    if existing and job.skip_duplicates:
        _skip_duplicate(job, unit, title, existing, metadata)
        return
    first = ordered[0][1]
    thumb = _dicom_thumbnail(ordered[0][0]["key"])
    group_members = [
        m.DataRowMember(
            data_sequence=seq,
            title=f["title"],
            storage_key=f["key"],
            mime_type="application/dicom",
            file_size=f.get("size"),
            width=info.columns,
            height=info.rows,
            sha256=sha,
        )
        for seq, (f, info, sha) in enumerate(ordered)
    ]
    row = m.DataRow(
        dataset_id=job.dataset_id,
        title=title,
        data_type=m.DataType.DICOM,
        file_size=sum(mem.file_size or 0 for mem in group_members),
        mime_type="application/dicom",
        width=first.columns,
        height=first.rows,
        frame_count=len(group_members),
        client_metadata=metadata,
        sha256=digest,
        thumbnail_key=thumb,
        media_info={"modality": first.modality, "series_instance_uid": first.series_instance_uid},
    )
    commit_unit(
        job, unit, rows=[row], members={row.data_hash: group_members}, results=[unit_result(row, existing)]
    )


def _dicom_thumbnail(key: str) -> str:
    """The thumbnail key of a series' first slice ("" when its pixels cannot be decoded here)."""
    with storage.local_copy(key) as (path, _):
        data = probe.dicom_thumbnail(path)
    if data is None:
        return ""
    thumb = storage.thumbnail_key(key)
    storage.save_small(thumb, data)
    return thumb


_UPLOAD_PROCESSORS = {
    up.UNIT_VIDEO: _process_single,
    up.UNIT_IMAGE: _process_single,
    up.UNIT_IMAGE_GROUP: _process_image_group,
    up.UNIT_DICOM: _process_dicom,
}


def process_unit(job: m.DataJob, unit: m.DataJobUnit) -> None:
    """Processes one pending unit by the job's kind; every failure is recorded on the unit."""
    unit.job = job
    try:
        if job.kind == m.DataJob.KIND_PRIVATE:
            process_private_unit(unit)
        else:
            _UPLOAD_PROCESSORS[unit.spec["type"]](job, unit)
    except MediaError as exc:
        record_unit_error(unit, exc.reason)
    except SoftTimeLimitExceeded:
        raise
    except Exception as exc:
        # A person can act on the type and message; the traceback goes to the log with the job id.
        logger.exception("data job %s unit %s failed", job.pk, unit.index)
        record_unit_error(unit, f"Could not process this item ({type(exc).__name__}: {exc}).")


# ---- the job ------------------------------------------------------------------------------------


def run_data_job(job_id: int) -> str:
    """Processes every pending unit of the job, then records its final status. Safe to run twice
    or concurrently: finished units are skipped. Returns the job's status."""
    job = m.DataJob.objects.select_related("dataset").filter(pk=job_id).first()
    if job is None:
        return "MISSING"
    if job.is_terminal:
        return job.status
    if job.kind == m.DataJob.KIND_PRIVATE:
        # Private imports probe through the integration in parallel batches (their own runner).
        return run_private_job(job_id)
    pending_ids = list(
        m.DataJobUnit.objects.filter(job=job, status=m.JobStatus.PENDING)
        .order_by("index")
        .values_list("pk", flat=True)
    )
    for start in range(0, len(pending_ids), UNIT_BATCH):
        batch = m.DataJobUnit.objects.filter(
            pk__in=pending_ids[start : start + UNIT_BATCH], status=m.JobStatus.PENDING
        )
        failed = False
        for unit in batch.order_by("index"):
            process_unit(job, unit)
            if (
                not job.ignore_errors
                and m.DataJobUnit.objects.filter(pk=unit.pk, status=m.JobStatus.ERROR).exists()
            ):
                failed = True
                break
        if failed:
            cancel_pending(job, "Not processed: another item of this job failed and ignore_errors is off.")
            break
    return finish_data_job(job)


