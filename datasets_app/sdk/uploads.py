"""Media operations of a Dataset: local uploads (videos, images, image groups, DICOM series), the
data jobs that register them, and the upload slots (signed URLs) clients PUT files to.

Flow, for the API and for pages alike: (1) issue upload slots (UploadSlot rows; a signed URL each),
(2) the bytes stream into hosted storage (our signed PUT, or S3's own pre-signed URL), SHA-256
computed on the way, (3) a data job names the slots' object keys: checked, consumed and turned
into DataJob + DataJobUnit rows in one transaction, (4) a Celery task (sdk/jobs.py run_data_job)
probes each unit and creates the rows; callers poll `get_data_job` / `wait_data_job`.
`Dataset` inherits `UploadsMixin`."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from datasets_app import models as m
from datasets_app.media import signed, storage

from .exceptions import (
    AuthorisationError,
    InvalidArgumentError,
    OperationNotAllowed,
    PayloadTooLargeError,
    ResourceNotFoundError,
)
from .policy import Op, Principal, parse_hash
from .private_import import add_private_data, add_private_data_start
from .private_manifest import local_document
from .unit_outcomes import enqueue_data_job
from .validation import clean_title

logger = logging.getLogger(__name__)

ITEM_VIDEO = "video"
ITEM_IMAGE = "image"
ITEM_DICOM = "dicomFile"
ITEM_TYPES = (ITEM_VIDEO, ITEM_IMAGE, ITEM_DICOM)
MAX_URLS_PER_CALL = 1000
MAX_UNITS_PER_JOB = 100_000
MAX_FILES_PER_GROUP = 10_000
UPLOAD_PURPOSE = "upload"
# Long polls re-read the job this often; never longer than asked in total. Under the production web
# tier that is one small indexed query per process for all waiting polls; a finished job is seen
# 50 ms later on average (at 0.3 s, 150 ms: 8% of a 1 GiB upload_video on this machine).
POLL_INTERVAL_SECONDS = 0.1
MAX_POLL_SECONDS = 60

UNIT_VIDEO = "video"
UNIT_IMAGE = "image"
UNIT_IMAGE_GROUP = "image_group"
UNIT_DICOM = "dicom"
UNIT_ITEM_TYPE = {
    UNIT_VIDEO: ITEM_VIDEO,
    UNIT_IMAGE: ITEM_IMAGE,
    UNIT_IMAGE_GROUP: ITEM_IMAGE,
    UNIT_DICOM: ITEM_DICOM,
}
ACTION = {
    UNIT_VIDEO: "Uploading video",
    UNIT_IMAGE: "Uploading image",
    UNIT_IMAGE_GROUP: "Creating image group",
    UNIT_DICOM: "Creating DICOM series",
}


# ---- return types -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataUnitError:
    object_urls: list[str]
    error: str
    subtask_uuid: str
    action_description: str


@dataclass(frozen=True)
class DatasetDataInfo:
    data_hash: str
    title: str
    backing_item_uuid: str


@dataclass(frozen=True)
class DatasetDataLongPolling:
    """Encord's upload-job status: every field the SDK requires, plus `duplicates` (ours)."""

    status: str
    data_hashes_with_titles: list[DatasetDataInfo]
    errors: list[str]
    data_unit_errors: list[DataUnitError]
    units_pending_count: int
    units_done_count: int
    units_error_count: int
    units_cancelled_count: int
    duplicates: list[dict] = field(default_factory=list)
    process_hash: str = ""

    @property
    def is_terminal(self) -> bool:
        return self.status != m.JobStatus.PENDING

    @property
    def units_total(self) -> int:
        return (
            self.units_pending_count
            + self.units_done_count
            + self.units_error_count
            + self.units_cancelled_count
        )


@dataclass(frozen=True)
class IssuedUpload:
    item_uuid: str
    object_key: str
    signed_url: str
    upload_headers: dict = field(default_factory=dict)
    file_name: str = ""


@dataclass(frozen=True)
class ReceivedUpload:
    object_key: str
    size: int
    sha256: str


# ---- upload slots -------------------------------------------------------------------------------


def _owner_filter(principal: Principal) -> dict:
    if principal.api_key is not None:
        return {"api_key_id": principal.api_key.pk}
    return {"user_id": principal.user.pk}


