"""Uploads into a Files folder (storage protocol §3): signed upload URLs whose placeholders become
the items, data-upload jobs (local uploads, cloud registrations, private-files documents), their
long poll and cancel.

The same pipeline as dataset uploads (sdk/units.py): a job (DataJob with `folder` and no dataset)
of units, run by sdk/jobs.run_data_job. Items go into the folder; when a dataset mirrors it, that
dataset gets a row per item (§4.2, units.Destination). Who may: WRITE_FILES on the folder to
upload or cancel, READ_FILES to poll; jobs are visible to whoever started them.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from datasets_app import models as m

from .data_items import ACTION, ITEM_TYPE_OF_KIND, parse_data_items
from .exceptions import AuthorisationError, InvalidArgumentError
from .folder_access import parse_uuid, require_folder
from .job_status import DatasetDataLongPolling, job_status
from .policy import Op, Principal
from .private_import import start_private_job
from .unit_outcomes import cancel_pending, enqueue_data_job, finish_data_job
from .units import KIND_IMAGE_GROUP, KIND_VIDEO, UnitSpec
from .upload_slots import ITEM_TYPES, IssuedUpload, claim_slots, issue_upload_urls
from .uploads import MAX_POLL_SECONDS, POLL_INTERVAL_SECONDS
from .validation import clean_flag

SUPPORTED_LISTS = ("videos", "images", "imageGroups", "dicomSeries")
UNSUPPORTED_LISTS = ("imageGroupsFromItems", "audio", "timeSeries", "nifti", "text", "pdf", "scenes")
SWITCHES = ("skipDuplicateUrls", "upsertMetadata")
# dataItems' list -> (entry key of its files, their URL key): groups and series name files inside.
FILE_LISTS = {"imageGroups": "images", "dicomSeries": "dicomFiles"}


@dataclass(frozen=True)
class FolderUploadState:
    """UploadLongPollingState (§3.5): the job's state, `items_with_names` once DONE (or CANCELLED:
    what was done stays), per-unit errors, counts and the manifest name given at start."""

    poll: DatasetDataLongPolling
    file_name: str | None


def upload_job_not_found(job_uuid: object, folder_uuid: object) -> AuthorisationError:
    return AuthorisationError(
        f"Upload job {job_uuid} does not exist in folder {folder_uuid} or you do not have access to it"
    )


# ---- step 1: signed upload URLs --------------------------------------------------------------------


def issue_folder_upload_urls(
    principal: Principal, folder_uuid: object, item_type: Any, count: Any, *, base_url: str | None = None
) -> list[IssuedUpload]:
    """`count` signed upload URLs for files of `item_type` going into the folder; each answer's
    item_uuid is the placeholder the item (or group frame / series file) will have. WRITE_FILES.
    Types other than image, video and dicomFile are refused before any byte moves."""
    folder = require_folder(principal, folder_uuid, Op.WRITE_FILES)
    count = clean_count(count)
    if item_type not in ITEM_TYPES:
        raise InvalidArgumentError(
            f"Item type {str(item_type)[:40]!r} is not supported by this server (supported: {', '.join(ITEM_TYPES)})",
            field="itemType",
        )
    return issue_upload_urls(principal, count, item_type, base_url=base_url, folder=folder)


def clean_count(value: Any) -> int:
    """A JSON whole number (2 or 2.0: both are integers to JSON Schema and the SDK); not a string,
    a boolean or a fraction. The range is upload_slots' to check."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError("count must be a whole number.", field="count")
    return value


# ---- step 3: the job --------------------------------------------------------------------------------


def refuse_unsupported(data_items: dict) -> None:
    """Refuses keys dataItems does not have (a misspelt list would otherwise upload nothing),
    lists that are not lists, non-boolean switches, and non-empty lists of media not served."""
    unknown = sorted(set(map(str, data_items)) - set(SUPPORTED_LISTS) - set(UNSUPPORTED_LISTS) - set(SWITCHES))
    if unknown:
        raise InvalidArgumentError(f"dataItems has unknown keys: {', '.join(unknown)}.", field="dataItems")
    for name in SWITCHES:
        clean_flag(data_items.get(name), f"dataItems.{name}")
    for name in (*SUPPORTED_LISTS, *UNSUPPORTED_LISTS):
        if data_items.get(name) is not None and not isinstance(data_items[name], list):
            raise InvalidArgumentError(f"dataItems.{name} must be a list.", field=name)
    for name in UNSUPPORTED_LISTS:
        if data_items.get(name):
            raise InvalidArgumentError(
                f"dataItems.{name}: this server does not support that media type "
                f"(supported: {', '.join(SUPPORTED_LISTS)}).",
                field=name,
            )


def entries_of(data_items: dict) -> list[dict]:
    """Every entry and group/series file of dataItems that carries a URL, in order."""
    out = []
    for name in SUPPORTED_LISTS:
        for entry in data_items.get(name) or []:
            if not isinstance(entry, dict):
                raise InvalidArgumentError(f"dataItems.{name} entries must be objects.", field=name)
            files = entry.get(FILE_LISTS[name]) if name in FILE_LISTS else [entry]
            out += [f for f in files or [] if isinstance(f, dict)]
    return out


