"""Private-cloud data: media that stays in the customer's bucket, registered by an import job.

Entry points
- `add_private_data_start(dataset, integration_id=..., private_files=..., ignore_errors=...)`:
  THE function the API calls for v1 `datasetdatalongpolling` POST with an `integrationId`: pass
  the payload's `files` (dict or JSON text, verbatim), `integrationId` and `ignoreErrors`; it
  returns the job's `process_hash` (str). `Dataset.add_private_data_to_dataset_start` delegates here.
  Checks WRITE_DATA, resolves the integration (ResourceNotFoundError if the caller may not use
  it), then validates the document strictly (InvalidArgumentError, nothing created; a string that
  is not JSON is refused, never opened as a path), creates one
  DataJob (kind=private) with one DataJobUnit per video / image / image group / DICOM series in
  one bulk insert, and enqueues the job after commit. Entries that carry videoMetadata /
  imageMetadata need no reading at all: their rows are written in the same transaction (in bulk)
  and their units are recorded DONE, so a fully described manifest is DONE when the call returns.
- `process_private_unit(unit)`: called by the job runner (sdk/jobs.py) for each pending unit of
  a private job. Reads only what it needs through the integration (ranged reads, a signed URL for
  the video probe), writes the unit's DataRow(s) holding the URL and the integration (the media is
  never copied) and returns the rows as `[{"data_hash", "title", "backing_item_uuid"}]`. A unit
  already recorded returns its rows again (idempotent). Failures raise `PrivateDataError` with a
  message a person can act on. While one unit is processed, the probes of the next pending units
  of the same job run ahead in a small thread pool, so a sequential runner still overlaps
  network waits.
- `process_private_units(units)`: the batch form (probe in parallel, one bulk insert); returns
  `{unit.pk: rows or PrivateDataError}`. A runner that can hand over a batch should prefer it.
- `read_private_files_from_local_file(path_or_file)`: trusted in-process callers only (the SDK
  layer's Dataset given a `pathlib.Path` or an open file); nothing the API calls reaches it.
- `private_signed_url(url, integration, ...)`: a time-limited download URL for a client that holds
  none of the integration's secrets (the provider's scoped URL, or our signed media route).
"""

from __future__ import annotations

import io
import json
import math
import os
import stat
import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from datasets_app import crypto
from datasets_app import models as m
from datasets_app.media import cloud, private_links, relay
from datasets_app.media import probe as media_probe

from .exceptions import AuthorisationError, DatasetsError, InvalidArgumentError, ResourceNotFoundError
from .policy import Op, Principal, parse_hash, usable_integrations
from .validation import clean_flag

# A document may name at most this many object URLs (all types together); 100,000 is refused.
MAX_URLS = int(getattr(settings, "PRIVATE_FILES_MAX_URLS", 50_000))
MAX_DOCUMENT_BYTES = int(getattr(settings, "PRIVATE_FILES_MAX_BYTES", 64 * 1024 * 1024))
MAX_URL_LENGTH = 2048
MAX_METADATA_BYTES = 64 * 1024
PROBE_THREADS = int(getattr(settings, "PRIVATE_PROBE_THREADS", 16))
PREFETCH_WINDOW = 256
_MAX_TITLE = int(settings.MAX_TITLE_LENGTH)
IMAGE_BLOCK = 64 * 1024

SECTIONS = {
    "videos": m.DataType.VIDEO,
    "images": m.DataType.IMAGE,
    "image_groups": m.DataType.IMG_GROUP,
    "dicom_series": m.DataType.DICOM,
}
UNSUPPORTED_SECTIONS = ("audio", "text", "pdf", "nifti")
# Top-level switches of the document (Encord's names): skip entries whose URLs the dataset has, and
# (with skipping) give those existing items the entry's clientMetadata.
FLAGS = ("skip_duplicate_urls", "upsert_metadata")
SINGLE_KEYS = {
    "videos": {"objectUrl", "title", "clientMetadata", "videoMetadata"},
    "images": {"objectUrl", "title", "clientMetadata", "imageMetadata"},
}
GROUP_KEYS = {
    "image_groups": {"title", "createVideo", "clientMetadata"},
    "dicom_series": {"title", "clientMetadata"},
}
VIDEO_METADATA = {
    "fps": float,
    "duration": float,
    "width": int,
    "height": int,
    "file_size": int,
    "mime_type": str,
}
IMAGE_METADATA = {"mime_type": str, "file_size": int, "height": int, "width": int}
ACTIONS = {
    m.DataType.VIDEO: "Importing video",
    m.DataType.IMAGE: "Importing image",
    m.DataType.IMG_GROUP: "Importing image group",
    m.DataType.DICOM: "Importing DICOM series",
}


class PrivateDataError(DatasetsError):
    """One unit of a private-data import failed (unreachable, 404, refused address, not media...)."""

    code = "PRIVATE_DATA_ERROR"
    default_message = "The object could not be read through the integration."


# ---- integrations (SDK layer: create / list / delete) --------------------------------------------


def integration_create(
    *,
    owner: m.User,
    title: str,
    provider: str,
    config: dict[str, Any] | None = None,
    credentials: dict[str, Any] | None = None,
    allow_private_network: bool = False,
) -> m.CloudIntegration:
    """A new integration; secrets are encrypted at rest and never returned. One query."""
    from .validation import clean_title

    title = clean_title(title, "integration title")
    if provider not in m.IntegrationProvider.values:
        raise InvalidArgumentError(
            f"Unknown provider {provider!r}: use one of {', '.join(m.IntegrationProvider.values)}.",
            field="provider",
        )
    config = {k: v for k, v in (config or {}).items() if v not in (None, "")}
    credentials = {k: v for k, v in (credentials or {}).items() if v not in (None, "")}
    for name, value in (("config", config), ("credentials", credentials)):
        if not all(isinstance(k, str) for k in value) or len(json.dumps(value)) > 64 * 1024:
            raise InvalidArgumentError(f"The integration's {name} must be a small JSON object.", field=name)
    if endpoint := config.get("endpoint_url"):
        if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
            raise InvalidArgumentError("endpoint_url must be an http(s) URL.", field="endpoint_url")
        config["endpoint_url"] = endpoint.rstrip("/")
    if provider == m.IntegrationProvider.AZURE and not (config.get("account") or config.get("endpoint_url")):
        raise InvalidArgumentError(
            "An Azure integration needs an account name or an endpoint URL.", field="account"
        )
    return m.CloudIntegration.objects.create(
        owner=owner,
        title=title,
        provider=provider,
        config=config,
        credentials_encrypted=crypto.encrypt(json.dumps(credentials)) if credentials else "",
        allow_private_network=bool(allow_private_network),
    )