def _upload_url(slot: m.UploadSlot, *, base_url: str | None) -> str:
    """Where the client PUTs the file: S3's own pre-signed URL, or our signed PUT endpoint."""
    lifetime = max(1, int((slot.expires_at - timezone.now()).total_seconds()))
    if storage.is_s3():
        return storage.presigned_put_url(slot.object_key, lifetime_seconds=lifetime)
    expires = int(slot.expires_at.timestamp())
    signature = signed.sign(UPLOAD_PURPOSE, str(slot.item_uuid), slot.item_type, expires=expires)
    base = (base_url or settings.PUBLIC_BASE_URL or "").rstrip("/")
    return f"{base}/upload/{slot.item_uuid}?{urlencode({'expires': expires, 'signature': signature})}"


def _check_open_slots(principal: Principal, adding: int, *, staging_bytes: int = 0) -> None:
    """Refuses more than UPLOAD_MAX_OPEN_SLOTS uploads in progress (issued, not yet in a job, not
    expired) per caller, and more than UPLOAD_MAX_STAGING_BYTES declared by its unfinished browser
    uploads. One aggregate query."""
    limit, byte_limit = settings.UPLOAD_MAX_OPEN_SLOTS, settings.UPLOAD_MAX_STAGING_BYTES
    open_slots = m.UploadSlot.objects.filter(
        consumed_at__isnull=True, expires_at__gt=timezone.now(), **_owner_filter(principal)
    )
    have = open_slots.aggregate(n=Count("id"), staged=Sum("size", filter=Q(uploaded_at__isnull=True)))
    if limit and have["n"] + adding > limit:
        raise InvalidArgumentError(
            f"You have {have['n']} uploads in progress; the limit is {limit}. Finish them (start their "
            f"jobs) or wait until their URLs expire, then ask for {adding} more.",
            field="count",
        )
    staged = have["staged"] or 0
    if staging_bytes and byte_limit and staged + staging_bytes > byte_limit:
        raise InvalidArgumentError(
            f"Your unfinished uploads hold {staged} bytes; with this file ({staging_bytes} bytes) that would "
            f"pass the limit of {byte_limit} bytes. Finish or abandon some uploads first.",
            field="size",
        )


def create_slots(
    principal: Principal, item_type: str, names: list[str], *, dataset: m.Dataset | None, staging_bytes: int = 0
) -> list[m.UploadSlot]:
    if item_type not in ITEM_TYPES:
        raise InvalidArgumentError(
            f"uploadItemType {item_type!r} is not one of {', '.join(ITEM_TYPES)}.", field="uploadItemType"
        )
    _check_open_slots(principal, len(names), staging_bytes=staging_bytes)
    expires_at = timezone.now() + dt.timedelta(seconds=settings.UPLOAD_URL_LIFETIME_SECONDS)
    slots = []
    for name in names:
        item_uuid = uuid.uuid4()
        slots.append(
            m.UploadSlot(
                item_uuid=item_uuid,
                object_key=storage.upload_key(item_uuid),
                item_type=item_type,
                file_name=name[:1024],
                user=principal.user,
                api_key=principal.api_key,
                dataset=dataset,
                expires_at=expires_at,
            )
        )
    m.UploadSlot.objects.bulk_create(slots)
    return slots


def issue_upload_urls(
    principal: Principal, count: Any, item_type: str, *, base_url: str | None = None
) -> list[IssuedUpload]:
    """`count` upload slots of one item type for this caller (v2 presigned-urls; no dataset yet).

    One INSERT whatever the count. Each URL accepts one file until it expires; its object key is
    what the caller names when it starts a data job."""
    if isinstance(count, bool) or not isinstance(count, int):
        try:
            count = int(count)
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"count must be an integer, not {count!r}.", field="count") from None
    if not 1 <= count <= MAX_URLS_PER_CALL:
        raise InvalidArgumentError(f"count must be between 1 and {MAX_URLS_PER_CALL}.", field="count")
    slots = create_slots(principal, item_type, [""] * count, dataset=None)
    return [
        IssuedUpload(
            item_uuid=str(s.item_uuid), object_key=s.object_key, signed_url=_upload_url(s, base_url=base_url)
        )
        for s in slots
    ]


def verify_upload_url(item_uuid: str, item_type: str, expires: Any, signature: Any) -> bool:
    return signed.verify(UPLOAD_PURPOSE, item_uuid, item_type, expires=expires, signature=signature)


