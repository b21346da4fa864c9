"""Resumable uploads from the browser: a file goes up in chunks appended at an offset, and the
client can ask how much the server already has (after a dropped connection or a page reload).

An upload session is an UploadSlot (sdk/uploads.py) issued to one user for one dataset; its
`size` holds the declared total until the bytes are complete. Chunks are appended to a staging
file under DATA_DIR/chunked/<item_uuid>.part (one writer at a time, under a file lock); the
chunk that completes the file streams the staging file into hosted storage (media/storage.py,
SHA-256 on the way), marks the slot uploaded and removes the staging file. `start_job` then names
the completed slots in a data job (`Dataset.start_upload_units`, the unit specs built here), exactly
as the API's signed-PUT uploads are registered. One limit, settings.UPLOAD_MAX_BYTES, is checked when the session starts,
on every chunk and again while streaming into storage.

Staging is local disk: web processes that share an upload must share DATA_DIR (one host, or a
shared volume). Nothing here reads a file or a chunk whole."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from datasets_app import models as m
from datasets_app.media import storage

from .exceptions import InvalidArgumentError, PayloadTooLargeError, ResourceNotFoundError
from .policy import Op
from .data_items import group_spec, single_spec
from .units import KIND_DICOM, KIND_IMAGE, KIND_IMAGE_GROUP, KIND_VIDEO, UnitSpec
from .upload_slots import ITEM_DICOM, ITEM_IMAGE, ITEM_VIDEO, create_slots

# The largest chunk one request may carry; the page sends 4 MiB.
MAX_CHUNK_BYTES = 32 * 1024 * 1024
READ_SIZE = 256 * 1024

MODE_VIDEOS = "videos"
MODE_IMAGES = "images"
MODE_IMAGE_GROUP = "image_group"
MODE_DICOM = "dicom"
MODES = {
    MODE_VIDEOS: ITEM_VIDEO,
    MODE_IMAGES: ITEM_IMAGE,
    MODE_IMAGE_GROUP: ITEM_IMAGE,
    MODE_DICOM: ITEM_DICOM,
}


class OffsetMismatch(Exception):
    """The chunk does not start where the server's copy ends; `offset` is where it does."""

    def __init__(self, offset: int) -> None:
        self.offset = offset
        super().__init__(f"The server has {offset} bytes of this file; send from there.")


@dataclass(frozen=True)
class ChunkedUpload:
    upload_id: str
    file_name: str
    item_type: str
    size: int
    offset: int
    stored: bool = False

    @property
    def complete(self) -> bool:
        """Every byte arrived and the file is in hosted storage."""
        return self.stored


def _staging_dir() -> Path:
    path = Path(settings.DATA_DIR) / "chunked"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _staging_path(slot: m.UploadSlot) -> Path:
    return _staging_dir() / f"{slot.item_uuid}.part"


def _clean_size(size: Any) -> int:
    if isinstance(size, bool):
        raise InvalidArgumentError("size must be a whole number of bytes.", field="size")
    try:
        value = int(size)
    except (TypeError, ValueError):
        raise InvalidArgumentError("size must be a whole number of bytes.", field="size") from None
    if value <= 0:
        raise InvalidArgumentError("The file is empty.", field="size")
    if value > settings.UPLOAD_MAX_BYTES:
        raise PayloadTooLargeError(
            f"The file is {value} bytes; the limit is {settings.UPLOAD_MAX_BYTES} bytes.", field="size"
        )
    return value


def _clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgumentError("Give the file's name.", field="file_name")
    base = os.path.basename(name.strip().replace("\\", "/"))
    if not base or len(base) > 1024 or any(ord(c) < 32 for c in base):
        raise InvalidArgumentError(
            "The file name is empty, too long or has control characters.", field="file_name"
        )
    return base


def _state(slot: m.UploadSlot) -> ChunkedUpload:
    if slot.uploaded_at is not None:
        offset = slot.size or 0
    else:
        path = _staging_path(slot)
        offset = path.stat().st_size if path.exists() else 0
    return ChunkedUpload(
        upload_id=str(slot.item_uuid),
        file_name=slot.file_name,
        item_type=slot.item_type,
        size=slot.size or 0,
        offset=offset,
        stored=slot.uploaded_at is not None,
    )