def integration_for(principal: Principal, integration_id: Any) -> m.CloudIntegration:
    """The integration if this principal may use it (policy.usable_integrations: its owner, any for
    an organisation admin; for a dataset API key only its creator's own, while the creator may
    still import into the key's dataset). Anything else: ResourceNotFoundError, word for word what
    a missing integration gives. One or two queries."""
    integration_uuid = parse_hash(integration_id, "integration id")
    usable = usable_integrations(principal, include_org_access=True)
    integration = usable.filter(integration_uuid=integration_uuid).first()
    if integration is None:
        raise ResourceNotFoundError(
            f"Cloud integration {integration_uuid} not found.", integration_id=str(integration_uuid)
        )
    return integration


def integration_delete(principal: Principal, integration_id: Any) -> None:
    """Deletes an integration its owner (or an organisation admin) may use. Rows that still point
    at it keep it alive: OperationNotAllowed-like InvalidArgumentError names how many."""
    from django.db.models import ProtectedError

    if principal.user is None:
        raise AuthorisationError("Dataset API keys cannot delete integrations.")
    integration = integration_for(principal, integration_id)
    try:
        integration.delete()
    except ProtectedError as exc:
        raise InvalidArgumentError(
            f"The integration is still used by {len(exc.protected_objects)} data item(s); delete them first.",
            field="integration_id",
        ) from None


# ---- the private-files document -----------------------------------------------------------------


@dataclass
class Entry:
    """One unit to be: a video, an image, an image group or a DICOM series."""

    data_type: str
    urls: list[str]
    title: str | None
    client_metadata: dict
    metadata: dict | None = None  # videoMetadata / imageMetadata, trusted as given
    create_video: bool = False
    refs: list[cloud.ObjectRef] = field(default_factory=list)
    # clientMetadata was in the document (upsert_metadata replaces an existing item's only then)
    metadata_given: bool = False

    def spec(self) -> dict:
        return {
            "type": self.data_type,
            "urls": self.urls,
            "title": _title_for(self),
            "client_metadata": self.client_metadata,
            "metadata": self.metadata,
            "create_video": self.create_video,
        }


NOT_A_DOCUMENT = (
    "private_files (the request's `files`) must be a JSON object or JSON text; paths on the server "
    "are not read over the API (send the file's contents: the encord SDK reads a local path for you)."
)


def load_private_files(private_files: Any) -> dict:
    """The document from what a request hands over: a dict, or JSON text (str or bytes) holding
    one. It never reads a file: the API's handlers call it (through add_private_data_start) with
    whatever `payload.files` holds, so a string that is not JSON is refused, never opened."""
    if isinstance(private_files, dict):
        return private_files
    if isinstance(private_files, (bytes, bytearray)):
        private_files = bytes(private_files).decode("utf-8", errors="replace")
    if isinstance(private_files, str):
        text = private_files.strip()
        if not text:
            raise InvalidArgumentError("private_files is empty: give a JSON document.", field="private_files")
        if text.startswith(("{", "[", '"')):
            return _parse_json(text)
    raise InvalidArgumentError(NOT_A_DOCUMENT, field="private_files")


def read_private_files_from_local_file(source: os.PathLike | IO) -> dict:
    """TRUSTED, IN-PROCESS CALLERS ONLY (CLI, `manage.py shell`, scripts using the SDK layer's
    Dataset): the document from a file on this machine (a `pathlib.Path`) or an open file. Never
    give it anything from a request: the API reaches only load_private_files, which reads no file.

    Refuses what is not a regular file (a FIFO, a device such as /dev/zero, a directory) without
    blocking on it, and reads at most MAX_DOCUMENT_BYTES + 1 bytes."""
    if hasattr(source, "read"):
        return _parse_json(source.read(MAX_DOCUMENT_BYTES + 1))
    if not isinstance(source, os.PathLike):
        raise InvalidArgumentError(
            f"A local private-files document is a pathlib.Path or an open file, not {type(source).__name__}.",
            field="private_files",
        )
    shown = str(source)[:200]
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; the fd is checked before reading.
        fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise InvalidArgumentError(
            f"private_files: cannot open {shown!r}: {exc.strerror}.", field="private_files"
        ) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise InvalidArgumentError(f"private_files: {shown!r} is not a regular file.", field="private_files")
    with os.fdopen(fd, "rb") as f:
        if info.st_size > MAX_DOCUMENT_BYTES:
            raise InvalidArgumentError(
                f"private_files: the file is {info.st_size} bytes; the limit is {MAX_DOCUMENT_BYTES}.",
                field="private_files",
            )
        return _parse_json(f.read(MAX_DOCUMENT_BYTES + 1).decode("utf-8", errors="replace"))


def local_document(private_files: Any) -> Any:
    """For the SDK layer's in-process Dataset methods: a `pathlib.Path` or an open file is read
    (read_private_files_from_local_file); anything else passes unchanged to load_private_files.
    No JSON payload can hold a Path or a file, so nothing from a request is ever read from disk."""
    if isinstance(private_files, os.PathLike) or hasattr(private_files, "read"):
        return read_private_files_from_local_file(private_files)
    return private_files


def _parse_json(text: str | bytes) -> dict:
    if len(text) > MAX_DOCUMENT_BYTES:
        raise InvalidArgumentError(
            f"private_files is larger than {MAX_DOCUMENT_BYTES} bytes.", field="private_files"
        )
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise InvalidArgumentError(
            f"private_files is not valid JSON: {exc}.", field="private_files"
        ) from None
    if not isinstance(doc, dict):
        raise InvalidArgumentError(
            "private_files must be a JSON object with videos/images/image_groups/dicom_series."
        )
    return doc


def _where(section: str, i: int, key: str | None = None) -> str:
    return f"{section}[{i}]" + (f".{key}" if key else "")