class UploadRefused(Exception):
    """A PUT we will not take: `status` is the HTTP status to answer, `reason` says why."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(reason)


def _counted(chunks: Iterable[bytes], expected: int | None) -> Iterator[bytes]:
    """Passes chunks through; an early end of a body announced longer means the client went away."""
    seen = 0
    for chunk in chunks:
        seen += len(chunk)
        yield chunk
    if expected is not None and seen != expected:
        raise UploadRefused(400, f"The upload ended after {seen} of {expected} bytes; nothing was kept.")


def receive_upload(
    item_uuid: str,
    *,
    expires: Any,
    signature: Any,
    chunks: Iterable[bytes],
    content_length: int | None,
    content_type: str = "",
) -> ReceivedUpload:
    """Streams a signed PUT body into the slot's object key, hashing it on the way (one pass).

    Refuses (UploadRefused with the HTTP status) a bad/expired signature (403), an unknown (404)
    or consumed (409) slot, and a body over settings.UPLOAD_MAX_BYTES (413, before reading when
    Content-Length says so). A repeated PUT before registration replaces the file (clients retry);
    an interrupted one leaves the previous state untouched."""
    try:
        item = uuid.UUID(str(item_uuid))
    except ValueError:
        raise UploadRefused(404, "No such upload URL.") from None
    slot = m.UploadSlot.objects.filter(item_uuid=item).first()
    if slot is None:
        raise UploadRefused(404, "No such upload URL.")
    if not verify_upload_url(str(slot.item_uuid), slot.item_type, expires, signature):
        raise UploadRefused(403, "The upload URL's signature is invalid or has expired; ask for a new URL.")
    if slot.expires_at <= timezone.now():
        raise UploadRefused(403, "The upload URL has expired; ask for a new URL.")
    if slot.consumed_at is not None:
        raise UploadRefused(
            409, "This upload URL was already used for a registered upload; ask for a new URL."
        )
    limit = settings.UPLOAD_MAX_BYTES
    if content_length is not None and content_length > limit:
        raise UploadRefused(413, f"The file is {content_length} bytes; the limit is {limit} bytes.")
    try:
        stored = storage.save_stream(
            slot.object_key, _counted(chunks, content_length), limit=limit, content_type=content_type
        )
    except storage.TooLarge:
        raise UploadRefused(413, f"The file is larger than the limit of {limit} bytes.") from None
    # Conditional: a registration that consumed the slot meanwhile wins, and this PUT is refused.
    updated = m.UploadSlot.objects.filter(pk=slot.pk, consumed_at__isnull=True).update(
        uploaded_at=timezone.now(), size=stored.size, sha256=stored.sha256, content_type=content_type[:100]
    )
    if updated != 1:
        raise UploadRefused(
            409, "This upload URL was already used for a registered upload; ask for a new URL."
        )
    return ReceivedUpload(object_key=slot.object_key, size=stored.size, sha256=stored.sha256)


# ---- data-job payload parsing -------------------------------------------------------------------


def _str_field(entry: dict, name: str, where: str, *, required: bool = True) -> str | None:
    value = entry.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidArgumentError(f"{where}.{name} must be a non-empty string.", field=f"{where}.{name}")
    return value


def _metadata(entry: dict, where: str) -> dict:
    value = entry.get("clientMetadata", {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgumentError(
            f"{where}.clientMetadata must be a JSON object.", field=f"{where}.clientMetadata"
        )
    return value


def _files(entry: dict, list_name: str, where: str) -> list[dict]:
    files = entry.get(list_name)
    if not isinstance(files, list) or not files:
        raise InvalidArgumentError(
            f"{where}.{list_name} must be a non-empty list.", field=f"{where}.{list_name}"
        )
    if len(files) > MAX_FILES_PER_GROUP:
        raise InvalidArgumentError(f"{where}.{list_name} has more than {MAX_FILES_PER_GROUP} files.")
    out = []
    for j, f in enumerate(files):
        if not isinstance(f, dict):
            raise InvalidArgumentError(f"{where}.{list_name}[{j}] must be an object.")
        key = _str_field(f, "url", f"{where}.{list_name}[{j}]")
        title = (
            f.get("title") if isinstance(f.get("title"), str) and f.get("title") else os.path.basename(key)
        )
        out.append({"key": key, "title": clean_title(title)})
    return out


def parse_data_items(data_items: Any) -> tuple[list[dict], bool, bool]:
    """Unit specs from a data-job payload's `dataItems` (protocol §6.7 step 3 / A.6.3 step 3), plus
    (skipDuplicateUrls, upsertMetadata). InvalidArgumentError names the first bad entry."""
    if not isinstance(data_items, dict):
        raise InvalidArgumentError("payload.dataItems must be a JSON object.", field="dataItems")
    specs: list[dict] = []
    # videos and single images share one entry shape: {objectUrl, title?, clientMetadata?}
    for list_name, unit_type in (("videos", UNIT_VIDEO), ("images", UNIT_IMAGE)):
        for i, entry in enumerate(data_items.get(list_name) or []):
            where = f"{list_name}[{i}]"
            if not isinstance(entry, dict):
                raise InvalidArgumentError(f"{where} must be an object.")
            key = _str_field(entry, "objectUrl", where)
            title = entry.get("title") or os.path.basename(key)
            specs.append(
                {
                    "type": unit_type,
                    "key": key,
                    "title": clean_title(title),
                    "client_metadata": _metadata(entry, where),
                }
            )
    for i, entry in enumerate(data_items.get("imageGroups") or []):
        where = f"imageGroups[{i}]"
        if not isinstance(entry, dict):
            raise InvalidArgumentError(f"{where} must be an object.")
        title = entry.get("title")
        specs.append(
            {
                "type": UNIT_IMAGE_GROUP,
                "title": clean_title(title) if title else "",
                "create_video": bool(entry.get("createVideo", False)),
                "files": _files(entry, "images", where),
                "client_metadata": _metadata(entry, where),
            }
        )
    for i, entry in enumerate(data_items.get("dicomSeries") or []):
        where = f"dicomSeries[{i}]"
        if not isinstance(entry, dict):
            raise InvalidArgumentError(f"{where} must be an object.")
        title = entry.get("title")
        specs.append(
            {
                "type": UNIT_DICOM,
                "title": clean_title(title) if title else "",
                "files": _files(entry, "dicomFiles", where),
                "client_metadata": _metadata(entry, where),
            }
        )
    for name in ("imageGroupsFromItems", "audio", "timeSeries", "nifti", "text", "pdf", "scenes"):
        if data_items.get(name):
            raise InvalidArgumentError(f"dataItems.{name} is not supported by this server.", field=name)
    if not specs:
        raise InvalidArgumentError(
            "dataItems names no video, image, image group or DICOM series.", field="dataItems"
        )
    if len(specs) > MAX_UNITS_PER_JOB:
        raise InvalidArgumentError(f"A data job takes at most {MAX_UNITS_PER_JOB} items.", field="dataItems")
    return (
        specs,
        bool(data_items.get("skipDuplicateUrls", False)),
        bool(data_items.get("upsertMetadata", False)),
    )


def spec_keys(spec: dict) -> list[str]:
    if "files" in spec:
        return [f["key"] for f in spec["files"]]
    return [spec["key"]]


# ---- the mixin ----------------------------------------------------------------------------------


def _file_name(file: Any) -> str:
    if isinstance(file, (str, os.PathLike)):
        return os.path.basename(os.fspath(file))
    name = getattr(file, "name", "") or ""
    return os.path.basename(str(name)) if name else ""


def _job_not_found(process_hash: Any) -> ResourceNotFoundError:
    return ResourceNotFoundError(
        f"Upload job {process_hash} not found in this dataset.", process_hash=str(process_hash)
    )


class UploadsMixin:
    """Mixed into sdk.Dataset: expects `self._require(op)` and `self.principal`."""

    # -- signed upload URLs, 0.1.145 style (dataset level, one per file name) --

    def issue_signed_upload_urls(
        self, file_names: Any, item_type: str, *, base_url: str | None = None
    ) -> list[dict]:
        """One upload URL per file name (signedvideourl/signedimagesurl/signeddicomsurl), in order.

        Each answer's `title` is the file name exactly; `file_link` is our object key (never the
        name). WRITE_DATA; one INSERT."""
        ds = self._require(Op.WRITE_DATA)
        names = [file_names] if isinstance(file_names, str) else file_names
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            raise InvalidArgumentError(
                "uid must be a file name or a non-empty list of file names.", field="uid"
            )
        if len(names) > MAX_URLS_PER_CALL:
            raise InvalidArgumentError(f"At most {MAX_URLS_PER_CALL} file names per call.", field="uid")
        slots = create_slots(self.principal, item_type, names, dataset=ds)
        return [
            {
                "signed_url": _upload_url(s, base_url=base_url),
                "title": name,
                "file_link": s.object_key,
                "data_hash": str(s.item_uuid),
            }
            for s, name in zip(slots, names)
        ]

    # -- local uploads from this process (pages, tests, scripts) --

    def _store_local_files(self, files: list[Any], item_type: str) -> list[tuple[str, str]]:
        """Streams each file into a new upload slot; returns [(object_key, file name)]. On any
        failure the files already stored are removed and the error propagates."""
        ds = self._require(Op.WRITE_DATA)
        names = [_file_name(f) for f in files]
        slots = create_slots(self.principal, item_type, names, dataset=ds)
        done: list[m.UploadSlot] = []
        try:
            for slot, file in zip(slots, files):
                if isinstance(file, (str, os.PathLike)) and not os.path.isfile(file):
                    raise InvalidArgumentError(f"No such file: {os.fspath(file)}", field="file_path")
                stored = storage.save_stream(
                    slot.object_key, storage.file_chunks(file), limit=settings.UPLOAD_MAX_BYTES
                )
                done.append(slot)
                slot.uploaded_at, slot.size, slot.sha256 = timezone.now(), stored.size, stored.sha256
            # One UPDATE for all files, whatever their number.
            m.UploadSlot.objects.bulk_update(slots, ["uploaded_at", "size", "sha256"], batch_size=1000)
        except storage.TooLarge as exc:
            self._discard_slots(slots, done)
            raise PayloadTooLargeError(str(exc)) from None
        except BaseException:
            self._discard_slots(slots, done)
            raise
        return [(s.object_key, n) for s, n in zip(slots, names)]

    @staticmethod
    def _discard_slots(slots: list[m.UploadSlot], stored: list[m.UploadSlot]) -> None:
        storage.delete_files([s.object_key for s in stored])
        m.UploadSlot.objects.filter(pk__in=[s.pk for s in slots]).delete()

    def upload_video_start(self, file_path_or_file: Any, title: str | None = None) -> str:
        """Stores the video and starts its job; returns the job's process_hash at once."""
        ((key, name),) = self._store_local_files([file_path_or_file], ITEM_VIDEO)
        entry = {"objectUrl": key, "title": title or name or "video", "clientMetadata": {}}
        return self.start_data_job({"videos": [entry]})

    def upload_video(
        self, file_path_or_file: Any, title: str | None = None, *, timeout_seconds: float = 3600
    ) -> DatasetDataInfo:
        """Uploads one video and waits for its job (probe + thumbnail); returns the new row's hash,
        title and backing item. The file streams in chunks; nothing reads it whole."""
        return self._single(self.upload_video_start(file_path_or_file, title), timeout_seconds)

    def upload_image_start(self, file: Any, title: str | None = None) -> str:
        ((key, name),) = self._store_local_files([file], ITEM_IMAGE)
        entry = {"objectUrl": key, "title": title or name or "image", "clientMetadata": {}}
        return self.start_data_job({"images": [entry]})

    def upload_image(
        self, file: Any, title: str | None = None, *, timeout_seconds: float = 600
    ) -> DatasetDataInfo:
        return self._single(self.upload_image_start(file, title), timeout_seconds)

    def create_image_group_start(
        self, files: Iterable[Any], title: str | None = None, create_video: bool = False
    ) -> str:
        files = list(files)
        if not files:
            raise InvalidArgumentError("An image group needs at least one file.", field="files")
        stored = self._store_local_files(files, ITEM_IMAGE)
        entry: dict = {
            "images": [{"url": key, "title": name or f"image-{i}"} for i, (key, name) in enumerate(stored)],
            "clientMetadata": {},
            "createVideo": bool(create_video),
        }
        if title:
            entry["title"] = title
        return self.start_data_job({"imageGroups": [entry]})

    def create_image_group(
        self,
        files: Iterable[Any],
        title: str | None = None,
        create_video: bool = False,
        *,
        timeout_seconds: float = 3600,
    ) -> list[DatasetDataInfo]:
        """Creates image groups of the files, one per resolution, each in the caller's order."""
        result = self.wait_data_job(
            self.create_image_group_start(files, title, create_video), timeout_seconds
        )
        return self._raise_unless_done(result, at_least=1)

    def create_dicom_series_start(self, files: Iterable[Any], title: str | None = None) -> str:
        files = list(files)
        if not files:
            raise InvalidArgumentError("A DICOM series needs at least one file.", field="files")
        stored = self._store_local_files(files, ITEM_DICOM)
        entry: dict = {
            "dicomFiles": [
                {"url": key, "title": name or f"file-{i}"} for i, (key, name) in enumerate(stored)
            ],
            "clientMetadata": {},
        }
        if title:
            entry["title"] = title
        return self.start_data_job({"dicomSeries": [entry]})

    def create_dicom_series(
        self, files: Iterable[Any], title: str | None = None, *, timeout_seconds: float = 3600
    ) -> DatasetDataInfo:
        return self._single(self.create_dicom_series_start(files, title), timeout_seconds)

    def _single(self, process_hash: str, timeout_seconds: float) -> DatasetDataInfo:
        result = self.wait_data_job(process_hash, timeout_seconds)
        (row,) = self._raise_unless_done(result, at_least=1)
        return row

    @staticmethod
    def _raise_unless_done(result: DatasetDataLongPolling, *, at_least: int) -> list[DatasetDataInfo]:
        if result.status == m.JobStatus.PENDING:
            raise TimeoutError(
                f"Upload job {result.process_hash} is still running; poll it with get_data_job."
            )
        if result.status != m.JobStatus.DONE:
            raise InvalidArgumentError(
                "; ".join(result.errors) or "The upload failed.", process_hash=result.process_hash
            )
        if len(result.data_hashes_with_titles) < at_least:
            raise InvalidArgumentError(
                "; ".join(result.errors) or "The upload created no data row (skipped as a duplicate?).",
                process_hash=result.process_hash,
            )
        return result.data_hashes_with_titles

    # -- private-cloud data: thin delegations to sdk/private_import.py --

    def add_private_data_to_dataset_start(
        self, integration_id: Any, private_files: Any, ignore_errors: Any = False, **_: Any
    ) -> str:
        """Starts an import of media that stays in the customer's bucket; returns its process_hash.
        `private_files`: a dict, JSON text, or (in process only) a pathlib.Path or an open file."""
        return add_private_data_start(
            self,
            integration_id=integration_id,
            private_files=local_document(private_files),
            ignore_errors=ignore_errors,
        )

    def add_private_data_to_dataset_get_result(
        self, upload_job_id: Any, timeout_seconds: Any = 7 * 24 * 3600
    ) -> DatasetDataLongPolling:
        return self.wait_data_job(upload_job_id, timeout_seconds)

    def add_private_data_to_dataset(
        self, integration_id: Any, private_files: Any, ignore_errors: Any = False
    ) -> list[DatasetDataInfo]:
        return add_private_data(self, integration_id, local_document(private_files), ignore_errors)

    # -- data jobs --

    def start_data_job(
        self,
        data_items: Any,
        *,
        ignore_errors: bool = False,
        skip_duplicates: bool | None = None,
    ) -> str:
        """Registers uploaded files named by `data_items` (the wire's `dataItems`) as a data job.

        Every object key must have been issued to this caller (for this dataset, when issued per
        dataset), for the right item type, be uploaded and not yet consumed; else
        InvalidArgumentError naming the key, and nothing changes. Consumes the slots, creates the
        job and its units in one transaction (four queries whatever the size) and enqueues the
        job after commit. Returns the process_hash."""
        ds = self._require(Op.WRITE_DATA)
        specs, skip_flag, upsert = parse_data_items(data_items)
        if skip_duplicates is None:
            skip_duplicates = skip_flag
        keys_by_type: dict[str, str] = {}
        for spec in specs:
            for key in spec_keys(spec):
                if key in keys_by_type:
                    raise InvalidArgumentError(
                        f"Upload key {key!r} is named twice in this request.", object_url=key
                    )
                keys_by_type[key] = UNIT_ITEM_TYPE[spec["type"]]
        now = timezone.now()
        owner = _owner_filter(self.principal)
        with transaction.atomic():
            slots = {
                s.object_key: s
                for s in m.UploadSlot.objects.select_for_update().filter(object_key__in=list(keys_by_type))
            }
            for key, item_type in keys_by_type.items():
                slot = slots.get(key)
                problem = None
                if slot is None or any(getattr(slot, k) != v for k, v in owner.items()):
                    problem = "was not issued to you"
                elif slot.dataset_id is not None and slot.dataset_id != ds.pk:
                    problem = "was issued for another dataset"
                elif slot.item_type != item_type:
                    problem = f"was issued for a {slot.item_type} upload, not a {item_type}"
                elif slot.consumed_at is not None:
                    problem = "was already registered"
                elif slot.uploaded_at is None and not self._uploaded_to_s3(slot):
                    problem = "has not been uploaded (the PUT did not complete)"
                if problem:
                    raise InvalidArgumentError(f"Upload key {key!r} {problem}.", object_url=key)
            # Claim the slots; a concurrent registration of the same keys loses here.
            claimed = m.UploadSlot.objects.filter(
                pk__in=[s.pk for s in slots.values()], consumed_at__isnull=True
            ).update(consumed_at=now)
            if claimed != len(keys_by_type):
                raise InvalidArgumentError("Some upload keys were registered by another request meanwhile.")
            for spec in specs:
                if "files" in spec:
                    for f in spec["files"]:
                        f["sha256"] = slots[f["key"]].sha256
                        f["size"] = slots[f["key"]].size
                else:
                    spec["sha256"] = slots[spec["key"]].sha256
                    spec["size"] = slots[spec["key"]].size
            job = m.DataJob.objects.create(
                dataset=ds,
                kind=m.DataJob.KIND_UPLOAD,
                created_by=self.principal.user,
                api_key=self.principal.api_key,
                ignore_errors=bool(ignore_errors),
                skip_duplicates=bool(skip_duplicates),
                upsert_metadata=upsert,
                units_total=len(specs),
            )
            m.DataJobUnit.objects.bulk_create(
                [
                    m.DataJobUnit(
                        job=job,
                        index=i,
                        spec=spec,
                        object_urls=spec_keys(spec),
                        action_description=ACTION[spec["type"]],
                    )
                    for i, spec in enumerate(specs)
                ],
                batch_size=2000,
            )
            enqueue_data_job(job, video=any(s["type"] == UNIT_VIDEO for s in specs))
        return str(job.process_hash)

    @staticmethod
    def _uploaded_to_s3(slot: m.UploadSlot) -> bool:
        """S3 uploads bypass us: the object's presence is the proof; its size is recorded now."""
        if not storage.is_s3():
            return False
        found = storage.head(slot.object_key)
        if found is None:
            return False
        limit = settings.UPLOAD_MAX_BYTES
        if found[0] > limit:
            # The pre-signed PUT cannot fix a size (the SDK names none): this is where it is enforced.
            storage.delete_files([slot.object_key])
            raise InvalidArgumentError(
                f"Upload {slot.object_key!r} is {found[0]} bytes; the limit is {limit} bytes. "
                "Upload a smaller file with a new URL.",
                object_url=slot.object_key,
            )
        slot.size = found[0]
        slot.uploaded_at = timezone.now()
        m.UploadSlot.objects.filter(pk=slot.pk).update(size=slot.size, uploaded_at=slot.uploaded_at)
        return True

    def _get_job(self, process_hash: Any) -> m.DataJob:
        try:
            ds = self._require(Op.READ)
        except (OperationNotAllowed, AuthorisationError):
            # A write-only key polls the jobs it started.
            ds = self._require(Op.WRITE_DATA)
        job_uuid = parse_hash(process_hash, "process_hash")
        job = m.DataJob.objects.filter(
            dataset=ds, process_hash=job_uuid, **_owner_filter_job(self.principal)
        ).first()
        if job is None:
            raise _job_not_found(process_hash)
        return job

    def get_data_job(self, process_hash: Any, *, legacy: bool = False) -> DatasetDataLongPolling:
        """The job's state in Encord's long-polling shape. Jobs are visible to whoever started
        them, in their dataset. `legacy` (0.1.145 callers) never reports CANCELLED. Three queries."""
        job = self._get_job(process_hash)
        return job_status(job, legacy=legacy, reveal_duplicates=self.can(Op.READ))

    def wait_data_job(
        self, process_hash: Any, timeout_seconds: Any = 10, *, legacy: bool = False
    ) -> DatasetDataLongPolling:
        """Holds until the job is terminal or `timeout_seconds` (0..60 over the API; more in-process)
        pass, re-reading the job's status every POLL_INTERVAL_SECONDS (one small query each); never longer."""
        try:
            timeout = float(timeout_seconds if timeout_seconds is not None else 0)
        except (TypeError, ValueError):
            raise InvalidArgumentError("timeout_seconds must be a number.", field="timeout_seconds") from None
        if timeout < 0:
            raise InvalidArgumentError("timeout_seconds must not be negative.", field="timeout_seconds")
        job = self._get_job(process_hash)
        deadline = time.monotonic() + timeout
        status = job.status
        while status == m.JobStatus.PENDING:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            time.sleep(min(POLL_INTERVAL_SECONDS, remaining))
            status = m.DataJob.objects.filter(pk=job.pk).values_list("status", flat=True).first()
            if status is None:
                raise _job_not_found(process_hash)
        job.refresh_from_db()
        return job_status(job, legacy=legacy, reveal_duplicates=self.can(Op.READ))


