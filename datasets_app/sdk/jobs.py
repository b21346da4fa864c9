"""Worker-side entry points: tasks call these with ids or plain values.

`run_data_job(job_id)` processes a data job's units. Each unit's outcome is recorded once with a
conditional update (PENDING -> DONE/ERROR) in the same transaction as the rows it creates, so a
redelivered task skips finished units and never creates a row twice. Upload units are processed
here; private imports (DataJob.KIND_PRIVATE) by sdk/private_import.py's runner. Recording outcomes
is sdk/unit_outcomes.py, shared by both."""

from __future__ import annotations

import logging

from celery.exceptions import SoftTimeLimitExceeded

from datasets_app import models as m
from datasets_app.media import probe, storage
from datasets_app.media.probe import MediaError

from .private_import import process_private_unit, run_private_job
from .units import (
    DICOM_MIME,
    KIND_DICOM,
    KIND_IMAGE,
    KIND_IMAGE_GROUP,
    KIND_VIDEO,
    Destination,
    FileFacts,
    UnitFile,
    UnitSpec,
    dicom_order,
    dicom_row,
    group_digest,
    group_parts,
    image_group_row,
    single_row,
)
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


def _probe_file(f: UnitFile, kind: str, unit_used: int = 0) -> FileFacts:
    """What one hosted upload is; MediaError when missing, not the right media or over a media
    limit (`unit_used`: pixels of the unit's earlier files, see media/probe.py)."""
    try:
        with storage.local_copy(f.source, want_sha256=not f.sha256) as (path, digest):
            if kind == KIND_VIDEO:
                facts = probe.video(path)
            elif kind == KIND_DICOM:
                facts = probe.dicom(path, unit_used=unit_used)
            else:
                facts = probe.image(path, unit_used=unit_used)
    except FileNotFoundError:
        raise MediaError("The uploaded file is missing from storage.") from None
    place = {"storage_key": f.source, "sha256": f.sha256 or digest}
    if kind == KIND_DICOM:
        return FileFacts(
            item_uuid=f.item_uuid,
            title=f.title,
            place=place,
            size=f.size,
            mime_type=DICOM_MIME,
            width=facts.columns,
            height=facts.rows,
            instance_number=facts.instance_number,
            pixels=facts.pixels,
            media_info={"modality": facts.modality, "series_instance_uid": facts.series_instance_uid},
        )
    place["thumbnail_key"] = storage.thumbnail_key(f.source)
    out = FileFacts(
        item_uuid=f.item_uuid,
        title=f.title,
        place=place,
        size=f.size,
        mime_type=getattr(facts, "mime_type", ""),  # a video's is read from its container below
        width=facts.width,
        height=facts.height,
        pixels=facts.width * facts.height,
        thumbnail=facts.thumbnail,
    )
    if kind == KIND_VIDEO:
        out.fps, out.duration, out.frame_count = facts.fps, facts.duration, facts.frame_count
        out.media_info = facts.media_info
        container = (facts.media_info or {}).get("container") or ""
        out.mime_type = _VIDEO_MIME.get(container.split(",")[0], "video/mp4")
    return out


def _probe_files(spec: UnitSpec) -> list[FileFacts]:
    """Probes a group's or series' files in order; any bad file fails the unit, named."""
    probed, used = [], 0
    for f in spec.files:
        try:
            facts = _probe_file(f, spec.kind, used)
        except MediaError as exc:
            raise MediaError(f"{f.title}: {exc.reason}") from None
        used += facts.pixels
        probed.append(facts)
    return probed


def _existing_by_sha(job: m.DataJob, dest: Destination, shas: list[str]) -> dict[str, tuple[str, int]]:
    """sha256 -> (what the result names, item pk) of media with that content already there (one
    indexed query): a dataset job's dataset rows (by data_hash), a Files job's folder items (by
    item uuid: duplicates are judged within the folder, §3.4)."""
    shas = [s for s in shas if s]
    if not shas:
        return {}
    if job.dataset_id is not None:
        found_rows = m.DataRow.objects.filter(dataset_id=job.dataset_id, item__sha256__in=shas)
        values = found_rows.values_list("item__sha256", "data_hash", "item_id")
    else:
        found_items = m.StorageItem.objects.filter(folder_id=dest.folder_id, sha256__in=shas)
        values = found_items.values_list("sha256", "item_uuid", "pk")
    found: dict[str, tuple[str, int]] = {}
    for sha, label, item_pk in values.order_by("created_at"):
        found.setdefault(sha, (str(label), item_pk))
    return found