def _clean_metadata(value: Any, spec: dict[str, type], where: str) -> dict:
    if not isinstance(value, dict):
        raise InvalidArgumentError(f"{where} must be an object with {', '.join(spec)}.", field=where)
    unknown = sorted(set(value) - set(spec))
    missing = sorted(set(spec) - set(value))
    if unknown:
        raise InvalidArgumentError(
            f"{where} has unknown key(s) {', '.join(unknown)}; allowed: {', '.join(spec)}.", field=where
        )
    if missing:
        raise InvalidArgumentError(f"{where} is missing {', '.join(missing)}.", field=where)
    out: dict[str, Any] = {}
    for key, kind in spec.items():
        v = value[key]
        if kind is str:
            if not isinstance(v, str) or not v.strip() or len(v) > 100:
                raise InvalidArgumentError(f"{where}.{key} must be a non-empty string.", field=where)
            out[key] = v.strip()
        elif kind is int:
            if isinstance(v, bool) or not isinstance(v, int) or v < 0 or (key != "file_size" and v == 0):
                raise InvalidArgumentError(
                    f"{where}.{key} must be a positive integer, not {v!r}.", field=where
                )
            out[key] = v
        else:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or not math.isfinite(v):
                raise InvalidArgumentError(
                    f"{where}.{key} must be a non-negative number, not {v!r}.", field=where
                )
            if key == "fps" and v == 0:
                raise InvalidArgumentError(f"{where}.fps must be greater than 0.", field=where)
            out[key] = float(v)
    return out