def start_folder_upload(
    principal: Principal,
    folder_uuid: object,
    *,
    data_items: Any = None,
    external_files: Any = None,
    integration_hash: Any = None,
    ignore_errors: bool = False,
    file_name: str | None = None,
) -> str:
    """Starts a data-upload job into the folder (§3.4, §3.7); returns its uuid. WRITE_FILES.

    - `data_items` with placeholders (local uploads): each placeholder must be a slot issued to
      the caller for this folder, uploaded and unused; it becomes the item's (or frame's) uuid.
    - `data_items` without placeholders, or `external_files` (a private-files document, the
      dataset format), with `integration_hash`: cloud objects read through the integration."""
    folder = require_folder(principal, folder_uuid, Op.WRITE_FILES)
    if (data_items is None) == (external_files is None):
        raise InvalidArgumentError("Give exactly one of dataItems and externalFiles.", field="dataItems")
    if data_items is not None:
        if not isinstance(data_items, dict):
            raise InvalidArgumentError("dataItems must be a JSON object.", field="dataItems")
        refuse_unsupported(data_items)
        entries = entries_of(data_items)
        placeholders = [e.get("placeholderItemUuid") for e in entries]
        if entries and all(placeholders):
            return start_local_upload(principal, folder, data_items, placeholders, ignore_errors=ignore_errors)
        if any(placeholders):
            raise InvalidArgumentError(
                "Either every dataItems entry names its placeholderItemUuid (uploaded files) or none "
                "does (cloud objects with integrationHash).",
                field="dataItems",
            )
        external_files = private_document(data_items)
    if integration_hash is None:
        raise InvalidArgumentError("Cloud objects need integrationHash.", field="integrationHash")
    return start_private_job(
        principal,
        dataset=None,
        folder=folder,
        integration_id=integration_hash,
        private_files=external_files,
        ignore_errors=ignore_errors,
        file_name=file_name or "",
    )


def private_document(data_items: dict) -> dict:
    """The private-files document (DP §6.10) saying what placeholder-less dataItems say, so both
    are read by one parser (sdk/private_manifest.py)."""
    doc: dict[str, Any] = {"videos": [], "images": [], "image_groups": [], "dicom_series": []}
    for name, meta_key in (("videos", "videoMetadata"), ("images", "imageMetadata")):
        for entry in data_items.get(name) or []:
            kept = {k: entry[k] for k in ("objectUrl", "title", "clientMetadata", meta_key) if k in entry}
            doc[name].append(kept)
    for name, section in (("imageGroups", "image_groups"), ("dicomSeries", "dicom_series")):
        for entry in data_items.get(name) or []:
            files = entry.get(FILE_LISTS[name])
            if not isinstance(files, list) or not files:
                raise InvalidArgumentError(f"dataItems.{name} entries need {FILE_LISTS[name]}.", field=name)
            kept = {f"objectUrl_{i}": f.get("url") if isinstance(f, dict) else f for i, f in enumerate(files)}
            kept["title"] = entry.get("title") or f"{section[:-1].replace('_', '-')}-{uuid.uuid4().hex[:8]}"
            if "clientMetadata" in entry:
                kept["clientMetadata"] = entry["clientMetadata"]
            if name == "imageGroups":
                kept["createVideo"] = entry.get("createVideo", False)
            doc[section].append(kept)
    doc["skip_duplicate_urls"] = data_items.get("skipDuplicateUrls", False)
    doc["upsert_metadata"] = data_items.get("upsertMetadata", False)
    return doc


def slots_of(principal: Principal, folder: m.StorageFolder, placeholders: list) -> dict[str, m.UploadSlot]:
    """placeholder uuid (text) -> its slot, issued to the caller for this folder (one query)."""
    wanted = [parse_uuid(p, "placeholderItemUuid") for p in placeholders]
    owner = {"user": principal.user} if principal.api_key is None else {"api_key": principal.api_key}
    found = {
        str(s.item_uuid): s for s in m.UploadSlot.objects.filter(item_uuid__in=wanted, folder=folder, **owner)
    }
    missing = [str(w) for w in wanted if str(w) not in found]
    if missing:
        raise InvalidArgumentError(
            f"placeholderItemUuid {missing[0]} was not issued to you for this folder (ask upload-signed-urls).",
            field="placeholderItemUuid",
        )
    return found


def with_keys(data_items: dict, slots: dict[str, m.UploadSlot]) -> dict:
    """dataItems whose objectUrl/url are the placeholders' object keys (the SDK's copies are
    ignored: the placeholder names the upload)."""
    out = dict(data_items)
    for name in SUPPORTED_LISTS:
        entries = []
        for entry in data_items.get(name) or []:
            entry = dict(entry)
            if name in FILE_LISTS:
                entry[FILE_LISTS[name]] = [
                    {**f, "url": slots[str(parse_uuid(f["placeholderItemUuid"], "placeholderItemUuid"))].object_key}
                    for f in entry[FILE_LISTS[name]]
                ]
            else:
                entry["objectUrl"] = slots[str(parse_uuid(entry["placeholderItemUuid"], "placeholderItemUuid"))].object_key
            entries.append(entry)
        out[name] = entries
    return out