def _get_slot(dataset, upload_id: Any) -> m.UploadSlot:
    """The caller's unconsumed, unexpired session for this dataset (WRITE_DATA); else not found."""
    ds = dataset._require(Op.WRITE_DATA)
    try:
        item = uuid.UUID(str(upload_id))
    except ValueError:
        raise ResourceNotFoundError("No such upload.") from None
    slot = m.UploadSlot.objects.filter(
        item_uuid=item,
        dataset=ds,
        user=dataset.principal.user,
        consumed_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).first()
    if slot is None or slot.size is None:
        raise ResourceNotFoundError("No such upload, or it has expired: start the file again.")
    return slot


def start_upload(dataset, *, file_name: Any, size: Any, mode: Any) -> ChunkedUpload:
    """A new upload session for one file of `size` bytes (WRITE_DATA; users only). One INSERT."""
    ds = dataset._require(Op.WRITE_DATA)
    if dataset.principal.user is None:
        raise InvalidArgumentError("Browser uploads belong to a signed-in user.")
    if mode not in MODES:
        raise InvalidArgumentError(f"Unknown upload kind {mode!r}.", field="mode")
    total = _clean_size(size)
    name = _clean_name(file_name)
    (slot,) = create_slots(dataset.principal, MODES[mode], [name], dataset=ds, staging_bytes=total)
    m.UploadSlot.objects.filter(pk=slot.pk).update(size=total)
    slot.size = total
    return _state(slot)


def upload_status(dataset, upload_id: Any) -> ChunkedUpload:
    """How much of the file the server has (the client resumes from `offset`). One query."""
    return _state(_get_slot(dataset, upload_id))


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[Any]:
    with open(path, "ab") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield handle
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def append_chunk(
    dataset, upload_id: Any, *, offset: Any, chunks: Iterable[bytes], length: int | None
) -> ChunkedUpload:
    """Appends a chunk that starts at `offset` (OffsetMismatch if the server's copy ends elsewhere).

    A chunk cut off midway keeps the bytes that arrived, so the client resumes at the new offset.
    The chunk that completes the file moves it into hosted storage. Streams; never reads whole."""
    slot = _get_slot(dataset, upload_id)
    if slot.uploaded_at is not None:
        raise OffsetMismatch(slot.size or 0)
    try:
        start = int(offset)
    except (TypeError, ValueError):
        raise InvalidArgumentError("offset must be a whole number of bytes.", field="offset") from None
    total = slot.size or 0
    if length is not None and length > MAX_CHUNK_BYTES:
        raise PayloadTooLargeError(f"A chunk may carry at most {MAX_CHUNK_BYTES} bytes.")
    if length is not None and start + length > total:
        raise PayloadTooLargeError(f"This chunk would take the file past its declared size of {total} bytes.")
    path = _staging_path(slot)
    with _locked(path) as handle:
        # Another request may have completed the file while this one waited for the lock.
        if m.UploadSlot.objects.filter(pk=slot.pk, uploaded_at__isnull=False).exists():
            raise OffsetMismatch(total)
        have = os.fstat(handle.fileno()).st_size
        if have != start:
            raise OffsetMismatch(have)
        written = 0
        for chunk in chunks:
            if not chunk:
                continue
            if have + written + len(chunk) > total or written + len(chunk) > MAX_CHUNK_BYTES:
                # Keep what fits the declared size; the rest is refused.
                handle.flush()
                raise PayloadTooLargeError(f"The file is larger than its declared size of {total} bytes.")
            handle.write(chunk)
            written += len(chunk)
        handle.flush()
        have += written
        if have == total:
            _complete(slot, path)
    slot.refresh_from_db()
    return _state(slot)


def _move_into_local_storage(key: str, path: Path) -> tuple[int, str] | None:
    """(size, sha256) after renaming the staged file into local hosted storage; None when storage
    is not a local directory on the same file system (the file is then streamed instead). Hashing
    is one read pass and the rename writes nothing, so a large file is not written a second time."""
    target = storage.local_path(key)
    if target is None:
        return None
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while block := handle.read(1024 * 1024):
            digest.update(block)
            size += len(block)
    if size > settings.UPLOAD_MAX_BYTES:
        raise PayloadTooLargeError(f"The file is larger than the limit of {settings.UPLOAD_MAX_BYTES} bytes.")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    try:
        os.replace(path, target)
    except OSError as exc:
        if exc.errno == errno.EXDEV:
            return None
        raise
    return size, digest.hexdigest()


