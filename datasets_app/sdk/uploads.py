"""Media operations of a Dataset: local uploads (videos, images, image groups, DICOM series) and
the data jobs that register uploaded files. `Dataset` inherits `UploadsMixin`.

Flow, for the API and for pages alike: (1) issue upload slots (sdk/upload_slots.py; a signed URL
each), (2) the bytes stream into hosted storage, SHA-256 computed on the way, (3) a data job names
the slots' object keys (the wire's dataItems, read by sdk/data_items.py, or unit specs built in
process): checked, consumed and turned into DataJob + DataJobUnit rows in one transaction, (4) a
Celery task (sdk/jobs.py run_data_job) probes each unit and creates the rows; callers poll
`get_data_job` / `wait_data_job` (sdk/job_status.py)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from datasets_app import models as m
from datasets_app.media import storage

from .data_items import ACTION, ITEM_TYPE_OF_KIND, group_spec, parse_data_items, single_spec
from .exceptions import (
    AuthorisationError,
    InvalidArgumentError,
    OperationNotAllowed,
    PayloadTooLargeError,
    ResourceNotFoundError,
)
from .job_status import DatasetDataInfo, DatasetDataLongPolling, finished_data_jobs, job_status, rows_or_raise
from .policy import Op, Principal, parse_hash
from .private_import import add_private_data, add_private_data_start
from .private_manifest import local_document
from .unit_outcomes import enqueue_data_job
from .units import KIND_DICOM, KIND_IMAGE, KIND_IMAGE_GROUP, KIND_VIDEO, UnitSpec, require_backing_folder
from .folder_access import require_folder
from .upload_slots import (
    ITEM_DICOM,
    ITEM_IMAGE,
    ITEM_VIDEO,
    MAX_URLS_PER_CALL,
    UploadRefused,
    claim_slots,
    create_slots,
    issue_upload_urls,
    open_upload,
    receive_upload,
    record_upload,
    store_upload,
    upload_url,
)

# Names the API and tests import from here.
__all__ = [
    "ITEM_DICOM",
    "ITEM_IMAGE",
    "ITEM_VIDEO",
    "MAX_POLL_SECONDS",
    "POLL_INTERVAL_SECONDS",
    "UploadRefused",
    "UploadsMixin",
    "finished_data_jobs",
    "issue_upload_urls",
    "open_upload",
    "receive_upload",
    "record_upload",
    "store_upload",
]

logger = logging.getLogger(__name__)

# Long polls re-read the job this often; never longer than asked in total. Under the production web
# tier that is one small indexed query per process for all waiting polls; a finished job is seen
# 50 ms later on average (at 0.3 s, 150 ms: 8% of a 1 GiB upload_video on this machine).
POLL_INTERVAL_SECONDS = 0.1
MAX_POLL_SECONDS = 60


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
                "signed_url": upload_url(s, base_url=base_url),
                "title": name,
                "file_link": s.object_key,
                "data_hash": str(s.item_uuid),
            }
            for s, name in zip(slots, names)
        ]

    # -- local uploads from this process (pages, tests, scripts) --

    def _store_local_files(self, files: list[Any], item_type: str) -> list[tuple[str, str]]:
        """Streams each file into a new upload slot; returns [(object_key, file name)]. On any
        failure the files already stored are removed and the error propagates. A plain dataset
        refuses before anything is stored (its job would be refused)."""
        ds = self._require(Op.WRITE_DATA)
        require_backing_folder(ds)
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
        return self.start_upload_units([single_spec(KIND_VIDEO, key, title or name or "video")])

    def upload_video(
        self, file_path_or_file: Any, title: str | None = None, *, timeout_seconds: float = 3600
    ) -> DatasetDataInfo:
        """Uploads one video and waits for its job (probe + thumbnail); returns the new row's hash,
        title and backing item. The file streams in chunks; nothing reads it whole."""
        return self._single(self.upload_video_start(file_path_or_file, title), timeout_seconds)

    def upload_image_start(self, file: Any, title: str | None = None) -> str:
        ((key, name),) = self._store_local_files([file], ITEM_IMAGE)
        return self.start_upload_units([single_spec(KIND_IMAGE, key, title or name or "image")])

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
        spec = group_spec(KIND_IMAGE_GROUP, [(key, name or f"image-{i}") for i, (key, name) in enumerate(stored)], title)
        spec.create_video = bool(create_video)
        return self.start_upload_units([spec])

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
        return rows_or_raise(result, at_least=1)

    def create_dicom_series_start(self, files: Iterable[Any], title: str | None = None) -> str:
        files = list(files)
        if not files:
            raise InvalidArgumentError("A DICOM series needs at least one file.", field="files")
        stored = self._store_local_files(files, ITEM_DICOM)
        spec = group_spec(KIND_DICOM, [(key, name or f"file-{i}") for i, (key, name) in enumerate(stored)], title)
        return self.start_upload_units([spec])

    def create_dicom_series(
        self, files: Iterable[Any], title: str | None = None, *, timeout_seconds: float = 3600
    ) -> DatasetDataInfo:
        return self._single(self.create_dicom_series_start(files, title), timeout_seconds)

    def _single(self, process_hash: str, timeout_seconds: float) -> DatasetDataInfo:
        result = self.wait_data_job(process_hash, timeout_seconds)
        (row,) = rows_or_raise(result, at_least=1)
        return row

    # -- private-cloud data: thin delegations to sdk/private_import.py --

    def add_private_data_to_dataset_start(
        self, integration_id: Any, private_files: Any, ignore_errors: Any = False, *, folder: Any = None
    ) -> str:
        """Starts an import of media that stays in the customer's bucket; returns its process_hash.
        `private_files`: a dict, JSON text, or (in process only) a pathlib.Path or an open file.
        `folder`: where a plain dataset's items go (WRITE_FILES on it; a mirror refuses one)."""
        self._require(Op.WRITE_DATA)
        return add_private_data_start(
            self,
            integration_id=integration_id,
            private_files=local_document(private_files),
            ignore_errors=ignore_errors,
            folder=self._folder_for(folder),
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
        folder: Any = None,
    ) -> str:
        """Registers uploaded files named by `data_items` (the wire's `dataItems`) as a data job;
        see start_upload_units. `folder` (a plain dataset's folderUuid; WRITE_FILES on it): where
        the items go. Returns the process_hash."""
        ds = self._require(Op.WRITE_DATA)
        target = self._folder_for(folder)
        specs, skip_flag, upsert = parse_data_items(data_items)
        if skip_duplicates is None:
            skip_duplicates = skip_flag
        return self._register_units(
            ds, specs, ignore_errors=ignore_errors, skip_duplicates=skip_duplicates, upsert_metadata=upsert, folder=target
        )

    def _folder_for(self, folder: Any) -> m.StorageFolder | None:
        """The folder a dataset upload names (a StorageFolder, an SDK folder or its uuid), if the
        caller may write files there; None when none is named."""
        if folder is None:
            return None
        return require_folder(self.principal, getattr(folder, "uuid", getattr(folder, "folder_uuid", folder)), Op.WRITE_FILES)

    def start_upload_units(
        self,
        specs: list[UnitSpec],
        *,
        ignore_errors: bool = False,
        skip_duplicates: bool = False,
        upsert_metadata: bool = False,
    ) -> str:
        """Registers uploaded files as a data job of these units; returns the process_hash.

        Every object key must have been issued to this caller (for this dataset, when issued per
        dataset), for the right item type, be uploaded and not yet consumed; else
        InvalidArgumentError naming the key, and nothing changes. Consumes the slots, creates the
        job and its units in one transaction (four queries whatever the size) and enqueues the
        job after commit."""
        ds = self._require(Op.WRITE_DATA)
        return self._register_units(
            ds, specs, ignore_errors=ignore_errors, skip_duplicates=skip_duplicates, upsert_metadata=upsert_metadata
        )

    def _register_units(
        self,
        ds: m.Dataset,
        specs: list[UnitSpec],
        *,
        ignore_errors: bool,
        skip_duplicates: bool,
        upsert_metadata: bool,
        folder: m.StorageFolder | None = None,
    ) -> str:
        require_backing_folder(ds, folder)
        keys_by_type: dict[str, str] = {}
        for spec in specs:
            for key in spec.sources:
                if key in keys_by_type:
                    raise InvalidArgumentError(f"Upload key {key!r} is named twice in this request.", object_url=key)
                keys_by_type[key] = ITEM_TYPE_OF_KIND[spec.kind]
        with transaction.atomic():
            slots = claim_slots(self.principal, keys_by_type, dataset=ds)
            for spec in specs:
                for f in spec.files:
                    f.sha256, f.size = slots[f.source].sha256, slots[f.source].size
            job = m.DataJob.objects.create(
                dataset=ds,
                folder=folder,
                kind=m.DataJob.KIND_UPLOAD,
                created_by=self.principal.user,
                api_key=self.principal.api_key,
                ignore_errors=bool(ignore_errors),
                skip_duplicates=bool(skip_duplicates),
                upsert_metadata=upsert_metadata,
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
        return str(job.process_hash)

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



def _owner_filter_job(principal: Principal) -> dict:
    if principal.api_key is not None:
        return {"api_key_id": principal.api_key.pk}
    return {"created_by_id": principal.user.pk}