def finished_data_jobs(process_hashes: Iterable[str]) -> set[str]:
    """Which of these jobs are no longer PENDING (one query). For the web tier's waiting long
    polls (api/long_poll.py): each hash comes from a poll the SDK layer already allowed."""
    hashes = list(process_hashes)
    if not hashes:
        return set()
    return {
        str(h)
        for h in m.DataJob.objects.filter(process_hash__in=hashes)
        .exclude(status=m.JobStatus.PENDING)
        .values_list("process_hash", flat=True)
    }


def _owner_filter_job(principal: Principal) -> dict:
    if principal.api_key is not None:
        return {"api_key_id": principal.api_key.pk}
    return {"created_by_id": principal.user.pk}


def job_status(job: m.DataJob, *, legacy: bool = False, reveal_duplicates: bool = True) -> DatasetDataLongPolling:
    """Encord's long-polling shape for a job: counts while pending; rows, errors and duplicates
    once terminal (reading results only then keeps a poll cheap). Two queries.

    `reveal_duplicates=False` (a caller that may not read rows: a WRITE-only key) leaves out
    which existing row an upload duplicated (`duplicate_of`): the job's own rows stay listed."""
    counts = {s: 0 for s in m.JobStatus.values}
    for status, n in (
        m.DataJobUnit.objects.filter(job=job).values_list("status").annotate(n=Count("id")).order_by()
    ):
        counts[status] = n
    rows: list[DatasetDataInfo] = []
    errors: list[str] = []
    unit_errors: list[DataUnitError] = []
    duplicates: list[dict] = []
    status = job.status
    if status != m.JobStatus.PENDING:
        units = (
            m.DataJobUnit.objects.filter(job=job)
            .exclude(status=m.JobStatus.PENDING)
            .values_list("status", "results", "error", "object_urls", "subtask_uuid", "action_description")
            .order_by("index")
        )
        for unit_status, results, error, urls, subtask, action in units.iterator(chunk_size=2000):
            if unit_status == m.JobStatus.DONE:
                for r in results or []:
                    if "data_hash" in r and status == m.JobStatus.DONE:
                        rows.append(
                            DatasetDataInfo(
                                data_hash=r["data_hash"],
                                title=r["title"],
                                backing_item_uuid=r["backing_item_uuid"],
                            )
                        )
                    if "duplicate_of" in r:
                        duplicate = {"title": r["title"], "skipped": bool(r.get("skipped"))}
                        if reveal_duplicates:
                            duplicate = {"title": r["title"], "duplicate_of": r["duplicate_of"], **duplicate}
                        duplicates.append(duplicate)
            elif unit_status == m.JobStatus.ERROR:
                errors.append(error)
                unit_errors.append(
                    DataUnitError(
                        object_urls=list(urls or []),
                        error=error,
                        subtask_uuid=str(subtask),
                        action_description=action,
                    )
                )
        if job.message and status == m.JobStatus.ERROR and job.message not in errors:
            errors.append(job.message)
    if legacy and status == m.JobStatus.CANCELLED:
        status = m.JobStatus.ERROR
        errors = errors or ["The job was cancelled."]
    return DatasetDataLongPolling(
        status=status,
        data_hashes_with_titles=rows,
        errors=errors,
        data_unit_errors=unit_errors,
        units_pending_count=counts[m.JobStatus.PENDING],
        units_done_count=counts[m.JobStatus.DONE],
        units_error_count=counts[m.JobStatus.ERROR],
        units_cancelled_count=counts[m.JobStatus.CANCELLED],
        duplicates=duplicates,
        process_hash=str(job.process_hash),
    )


def group_digest(shas: list[str]) -> str:
    """The content digest of an image group or series: SHA-256 over its files' digests, in order."""
    return hashlib.sha256("\n".join(shas).encode()).hexdigest()