def _complete(slot: m.UploadSlot, path: Path) -> None:
    """Puts the staged file into hosted storage and marks the slot uploaded (idempotent)."""
    moved = _move_into_local_storage(slot.object_key, path)
    if moved is None:
        try:
            stored = storage.save_stream(
                slot.object_key, storage.file_chunks(str(path), READ_SIZE), limit=settings.UPLOAD_MAX_BYTES
            )
        except storage.TooLarge:
            raise PayloadTooLargeError(
                f"The file is larger than the limit of {settings.UPLOAD_MAX_BYTES} bytes."
            ) from None
        moved = (stored.size, stored.sha256)
    size, sha256 = moved
    m.UploadSlot.objects.filter(pk=slot.pk, uploaded_at__isnull=True).update(
        uploaded_at=timezone.now(), size=size, sha256=sha256
    )
    with contextlib.suppress(OSError):
        path.unlink()


def start_job(dataset, upload_ids: Iterable[Any], *, mode: Any, title: str | None = None) -> str:
    """Starts the data job for completed uploads, in the order given; returns its process_hash.

    videos / images: one item per file; image_group: one group (the worker splits it by
    resolution, each keeping this order); dicom: one series."""
    if mode not in MODES:
        raise InvalidArgumentError(f"Unknown upload kind {mode!r}.", field="mode")
    ids = list(upload_ids)
    if not ids:
        raise InvalidArgumentError("Upload at least one file.", field="uploads")
    if len(ids) > 10_000:
        raise InvalidArgumentError("At most 10,000 files per upload.", field="uploads")
    ds = dataset._require(Op.WRITE_DATA)
    try:
        uuids = [uuid.UUID(str(i)) for i in ids]
    except ValueError:
        raise ResourceNotFoundError("No such upload.") from None
    found = {
        s.item_uuid: s
        for s in m.UploadSlot.objects.filter(
            item_uuid__in=uuids,
            dataset=ds,
            user=dataset.principal.user,
            consumed_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
    }
    missing = [str(u) for u in uuids if u not in found]
    if missing:
        raise ResourceNotFoundError(
            "Some uploads are unknown or expired: upload those files again.", uploads=missing
        )
    slots = [found[u] for u in uuids]
    for slot in slots:
        if slot.uploaded_at is None:
            raise InvalidArgumentError(f"{slot.file_name} has not finished uploading.", field="uploads")
        if slot.item_type != MODES[mode]:
            raise InvalidArgumentError(
                f"{slot.file_name} was uploaded as a {slot.item_type}, not for {mode}."
            )
    # A bad file is reported against itself; the good ones are still added.
    return dataset.start_upload_units(_unit_specs(mode, slots, title), ignore_errors=True)


def _unit_specs(mode: str, slots: list[m.UploadSlot], title: str | None) -> list[UnitSpec]:
    """videos / images: one unit per file; image_group / dicom: one unit of all the files."""
    if mode in (MODE_VIDEOS, MODE_IMAGES):
        kind = KIND_VIDEO if mode == MODE_VIDEOS else KIND_IMAGE
        return [single_spec(kind, s.object_key, s.file_name) for s in slots]
    kind = KIND_IMAGE_GROUP if mode == MODE_IMAGE_GROUP else KIND_DICOM
    return [group_spec(kind, [(s.object_key, s.file_name) for s in slots], title)]


def sweep_staging(*, older_than_seconds: int = 3600) -> int:
    """Deletes staging files of uploads that can no longer finish (slot expired, consumed or gone)
    and untouched for `older_than_seconds`; returns how many went. For a periodic task: one query
    per 1,000 files."""
    import time

    directory = _staging_dir()
    cutoff = time.time() - older_than_seconds
    candidates: dict[uuid.UUID, Path] = {}
    for path in directory.glob("*.part"):
        try:
            if path.stat().st_mtime > cutoff:
                continue
            candidates[uuid.UUID(path.stem)] = path
        except (OSError, ValueError):
            continue
    removed = 0
    items = list(candidates)
    for start in range(0, len(items), 1000):
        batch = items[start : start + 1000]
        alive = set(
            m.UploadSlot.objects.filter(
                item_uuid__in=batch,
                consumed_at__isnull=True,
                uploaded_at__isnull=True,
                expires_at__gt=timezone.now(),
            ).values_list("item_uuid", flat=True)
        )
        for item in batch:
            if item not in alive:
                with contextlib.suppress(OSError):
                    candidates[item].unlink()
                    removed += 1
    return removed