def start_local_upload(
    principal: Principal, folder: m.StorageFolder, data_items: dict, placeholders: list, *, ignore_errors: bool
) -> str:
    """Registers uploaded files as a job of units whose items keep their placeholders' uuids;
    consumes the slots, creates the job and its units in one transaction and queues it."""
    slots = slots_of(principal, folder, placeholders)
    specs, skip, upsert = parse_data_items(with_keys(data_items, slots))
    by_key = {s.object_key: s for s in slots.values()}
    keys_by_type: dict[str, str] = {}
    for spec in specs:
        spec.one_group = spec.kind == KIND_IMAGE_GROUP
        for f in spec.files:
            if f.source in keys_by_type:
                raise InvalidArgumentError(f"A placeholder is named twice: {by_key[f.source].item_uuid}.")
            keys_by_type[f.source] = ITEM_TYPE_OF_KIND[spec.kind]
            f.item_uuid = str(by_key[f.source].item_uuid)
    with transaction.atomic():
        claimed = claim_slots(principal, keys_by_type, folder=folder)
        for spec in specs:
            for f in spec.files:
                f.sha256, f.size = claimed[f.source].sha256, claimed[f.source].size
        job = create_upload_job(principal, folder, specs, ignore_errors=ignore_errors, skip=skip, upsert=upsert)
    return str(job.process_hash)


def create_upload_job(
    principal: Principal, folder: m.StorageFolder, specs: list[UnitSpec], *, ignore_errors: bool, skip: bool, upsert: bool
) -> m.DataJob:
    job = m.DataJob.objects.create(
        folder=folder,
        kind=m.DataJob.KIND_UPLOAD,
        created_by=principal.user,
        api_key=principal.api_key,
        ignore_errors=bool(ignore_errors),
        skip_duplicates=skip,
        upsert_metadata=skip and upsert,
        units_total=len(specs),
    )
    m.DataJobUnit.objects.bulk_create(
        [
            m.DataJobUnit(
                job=job, index=i, spec=spec.to_json(), object_urls=spec.sources, action_description=ACTION[spec.kind]
            )
            for i, spec in enumerate(specs)
        ],
        batch_size=2000,
    )
    enqueue_data_job(job, video=any(s.kind == KIND_VIDEO for s in specs))
    return job


# ---- step 4: poll, and cancel -------------------------------------------------------------------------


def folder_job(principal: Principal, folder_uuid: object, job_uuid: object, op: Op) -> m.DataJob:
    """The caller's upload job of this folder (`op` on the folder); one answer for missing,
    another folder's and someone else's jobs."""
    folder = require_folder(principal, folder_uuid, op)
    job_id = parse_uuid(job_uuid, "upload_job_id")
    owner = {"created_by": principal.user} if principal.api_key is None else {"api_key": principal.api_key}
    job = m.DataJob.objects.filter(folder=folder, dataset__isnull=True, process_hash=job_id, **owner).first()
    if job is None:
        raise upload_job_not_found(job_id, folder.folder_uuid)
    return job


def clean_timeout(value: Any) -> float:
    """timeoutSeconds as a number of seconds to hold, at most MAX_POLL_SECONDS (the SDK sends its
    whole wait, days; its read timeout is 180 s)."""
    try:
        seconds = float(value if value not in (None, "") else 0)
    except (TypeError, ValueError):
        raise InvalidArgumentError("timeoutSeconds must be a number.", field="timeoutSeconds") from None
    if not seconds >= 0:
        raise InvalidArgumentError("timeoutSeconds must not be negative.", field="timeoutSeconds")
    return min(seconds, MAX_POLL_SECONDS)


def wait_folder_upload(
    principal: Principal, folder_uuid: object, job_uuid: object, timeout_seconds: float = 0
) -> FolderUploadState:
    """Holds until the job is terminal or `timeout_seconds` pass (re-reading its status every
    POLL_INTERVAL_SECONDS, one small query), then its state. READ_FILES."""
    job = folder_job(principal, folder_uuid, job_uuid, Op.READ_FILES)
    deadline = time.monotonic() + timeout_seconds
    status = job.status
    while status == m.JobStatus.PENDING and (remaining := deadline - time.monotonic()) > 0:
        time.sleep(min(POLL_INTERVAL_SECONDS, remaining))
        status = m.DataJob.objects.filter(pk=job.pk).values_list("status", flat=True).first()
    job.refresh_from_db()
    return FolderUploadState(poll=job_status(job), file_name=job.file_name or None)


def cancel_folder_upload(principal: Principal, folder_uuid: object, job_uuid: object) -> int:
    """Stops the job's units that have not finished (done ones keep their items); the job ends
    CANCELLED once nothing is pending. Returns how many units this call cancelled (0 for a repeat
    or a finished job). WRITE_FILES."""
    job = folder_job(principal, folder_uuid, job_uuid, Op.WRITE_FILES)
    if job.is_terminal:
        return 0
    cancelled = cancel_pending(job, "Cancelled by the uploader.")
    finish_data_job(job)
    return cancelled