def _clean_client_metadata(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgumentError(f"{where} must be a JSON object, not {type(value).__name__}.", field=where)
    if len(json.dumps(value, default=str)) > MAX_METADATA_BYTES:
        raise InvalidArgumentError(f"{where} is larger than {MAX_METADATA_BYTES} bytes.", field=where)
    return value


def _clean_title(value: Any, where: str, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(f"{where} must be a non-empty string.", field=where)
    if len(value) > settings.MAX_TITLE_LENGTH or any(ord(c) < 32 for c in value):
        raise InvalidArgumentError(
            f"{where} must be at most {settings.MAX_TITLE_LENGTH} characters without control characters.",
            field=where,
        )
    return value.strip()


def _clean_url(value: Any, where: str, adapter: cloud.CloudAdapter) -> cloud.ObjectRef:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(f"{where} must be a non-empty URL string.", field=where)
    if len(value) > MAX_URL_LENGTH:
        raise InvalidArgumentError(f"{where} is longer than {MAX_URL_LENGTH} characters.", field=where)
    try:
        return adapter.parse(value.strip())
    except cloud.UnsupportedURL as exc:
        raise InvalidArgumentError(f"{where}: {exc}", field=where) from None


def parse_private_files(doc: dict, adapter: cloud.CloudAdapter) -> tuple[list[Entry], bool, bool]:
    """The document's entries in document order, and its skip_duplicate_urls and upsert_metadata
    flags.

    Strict: unknown keys, wrong types, malformed or foreign URLs and more than MAX_URLS object URLs
    raise InvalidArgumentError naming the place (e.g. "images[3].objectUrl"). No network access."""
    unknown = sorted(set(doc) - set(SECTIONS) - set(FLAGS) - set(UNSUPPORTED_SECTIONS))
    if unknown:
        raise InvalidArgumentError(
            f"private_files has unknown key(s) {', '.join(map(repr, unknown))}; allowed: "
            f"{', '.join(SECTIONS)}, {', '.join(FLAGS)}.",
            field="private_files",
        )
    for section in UNSUPPORTED_SECTIONS:
        if doc.get(section):
            raise InvalidArgumentError(
                f"private_files: {section!r} data is not supported here; use videos, images, "
                "image_groups or dicom_series.",
                field=section,
            )
    skip, upsert = (clean_flag(doc.get(name), name) for name in FLAGS)
    total_urls = 0
    for section in SECTIONS:
        items = doc.get(section)
        if items is None:
            continue
        if not isinstance(items, list):
            raise InvalidArgumentError(
                f"{section} must be a list, not {type(items).__name__}.", field=section
            )
        for item in items:
            if isinstance(item, dict):
                total_urls += sum(1 for k in item if k == "objectUrl" or k.startswith("objectUrl_"))
        if total_urls > MAX_URLS or sum(len(doc.get(s) or []) for s in SECTIONS) > MAX_URLS:
            raise InvalidArgumentError(
                f"private_files names more than {MAX_URLS} objects; split it into several imports.",
                field="private_files",
            )
    entries: list[Entry] = []
    for section, data_type in SECTIONS.items():
        for i, item in enumerate(doc.get(section) or []):
            if not isinstance(item, dict):
                raise InvalidArgumentError(f"{_where(section, i)} must be an object.", field=section)
            if section in SINGLE_KEYS:
                bad = sorted(set(item) - SINGLE_KEYS[section])
                if bad:
                    raise InvalidArgumentError(
                        f"{_where(section, i)} has unknown key(s) {', '.join(bad)}; allowed: "
                        f"{', '.join(sorted(SINGLE_KEYS[section]))}.",
                        field=section,
                    )
                if "objectUrl" not in item:
                    raise InvalidArgumentError(f"{_where(section, i)} has no objectUrl.", field=section)
                ref = _clean_url(item["objectUrl"], _where(section, i, "objectUrl"), adapter)
                meta_key = "videoMetadata" if section == "videos" else "imageMetadata"
                meta = item.get(meta_key)
                entries.append(
                    Entry(
                        data_type=data_type,
                        urls=[ref.url],
                        refs=[ref],
                        title=_clean_title(item.get("title"), _where(section, i, "title"), required=False),
                        client_metadata=_clean_client_metadata(
                            item.get("clientMetadata"), _where(section, i, "clientMetadata")
                        ),
                        metadata_given=item.get("clientMetadata") is not None,
                        metadata=None
                        if meta is None
                        else _clean_metadata(
                            meta,
                            VIDEO_METADATA if section == "videos" else IMAGE_METADATA,
                            _where(section, i, meta_key),
                        ),
                    )
                )
            else:
                frames: list[tuple[int, Any]] = []
                for key in item:
                    if key.startswith("objectUrl_") and key[len("objectUrl_") :].isdigit():
                        frames.append((int(key[len("objectUrl_") :]), key))
                    elif key not in GROUP_KEYS[section]:
                        raise InvalidArgumentError(
                            f"{_where(section, i)} has unknown key {key!r}; allowed: "
                            f"{', '.join(sorted(GROUP_KEYS[section]))}, objectUrl_0, objectUrl_1, ...",
                            field=section,
                        )
                if not frames:
                    raise InvalidArgumentError(f"{_where(section, i)} has no objectUrl_0.", field=section)
                frames.sort()
                refs = [_clean_url(item[key], _where(section, i, key), adapter) for _, key in frames]
                create_video = item.get("createVideo", False)
                if create_video is None:
                    create_video = False
                if not isinstance(create_video, bool):
                    raise InvalidArgumentError(
                        f"{_where(section, i, 'createVideo')} must be true or false.", field=section
                    )
                entries.append(
                    Entry(
                        data_type=data_type,
                        urls=[r.url for r in refs],
                        refs=refs,
                        title=_clean_title(item.get("title"), _where(section, i, "title"), required=True),
                        client_metadata=_clean_client_metadata(
                            item.get("clientMetadata"), _where(section, i, "clientMetadata")
                        ),
                        metadata_given=item.get("clientMetadata") is not None,
                        create_video=create_video,
                    )
                )
    if not entries:
        raise InvalidArgumentError(
            "private_files lists nothing: give at least one of videos, images, image_groups, dicom_series.",
            field="private_files",
        )
    return entries, skip, upsert


def _existing_urls(ds: m.Dataset, urls: set[str]) -> set[str]:
    """Which of `urls` the dataset already has (rows and group/series members). Set-based: one
    query per 10,000 URLs and table, never one per URL."""
    found: set[str] = set()
    ordered = sorted(urls)
    for start in range(0, len(ordered), 10_000):
        chunk = ordered[start : start + 10_000]
        found.update(m.DataRow.objects.filter(dataset=ds, url__in=chunk).values_list("url", flat=True))
        found.update(
            m.DataRowMember.objects.filter(data_row__dataset=ds, url__in=chunk).values_list("url", flat=True)
        )
    return found


def _split_duplicates(ds: m.Dataset, entries: list[Entry]) -> tuple[list[Entry], list[Entry]]:
    """(entries to import, entries whose every URL the dataset already has)."""
    existing = _existing_urls(ds, {u for e in entries for u in e.urls})
    kept: list[Entry] = []
    skipped: list[Entry] = []
    for entry in entries:
        if all(u in existing for u in entry.urls):
            skipped.append(entry)
            continue
        # A URL repeated inside the document counts as a duplicate of its first mention.
        existing.update(entry.urls)
        kept.append(entry)
    return kept, skipped


def _upsert_metadata(ds: m.Dataset, skipped: list[Entry]) -> int:
    """Gives the existing items that skipped entries name their document's clientMetadata (entries
    without clientMetadata leave theirs alone). A single item is found by its URL, a group or
    series by the URL of its first frame. Bulk: one SELECT per table and one UPDATE per 1,000 rows.
    Returns how many rows changed."""
    wanted = {e.urls[0]: e.client_metadata for e in skipped if e.metadata_given}
    if not wanted:
        return 0
    rows: dict[int, m.DataRow] = {}
    urls = list(wanted)
    for start in range(0, len(urls), 10_000):
        chunk = urls[start : start + 10_000]
        for row in m.DataRow.objects.filter(dataset=ds, url__in=chunk).only("pk", "url", "client_metadata"):
            row.client_metadata = wanted[row.url]
            rows[row.pk] = row
        members = m.DataRowMember.objects.filter(data_row__dataset=ds, data_sequence=0, url__in=chunk)
        member_urls = dict(members.values_list("data_row_id", "url"))
        for row in m.DataRow.objects.filter(pk__in=member_urls).only("pk", "client_metadata"):
            row.client_metadata = wanted[member_urls[row.pk]]
            rows[row.pk] = row
    changed = list(rows.values())
    now = timezone.now()
    for row in changed:
        row.last_edited_at = now
    m.DataRow.objects.bulk_update(changed, ["client_metadata", "last_edited_at"], batch_size=1000)
    return len(changed)


# ---- starting a job ---------------------------------------------------------------------------------


def add_private_data_start(
    dataset,
    *,
    integration_id: Any,
    private_files: Any,
    ignore_errors: Any = False,
) -> str:
    """Starts an import job on an SDK `Dataset`; returns its process_hash. See the module docstring.

    Queries: the policy check, the integration, (with skip_duplicate_urls) one per 10,000 URLs,
    then one insert of the job and bulk inserts of its units (and of the rows needing no probe)."""
    ds = dataset._require(Op.WRITE_DATA)
    principal: Principal = dataset.principal
    if not isinstance(ignore_errors, bool):
        raise InvalidArgumentError("ignore_errors must be true or false.", field="ignore_errors")
    # The integration first: a principal that may not use it learns nothing from the document.
    integration = integration_for(principal, integration_id)
    doc = load_private_files(private_files)
    adapter = cloud.adapter_for(integration)
    entries, skip, upsert = parse_private_files(doc, adapter)
    skipped: list[Entry] = []
    if skip:
        entries, skipped = _split_duplicates(ds, entries)
    user = principal.user if principal.user is not None else None
    now = timezone.now()
    with transaction.atomic():
        job = m.DataJob.objects.create(
            dataset=ds,
            kind=m.DataJob.KIND_PRIVATE,
            created_by=user,
            api_key=principal.api_key,
            integration=integration,
            ignore_errors=ignore_errors,
            skip_duplicates=skip,
            upsert_metadata=skip and upsert,
            units_total=len(entries),
        )
        if skip and upsert and _upsert_metadata(ds, skipped):
            m.Dataset.objects.filter(pk=ds.pk).update(last_edited_at=now)
        units = [
            _blank(
                m.DataJobUnit,
                job_id=job.pk,
                index=i,
                spec=entry.spec(),
                object_urls=entry.urls,
                action_description=ACTIONS[entry.data_type],
            )
            for i, entry in enumerate(entries)
        ]
        # Entries with trusted metadata need no reading: write their rows now and record the units.
        ready = [(u, e) for u, e in zip(units, entries) if e.metadata is not None]
        rows = []
        for unit, entry in ready:
            row = _row_from_metadata(ds, integration, entry)
            unit.status = m.JobStatus.DONE
            unit.started_at = unit.finished_at = now
            unit.results = [_result(row)]
            rows.append((unit, row))
        fast_insert(units, now=now, model=m.DataJobUnit)
        if rows:
            unit_ids = dict(m.DataJobUnit.objects.filter(job=job).values_list("index", "id"))
            for unit, row in rows:
                row.created_by_job_id = unit_ids[unit.index]
            fast_insert([r for _, r in rows], now=now, model=m.DataRow)
            m.Dataset.objects.filter(pk=ds.pk).update(last_edited_at=now)
        if len(ready) == len(units):
            m.DataJob.objects.filter(pk=job.pk).update(status=m.JobStatus.DONE, finished_at=now)
        else:
            from .uploads import enqueue_data_job

            enqueue_data_job(
                job, video=any(e.data_type == m.DataType.VIDEO and e.metadata is None for e in entries)
            )
    return str(job.process_hash)


def _title_for(entry: Entry) -> str:
    if entry.title:
        return entry.title
    ref = entry.refs[0] if entry.refs else None
    if ref is None:
        return entry.urls[0][-_MAX_TITLE:]
    path = ref.key if ref.bucket else (cloud.urlsplit(ref.url).path.lstrip("/") or ref.url)
    return path[-_MAX_TITLE:]


# One shared object: fast_insert converts a repeated value once.
_TRUSTED_INFO = {"source": "customer metadata"}


def _row_from_metadata(ds: m.Dataset, integration: m.CloudIntegration, entry: Entry):
    md = entry.metadata or {}
    video = entry.data_type == m.DataType.VIDEO
    return _blank(
        m.DataRow,
        dataset_id=ds.pk,
        title=_title_for(entry),
        data_type=entry.data_type,
        file_size=md.get("file_size"),
        mime_type=md.get("mime_type", ""),
        width=md.get("width"),
        height=md.get("height"),
        fps=md.get("fps") if video else None,
        duration=md.get("duration") if video else None,
        frame_count=round(md["fps"] * md["duration"]) if video else None,
        client_metadata=entry.client_metadata,
        url=entry.urls[0],
        integration_id=integration.pk,
        media_info=_TRUSTED_INFO,
    )


def _result(row: m.DataRow) -> dict:
    return {
        "data_hash": str(row.data_hash),
        "title": row.title,
        "backing_item_uuid": str(row.backing_item_uuid),
    }


# ---- the worker side: probing through the integration -----------------------------------------------


@dataclass
class Probed:
    """What reading one object told us."""

    url: str
    size: int | None = None
    mime_type: str = ""
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    duration: float | None = None
    frame_count: int | None = None
    media_info: dict = field(default_factory=dict)
    instance_number: int | None = None


def _probe_image(adapter: cloud.CloudAdapter, ref: cloud.ObjectRef) -> Probed:
    from PIL import Image, UnidentifiedImageError

    f = adapter.open(ref, block_size=IMAGE_BLOCK)
    size = f.size
    if size == 0:
        raise PrivateDataError(f"{ref.url} is empty (0 bytes).")
    try:
        # Pillow reads the header lazily; the decompression-bomb guard stays on.
        with Image.open(f) as img:
            width, height = img.size
            mime = Image.MIME.get(img.format or "", "") or (f.info.content_type if f.info else "")
        media_probe.check_image_pixels(width, height)
    except media_probe.MediaError as exc:
        raise PrivateDataError(f"{ref.url}: {exc.reason}") from None
    except Image.DecompressionBombError as exc:
        raise PrivateDataError(f"{ref.url} is refused as a decompression bomb: {exc}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, cloud.CloudError):
            raise
        raise PrivateDataError(f"{ref.url} is not an image Pillow can read.") from None
    return Probed(url=ref.url, size=size, mime_type=mime, width=width, height=height)


def _probe_video(adapter: cloud.CloudAdapter, ref: cloud.ObjectRef) -> Probed:
    info = adapter.head(ref)
    if info.size == 0:
        raise PrivateDataError(f"{ref.url} is empty (0 bytes).")
    # PyAV reads the provider's signed URL, or for an HTTPS integration the URL our guarded HEAD
    # ended on, through the loopback relay: every connection made for it is checked by the SSRF
    # guard (a DNS answer changing after this first check included).
    source = info.final_url or adapter.signed_url(ref, 900)
    adapter.guard_url(source)
    with relay.relayed(source, allow_private_network=adapter.allow_private_network, label=ref.url) as relayed:
        try:  # in a bounded child process, the size and frame limits checked before decoding
            facts = media_probe.video_source(relayed.url)
        except media_probe.MediaError as exc:
            if relayed.refusal:
                raise PrivateDataError(f"{ref.url} could not be read: {relayed.refusal}") from None
            raise PrivateDataError(f"{ref.url} is not a readable video: {exc.reason}") from None
    return Probed(
        url=ref.url,
        size=info.size,
        mime_type=info.content_type if info.content_type.startswith("video/") else "video/mp4",
        width=facts.get("width"),
        height=facts.get("height"),
        fps=facts.get("fps"),
        duration=facts.get("duration"),
        frame_count=facts.get("frame_count"),
        media_info=facts,
    )


def _probe_dicom(adapter: cloud.CloudAdapter, ref: cloud.ObjectRef) -> Probed:
    import pydicom
    from pydicom.errors import InvalidDicomError

    f = adapter.open(ref, block_size=IMAGE_BLOCK)
    if f.size == 0:
        raise PrivateDataError(f"{ref.url} is empty (0 bytes).")
    try:
        # pydicom inflates a deflated dataset whole in memory: that kind is read from a bounded
        # copy on disk (media_probe.dicom_stream); large elements stay unread (defer_size).
        header = media_probe.dicom_stream(f) or pydicom.dcmread(f, stop_before_pixels=True, defer_size="1 MB")
        media_probe.check_dicom_pixels(header)
    except media_probe.MediaError as exc:
        raise PrivateDataError(f"{ref.url}: {exc.reason}") from None
    except (InvalidDicomError, EOFError, ValueError, OSError, KeyError) as exc:
        if isinstance(exc, cloud.CloudError):
            raise
        raise PrivateDataError(f"{ref.url} is not a DICOM file.") from None
    number = header.get("InstanceNumber")
    return Probed(
        url=ref.url,
        size=f.size,
        mime_type="application/dicom",
        width=int(header.get("Columns") or 0) or None,
        height=int(header.get("Rows") or 0) or None,
        instance_number=int(number) if number not in (None, "") else None,
        media_info={
            "series_instance_uid": str(header.get("SeriesInstanceUID", "")),
            "modality": str(header.get("Modality", "")),
        },
    )


PROBES = {
    m.DataType.VIDEO: _probe_video,
    m.DataType.IMAGE: _probe_image,
    m.DataType.IMG_GROUP: _probe_image,
    m.DataType.DICOM: _probe_dicom,
}


def _probe_unit(adapter: cloud.CloudAdapter, spec: dict) -> list[Probed]:
    """Reads every object of a unit; the first failure becomes the unit's PrivateDataError."""
    out = []
    probe = PROBES[spec["type"]]
    for url in spec["urls"]:
        try:
            ref = adapter.parse(url)
            out.append(probe(adapter, ref))
        except cloud.CloudError as exc:
            raise PrivateDataError(str(exc), object_url=url) from None
        except PrivateDataError:
            raise
        # A probe library's own failure: reported on the unit, never crashing the job.
        except Exception as exc:  # noqa: BLE001
            raise PrivateDataError(
                f"{url} could not be read: {exc.__class__.__name__}: {exc}", object_url=url
            ) from None
    return out


def _rows_for(
    unit: m.DataJobUnit, integration: m.CloudIntegration, probed: list[Probed]
) -> tuple[list[m.DataRow], list[m.DataRowMember]]:
    spec = unit.spec
    ds_id = unit.job.dataset_id
    base_title = spec.get("title") or spec["urls"][0].rsplit("/", 1)[-1]
    if spec["type"] in (m.DataType.VIDEO, m.DataType.IMAGE):
        p = probed[0]
        row = m.DataRow(
            dataset_id=ds_id,
            title=base_title,
            data_type=spec["type"],
            file_size=p.size,
            mime_type=p.mime_type,
            width=p.width,
            height=p.height,
            fps=p.fps,
            duration=p.duration,
            frame_count=p.frame_count,
            client_metadata=spec.get("client_metadata") or {},
            url=p.url,
            integration=integration,
            media_info=p.media_info,
            created_by_job_id=unit.pk,
        )
        return [row], []
    if spec["type"] == m.DataType.DICOM:
        # Ordered by instance number (document order breaks ties and fills gaps).
        ordered = sorted(
            enumerate(probed),
            key=lambda ip: (ip[1].instance_number is None, ip[1].instance_number or 0, ip[0]),
        )
        first = ordered[0][1]
        row = m.DataRow(
            dataset_id=ds_id,
            title=base_title,
            data_type=spec["type"],
            file_size=sum(p.size or 0 for p in probed),
            mime_type="application/dicom",
            width=first.width,
            height=first.height,
            frame_count=len(probed),
            client_metadata=spec.get("client_metadata") or {},
            url=first.url,
            integration=integration,
            media_info=first.media_info,
            created_by_job_id=unit.pk,
        )
        members = [
            m.DataRowMember(
                data_row=row,
                data_sequence=seq,
                title=p.url.rsplit("/", 1)[-1][:1024],
                url=p.url,
                mime_type=p.mime_type,
                file_size=p.size,
                width=p.width,
                height=p.height,
            )
            for seq, (_, p) in enumerate(ordered)
        ]
        return [row], members
    # Image group: one group per resolution, each keeping the caller's order.
    by_size: dict[tuple, list[Probed]] = {}
    for p in probed:
        by_size.setdefault((p.width, p.height), []).append(p)
    rows, members = [], []
    for n, ((w, h), group) in enumerate(by_size.items()):
        title = base_title if len(by_size) == 1 else f"{base_title} ({w}x{h})"
        row = m.DataRow(
            dataset_id=ds_id,
            title=title,
            data_type=m.DataType.IMG_GROUP,
            file_size=sum(p.size or 0 for p in group),
            mime_type=group[0].mime_type,
            width=w,
            height=h,
            frame_count=len(group),
            client_metadata=spec.get("client_metadata") or {},
            url=group[0].url,
            integration=integration,
            is_optimised_image_group=bool(spec.get("create_video")),
            sequence_video_status="PENDING" if spec.get("create_video") else "",
            created_by_job_id=unit.pk,
        )
        rows.append(row)
        members += [
            m.DataRowMember(
                data_row=row,
                data_sequence=seq,
                title=p.url.rsplit("/", 1)[-1][:1024],
                url=p.url,
                mime_type=p.mime_type,
                file_size=p.size,
                width=p.width,
                height=p.height,
            )
            for seq, p in enumerate(group)
        ]
    return rows, members


# Probes run ahead of a sequential runner: {unit pk: Future}, per process.
_prefetch_lock = threading.Lock()
_prefetched: dict[int, Future] = {}
_pool: ThreadPoolExecutor | None = None
_adapters: dict[tuple, cloud.CloudAdapter] = {}
_frontier: dict = {}


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=PROBE_THREADS, thread_name_prefix="private-probe")
    return _pool


def _adapter(integration: m.CloudIntegration, job: m.DataJob) -> cloud.CloudAdapter:
    # Keyed by UUIDs: primary keys can come back after a rollback, UUIDs never do.
    key = (integration.integration_uuid, job.process_hash)
    with _prefetch_lock:
        adapter = _adapters.get(key)
        if adapter is None:
            if len(_adapters) > 8:
                _adapters.clear()
            adapter = _adapters[key] = cloud.adapter_for(integration)
    return adapter


def _schedule(unit: m.DataJobUnit, adapter: cloud.CloudAdapter) -> Future:
    with _prefetch_lock:
        future = _prefetched.get(unit.pk)
        if future is None:
            future = _prefetched[unit.pk] = _executor().submit(_probe_unit, adapter, unit.spec)
    return future


def _prefetch_after(unit: m.DataJobUnit, adapter: cloud.CloudAdapter) -> None:
    """Schedules probes of the job's next pending units, a window at a time: one query per
    PREFETCH_WINDOW / 2 units processed, not one per unit."""
    key = unit.job.process_hash
    with _prefetch_lock:
        frontier = _frontier.get(key, unit.index)
        if frontier - unit.index > PREFETCH_WINDOW // 2:
            return
        if len(_prefetched) > 4 * PREFETCH_WINDOW:
            # Results nobody came for (a runner that stopped early): drop the finished ones.
            for pk in [pk for pk, f in _prefetched.items() if f.done()]:
                _prefetched.pop(pk, None)
        if len(_frontier) > 1000:
            _frontier.clear()
    upcoming = list(
        m.DataJobUnit.objects.filter(
            job_id=unit.job_id, status=m.JobStatus.PENDING, index__gt=max(frontier, unit.index)
        )
        .order_by("index")
        .only("pk", "spec", "index")[:PREFETCH_WINDOW]
    )
    for other in upcoming:
        _schedule(other, adapter)
    if upcoming:
        with _prefetch_lock:
            _frontier[key] = max(_frontier.get(key, 0), upcoming[-1].index)


def _job_integration(unit: m.DataJobUnit) -> m.CloudIntegration:
    job = unit.job
    if job.integration_id is None:
        from datasets_app.media.probe import MediaError

        raise MediaError("The job's cloud integration was deleted; add the data again with another one.")
    return job.integration


def process_private_unit(unit: m.DataJobUnit) -> list[dict]:
    """Reads one unit's objects through the job's integration, writes its row(s) and records the
    unit DONE in the same transaction (jobs._commit_unit); returns
    `[{"data_hash", "title", "backing_item_uuid"}]`. Idempotent: a unit already recorded is left
    alone. Raises media.probe.MediaError (the job runner records its reason on the unit) when an
    object cannot be read: unreachable, 404, refused address, not the right media."""
    from datasets_app.media.probe import MediaError

    from . import jobs

    if unit.status != m.JobStatus.PENDING:
        return list(unit.results or [])
    integration = _job_integration(unit)
    adapter = _adapter(integration, unit.job)
    future = _schedule(unit, adapter)
    _prefetch_after(unit, adapter)
    try:
        probed = future.result()
    except PrivateDataError as exc:
        raise MediaError(exc.message) from None
    finally:
        with _prefetch_lock:
            _prefetched.pop(unit.pk, None)
    rows, members = _rows_for(unit, integration, probed)
    results = [_result(r) for r in rows]
    by_row: dict = {}
    for member in members:
        by_row.setdefault(member.data_row.data_hash, []).append(member)
    if not jobs._commit_unit(unit.job, unit, rows=rows, members=by_row, results=results):
        # Another delivery recorded this unit first; its rows stand, ours were never written.
        return list(m.DataJobUnit.objects.values_list("results", flat=True).get(pk=unit.pk) or [])
    return results


def process_private_units(units: Iterable[m.DataJobUnit]) -> dict[int, list[dict] | PrivateDataError]:
    """The batch form: probes the units in parallel, then in ONE transaction writes the rows of
    those still PENDING and records them DONE (bulk inserts and one bulk update). Returns
    {unit.pk: rows} for units done now or before, {unit.pk: PrivateDataError} for failures (not
    recorded here: the caller records them)."""
    units = list(units)
    out: dict[int, list[dict] | PrivateDataError] = {
        u.pk: list(u.results or []) for u in units if u.status != m.JobStatus.PENDING
    }
    todo = [u for u in units if u.status == m.JobStatus.PENDING]
    if not todo:
        return out
    out.update(_write_probed(_submit_probes(todo)))
    return out


def _submit_probes(units: list[m.DataJobUnit]) -> list[tuple[m.DataJobUnit, Future]]:
    """Starts the probes of pending units in the pool; the futures resolve to [Probed]."""
    if not units:
        return []
    adapter = _adapter(_job_integration(units[0]), units[0].job)
    return [(u, _executor().submit(_probe_unit, adapter, u.spec)) for u in units]


def _write_probed(futures: list[tuple[m.DataJobUnit, Future]]) -> dict[int, list[dict] | PrivateDataError]:
    """Waits for the probes, then writes the rows of units still PENDING in one transaction."""
    out: dict[int, list[dict] | PrivateDataError] = {}
    if not futures:
        return out
    todo = [u for u, _ in futures]
    integration = _job_integration(todo[0])
    built: list[tuple[m.DataJobUnit, list[m.DataRow], list[m.DataRowMember]]] = []
    for unit, future in futures:
        try:
            probed = future.result()
        except PrivateDataError as exc:
            out[unit.pk] = exc
            continue
        rows, members = _rows_for(unit, integration, probed)
        built.append((unit, rows, members))
    if not built:
        return out
    now = timezone.now()
    with transaction.atomic():
        # Claim: only units still pending are written (a concurrent delivery may have won some).
        pending = set(
            m.DataJobUnit.objects.select_for_update()
            .filter(pk__in=[u.pk for u, _, _ in built], status=m.JobStatus.PENDING)
            .values_list("pk", flat=True)
        )
        fresh = [(u, rows, mbs) for u, rows, mbs in built if u.pk in pending]
        # Rows with members need their primary keys back (ORM); plain rows take the fast path.
        m.DataRow.objects.bulk_create([r for _, rows, mbs in fresh if mbs for r in rows], batch_size=2000)
        fast_insert([r for _, rows, mbs in fresh if not mbs for r in rows], now=now)
        members = [mb for _, _, mbs in fresh for mb in mbs]
        for member in members:
            member.data_row_id = member.data_row.pk
        m.DataRowMember.objects.bulk_create(members, batch_size=2000)
        for unit, rows, _ in fresh:
            unit.status, unit.results, unit.finished_at = m.JobStatus.DONE, [_result(r) for r in rows], now
            out[unit.pk] = unit.results
        fast_mark_done([u for u, _, _ in fresh], now=now)
        if fresh:
            m.Dataset.objects.filter(pk=todo[0].job.dataset_id).update(last_edited_at=now)
    for unit, _, _ in built:
        if unit.pk not in pending:
            out[unit.pk] = list(m.DataJobUnit.objects.values_list("results", flat=True).get(pk=unit.pk) or [])
    return out


# ---- running a whole private job (batch path) and its result -------------------------------------

BATCH_SIZE = 1000


def run_private_job(job_id: int) -> str:
    """The batch runner for a private job: pending units in batches of BATCH_SIZE, probed in
    parallel, their rows written and outcomes recorded in bulk (conditional PENDING -> DONE/ERROR
    updates, so a second run changes nothing); the final status is settled by
    jobs.finish_data_job exactly as for uploads. Returns the job's status."""
    from . import jobs

    job = (
        m.DataJob.objects.select_related("integration").filter(pk=job_id, kind=m.DataJob.KIND_PRIVATE).first()
    )
    if job is None:
        return "MISSING"
    if job.is_terminal:
        return job.status
    units = list(
        m.DataJobUnit.objects.select_related("job", "job__integration")
        .filter(job=job, status=m.JobStatus.PENDING)
        .order_by("index")
    )
    batches = [units[i : i + BATCH_SIZE] for i in range(0, len(units), BATCH_SIZE)]
    # Probes of the next batch run while the current batch is written (network and DB overlap).
    upcoming = _submit_probes(batches[0]) if batches else []
    for i in range(len(batches)):
        current = upcoming
        upcoming = _submit_probes(batches[i + 1]) if i + 1 < len(batches) else []
        outcomes = _write_probed(current)
        failed = [u for u, _ in current if isinstance(outcomes.get(u.pk), PrivateDataError)]
        for unit in failed:
            jobs.record_unit_error(unit, outcomes[unit.pk].message)
        if failed and not job.ignore_errors:
            for _, future in upcoming:
                future.cancel()
            jobs._cancel_pending(
                job, "Not processed: another item of this job failed and ignore_errors is off."
            )
            break
    return jobs.finish_data_job(job)


def add_private_data(
    dataset,
    integration_id: Any,
    private_files: Any,
    ignore_errors: Any = False,
    *,
    timeout_seconds: float = 7 * 24 * 3600,
) -> list:
    """Start + wait; the created rows (DatasetDataInfo). A job that ends in ERROR raises
    InvalidArgumentError with the units' errors."""
    process_hash = add_private_data_start(
        dataset, integration_id=integration_id, private_files=private_files, ignore_errors=ignore_errors
    )
    result = dataset.wait_data_job(process_hash, timeout_seconds)
    return dataset._raise_unless_done(result, at_least=0)


# ---- signed URLs for browsers and re-encodes ---------------------------------------------------------


def private_signed_url(
    url: str,
    integration: m.CloudIntegration,
    *,
    lifetime_seconds: int | None = None,
    base_url: str | None = None,
    filename: str = "",
) -> str:
    """A time-limited download URL for an object of this integration that holds none of its
    stored secrets (media/private_links.py): the provider's own one-object, read-only URL where it
    can sign one, else our signed /media/private route. No request is sent to the provider."""
    try:
        cloud.adapter_for(integration).parse(url)
    except cloud.CloudError as exc:
        raise PrivateDataError(str(exc)) from None
    return private_links.link_for(
        url, integration, base_url=base_url, lifetime_seconds=lifetime_seconds, filename=filename
    )


def read_private_object(url: str, integration: m.CloudIntegration) -> io.RawIOBase:
    """A seekable, ranged reader over one object (nothing is downloaded up front)."""
    adapter = cloud.adapter_for(integration)
    try:
        return adapter.open(adapter.parse(url))
    except cloud.CloudError as exc:
        raise PrivateDataError(str(exc)) from None


__all__ = [
    "PrivateDataError",
    "add_private_data_start",
    "integration_create",
    "integration_delete",
    "integration_for",
    "load_private_files",
    "local_document",
    "read_private_files_from_local_file",
    "parse_private_files",
    "private_signed_url",
    "process_private_unit",
    "process_private_units",
    "read_private_object",
]


# ---- bulk writes without the ORM's per-value compilation ---------------------------------------
# Django's bulk_create/bulk_update spend ~0.2 ms per row compiling values; an import of 10,000
# entries is dominated by it. These write the same columns with one executemany per table.


def _column_converters(model, connection) -> list[tuple[str, str, Any, Any]]:
    """(column, attname, converter or None, field) for every concrete non-pk field."""
    out = []
    ops = connection.ops
    native_uuid = connection.features.has_native_uuid_field

    def memo(convert):
        # Most values repeat (the same `now`, empty metadata): convert each distinct one once.
        last: list = [object(), None]

        def run(v):
            if v is not last[0] and not (isinstance(v, (dict, list)) and not v and v == last[0]):
                last[0], last[1] = v, convert(v)
            return last[1]

        return run

    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        kind = f.get_internal_type()
        if kind == "UUIDField":
            conv = None if native_uuid else (lambda v: v.hex if v is not None else None)
        elif kind == "JSONField":
            conv = memo(lambda v, f=f: ops.adapt_json_value(v, f.encoder))
        elif kind == "DateTimeField":
            conv = memo(ops.adapt_datetimefield_value)
        elif kind in (
            "CharField",
            "TextField",
            "IntegerField",
            "BigIntegerField",
            "SmallIntegerField",
            "FloatField",
            "BooleanField",
            "ForeignKey",
            "PositiveIntegerField",
            "PositiveSmallIntegerField",
        ):
            conv = None
        else:
            conv = lambda v, f=f: f.get_db_prep_save(v, connection)
        out.append((f.column, f.attname, conv, f))
    return out


class _Plain:
    """An attribute bag standing in for a model instance in fast_insert (no Model.__init__ cost)."""


_defaults_cache: dict = {}


def _defaults(model) -> tuple[dict, list]:
    if model not in _defaults_cache:
        consts, calls = {}, []
        for f in model._meta.concrete_fields:
            if f.primary_key:
                continue
            if f.has_default():
                if callable(f.default):
                    calls.append((f.attname, f.default))
                else:
                    consts[f.attname] = f.default
            else:
                consts[f.attname] = None
        _defaults_cache[model] = (consts, calls)
    return _defaults_cache[model]


def _blank(model, **values) -> _Plain:
    """A row of `model` with its field defaults (fresh UUIDs, empty JSON) and `values` (attnames)."""
    consts, calls = _defaults(model)
    obj = _Plain()
    d = obj.__dict__
    d.update(consts)
    for attname, default in calls:
        d[attname] = default()
    d.update(values)
    return obj


def fast_insert(objs: list, *, now, model=None) -> None:
    """INSERTs model instances of one model in one executemany; auto_now(_add) fields get `now`.
    Primary keys are NOT set on the instances (select them back by a unique column if needed)."""
    from django.db import DEFAULT_DB_ALIAS, connections

    connection = connections[DEFAULT_DB_ALIAS]

    if not objs:
        return
    model = model or type(objs[0])
    columns = _column_converters(model, connection)
    for column, attname, conv, f in columns:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            for o in objs:
                if getattr(o, attname) is None or getattr(f, "auto_now", False):
                    setattr(o, attname, now)
    qn = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(
        qn(model._meta.db_table), ", ".join(qn(c) for c, _, _, _ in columns), ", ".join(["%s"] * len(columns))
    )
    getters = [(attname, conv) for _, attname, conv, _ in columns]
    params = [
        [conv(getattr(o, a)) if conv is not None else getattr(o, a) for a, conv in getters] for o in objs
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY: the server's bulk-load path, no statement per row (psycopg 3 adapts each value).
            names = ", ".join(qn(c) for c, _, _, _ in columns)
            with cursor.cursor.copy(f"COPY {qn(model._meta.db_table)} ({names}) FROM STDIN") as copy:
                for row in params:
                    copy.write_row(row)
        else:
            for start in range(0, len(params), 5000):
                cursor.executemany(sql, params[start : start + 5000])


def fast_mark_done(units: list[m.DataJobUnit], *, now) -> None:
    """PENDING -> DONE with each unit's results, in one executemany of conditional UPDATEs."""
    from django.db import connection

    if not units:
        return
    meta = m.DataJobUnit._meta
    qn = connection.ops.quote_name
    results_field = meta.get_field("results")
    sql = "UPDATE {} SET {} = %s, {} = %s, {} = %s WHERE {} = %s AND {} = %s".format(
        qn(meta.db_table), qn("status"), qn("results"), qn("finished_at"), qn("id"), qn("status")
    )
    when = connection.ops.adapt_datetimefield_value(now)
    params = [
        [
            m.JobStatus.DONE,
            connection.ops.adapt_json_value(u.results, results_field.encoder),
            when,
            u.pk,
            m.JobStatus.PENDING,
        ]
        for u in units
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