def _skip_duplicate(
    job: m.DataJob, unit: m.DataJobUnit, title: str, existing: tuple[str, int], metadata: dict
) -> None:
    """Skip: nothing is created, the upload's files go, the result names the existing row."""
    upsert = [(existing[1], metadata)] if job.upsert_metadata and metadata else None
    results = [{"title": title, "duplicate_of": existing[0], "skipped": True}]
    if commit_unit(job, unit, rows=[], members={}, results=results, upsert=upsert):
        delete_unit_files(unit)


def _save_thumbnails(files: list[FileFacts]) -> None:
    for f in files:
        storage.save_small(f.place["thumbnail_key"], f.thumbnail)


def _process_single(job: m.DataJob, unit: m.DataJobUnit, spec: UnitSpec) -> None:
    (facts,) = _probe_files(spec)  # its error names the file, as a group's does
    sha = facts.place["sha256"]
    dest = Destination.of_job(job)
    existing = _existing_by_sha(job, dest, [sha]).get(sha)
    if existing and job.skip_duplicates:
        _skip_duplicate(job, unit, spec.title, existing, spec.client_metadata)
        return
    _save_thumbnails([facts])
    row = single_row(dest=dest, spec=spec, title=spec.title, facts=facts, place=facts.place)
    result = unit_result(row, existing and existing[0])
    commit_unit(job, unit, rows=[row], members={}, results=[result], dest=dest)


_VIDEO_MIME = {
    "mov": "video/mp4",
    "matroska": "video/x-matroska",
    "avi": "video/x-msvideo",
    "webm": "video/webm",
}


def _process_image_group(job: m.DataJob, unit: m.DataJobUnit, spec: UnitSpec) -> None:
    """Images of one resolution form one group; several resolutions make several groups, each
    keeping the caller's order as data_sequence. Any bad image fails the whole unit."""
    groups = group_parts(spec, _probe_files(spec))
    base_title = spec.title or f"image-group-{str(unit.subtask_uuid)[:8]}"
    digests = {res: group_digest([f.place["sha256"] for f in files]) for res, files in groups.items()}
    dest = Destination.of_job(job)
    existing = _existing_by_sha(job, dest, list(digests.values()))
    if job.skip_duplicates and existing and all(d in existing for d in digests.values()):
        _skip_duplicate(job, unit, base_title, existing[next(iter(digests.values()))], spec.client_metadata)
        return
    rows, members, results = [], {}, []
    for (w, h), files in groups.items():
        digest = digests[(w, h)]
        if job.skip_duplicates and digest in existing:
            results.append({"title": base_title, "duplicate_of": existing[digest][0], "skipped": True})
            continue
        _save_thumbnails(files)
        title = base_title if len(groups) == 1 else f"{base_title} ({w}x{h})"
        place = {"sha256": digest, "thumbnail_key": files[0].place["thumbnail_key"]}
        row, group_members = image_group_row(dest=dest, spec=spec, title=title, files=files, place=place)
        rows.append(row)
        members[row.data_hash] = group_members
        results.append(unit_result(row, existing[digest][0] if digest in existing else None))
    commit_unit(job, unit, rows=rows, members=members, results=results, dest=dest)


def _process_dicom(job: m.DataJob, unit: m.DataJobUnit, spec: UnitSpec) -> None:
    ordered = dicom_order(_probe_files(spec))
    digest = group_digest([f.place["sha256"] for f in ordered])
    title = spec.title or f"dicom-series-{str(unit.subtask_uuid)[:8]}"
    dest = Destination.of_job(job)
    existing = _existing_by_sha(job, dest, [digest]).get(digest)
    if existing and job.skip_duplicates:
        _skip_duplicate(job, unit, title, existing, spec.client_metadata)
        return
    place = {"sha256": digest, "thumbnail_key": _dicom_thumbnail(ordered[0].place["storage_key"])}
    row, members = dicom_row(dest=dest, spec=spec, title=title, files=ordered, place=place)
    result = unit_result(row, existing and existing[0])
    commit_unit(job, unit, rows=[row], members={row.data_hash: members}, results=[result], dest=dest)


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
    KIND_VIDEO: _process_single,
    KIND_IMAGE: _process_single,
    KIND_IMAGE_GROUP: _process_image_group,
    KIND_DICOM: _process_dicom,
}


def process_unit(job: m.DataJob, unit: m.DataJobUnit) -> None:
    """Processes one pending unit by the job's kind; every failure is recorded on the unit."""
    unit.job = job
    try:
        if job.kind == m.DataJob.KIND_PRIVATE:
            process_private_unit(unit)
        else:
            spec = UnitSpec.from_json(unit.spec)
            _UPLOAD_PROCESSORS[spec.kind](job, unit, spec)
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


