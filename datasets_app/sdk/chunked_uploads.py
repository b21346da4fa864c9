"""Resumable uploads from the browser: a file goes up in chunks appended at an offset, and the
client can ask how much the server already has (after a dropped connection or a page reload).

An upload session is an UploadSlot (sdk/upload_slots.py) issued to one user for one target: a
dataset (WRITE_DATA; pass the sdk Dataset) or a Files folder (WRITE_FILES; `folder_target`). Its
`size` holds the declared total until the bytes are complete. Chunks are appended to a staging
file under DATA_DIR/chunked/<item_uuid>.part (one writer at a time, under a file lock); the
chunk that completes the file is sniffed (media/sniff.py: what the bytes are, never the name; a
file that is no image, video or DICOM file is refused naming it, and its bytes go), then streamed
into hosted storage (media/storage.py, SHA-256 on the way); the slot records the kind (item_type)
and MIME type (a DICOM file's with its series: `application/dicom; series=<uid>`). `start_job`
then makes ONE data job of the completed slots: videos and images one item each (or the images
one image group / sequence when asked), DICOM files one series per SeriesInstanceUID, exactly as
the API's signed-PUT uploads are registered. One limit, settings.UPLOAD_MAX_BYTES, is checked when the session starts,
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
from django.db import transaction
from django.utils import timezone

from datasets_app import models as m
from datasets_app.media import sniff, storage
from datasets_app.media.probe import MediaError

from .data_items import ITEM_TYPE_OF_KIND, group_spec, single_spec
from .exceptions import InvalidArgumentError, PayloadTooLargeError, ResourceNotFoundError
from .folder_access import require_folder
from .folder_uploads import create_upload_job
from .policy import Op, Principal
from .units import KIND_DICOM, KIND_IMAGE, KIND_IMAGE_GROUP, KIND_VIDEO, UnitSpec
from .upload_slots import ITEM_DICOM, ITEM_IMAGE, ITEM_VIDEO, claim_slots, create_slots

# The largest chunk one request may carry; the page sends 4 MiB.
MAX_CHUNK_BYTES = 32 * 1024 * 1024
READ_SIZE = 256 * 1024

# What to make of the images of one upload (videos and DICOM files are what they are).
IMAGES_SEPARATE = "separate"
IMAGES_GROUP = "image_group"
IMAGES_SEQUENCE = "image_sequence"
IMAGE_CHOICES = (IMAGES_SEPARATE, IMAGES_GROUP, IMAGES_SEQUENCE)
# The slot's item type for each sniffed kind, and back.
ITEM_OF_KIND = {sniff.KIND_IMAGE: ITEM_IMAGE, sniff.KIND_VIDEO: ITEM_VIDEO, sniff.KIND_DICOM: ITEM_DICOM}
KIND_OF_ITEM = {item: kind for kind, item in ITEM_OF_KIND.items()}
SERIES_PARAM = "; series="

# Earlier pages named the kind; a given mode is only the session's provisional item type now.
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
    # what the server read the bytes to be ("image", "video", "dicom"); "" until complete
    kind: str = ""

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
        kind=KIND_OF_ITEM.get(slot.item_type, "") if slot.uploaded_at is not None else "",
    )


@dataclass(frozen=True)
class UploadTarget:
    """Where browser uploads go: a dataset (`owner` is its sdk Dataset) or a Files folder."""

    principal: Principal
    dataset: m.Dataset | None = None
    folder: m.StorageFolder | None = None
    owner: Any = None

    @property
    def slot_filter(self) -> dict:
        return {"dataset": self.dataset} if self.dataset is not None else {"folder": self.folder}


def folder_target(principal: Principal, folder_uuid: object) -> UploadTarget:
    """Uploads into this folder (WRITE_FILES; else the folder's not-found error). One query."""
    return UploadTarget(principal=principal, folder=require_folder(principal, folder_uuid, Op.WRITE_FILES))


def target_of(target: Any) -> UploadTarget:
    """An UploadTarget as given, or a dataset's (an sdk Dataset: WRITE_DATA on it)."""
    if isinstance(target, UploadTarget):
        return target
    return UploadTarget(principal=target.principal, dataset=target._require(Op.WRITE_DATA), owner=target)


def _get_slot(target: Any, upload_id: Any) -> m.UploadSlot:
    """The caller's unconsumed, unexpired session for this target; else not found."""
    target = target_of(target)
    try:
        item = uuid.UUID(str(upload_id))
    except ValueError:
        raise ResourceNotFoundError("No such upload.") from None
    slot = m.UploadSlot.objects.filter(
        item_uuid=item,
        user=target.principal.user,
        consumed_at__isnull=True,
        expires_at__gt=timezone.now(),
        **target.slot_filter,
    ).first()
    if slot is None or slot.size is None:
        raise ResourceNotFoundError("No such upload, or it has expired: start the file again.")
    return slot


def start_upload(target: Any, *, file_name: Any, size: Any, mode: Any = None) -> ChunkedUpload:
    """A new upload session for one file of `size` bytes (users only). One INSERT. The kind is
    read from the bytes when they are complete; `mode`, if given, is only provisional."""
    target = target_of(target)
    if target.principal.user is None:
        raise InvalidArgumentError("Browser uploads belong to a signed-in user.")
    if mode is not None and mode not in MODES:
        raise InvalidArgumentError(f"Unknown upload kind {mode!r}.", field="mode")
    total = _clean_size(size)
    name = _clean_name(file_name)
    (slot,) = create_slots(
        target.principal,
        MODES.get(mode, ITEM_IMAGE),
        [name],
        dataset=target.dataset,
        folder=target.folder,
        staging_bytes=total,
    )
    m.UploadSlot.objects.filter(pk=slot.pk).update(size=total)
    slot.size = total
    return _state(slot)


def upload_status(target: Any, upload_id: Any) -> ChunkedUpload:
    """How much of the file the server has (the client resumes from `offset`). One query."""
    return _state(_get_slot(target, upload_id))


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[Any]:
    with open(path, "ab") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield handle
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def append_chunk(
    target: Any, upload_id: Any, *, offset: Any, chunks: Iterable[bytes], length: int | None
) -> ChunkedUpload:
    """Appends a chunk that starts at `offset` (OffsetMismatch if the server's copy ends elsewhere).

    A chunk cut off midway keeps the bytes that arrived, so the client resumes at the new offset.
    The chunk that completes the file is sniffed (InvalidArgumentError naming the file when it is
    no image, video or DICOM file: the session and its bytes go) and moved into hosted storage.
    Streams; never reads whole."""
    slot = _get_slot(target, upload_id)
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


def _sniffed(slot: m.UploadSlot, path: Path) -> sniff.Sniffed:
    """What the staged file is; a file that is none of our kinds is refused, naming it, and its
    session and bytes go (a retry starts afresh and is told the same)."""
    try:
        return sniff.sniff(path)
    except MediaError as exc:
        m.UploadSlot.objects.filter(pk=slot.pk).delete()
        with contextlib.suppress(OSError):
            path.unlink()
        raise InvalidArgumentError(f"{slot.file_name}: {exc.reason}", field="file", file_name=slot.file_name) from None


def _complete(slot: m.UploadSlot, path: Path) -> None:
    """Sniffs the staged file, puts it into hosted storage and marks the slot uploaded with its
    kind and MIME type (idempotent)."""
    found = _sniffed(slot, path)
    content_type = found.mime_type + (SERIES_PARAM + found.series_uid if found.series_uid else "")
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
        uploaded_at=timezone.now(),
        size=size,
        sha256=sha256,
        item_type=ITEM_OF_KIND[found.kind],
        content_type=content_type[:100],
    )
    with contextlib.suppress(OSError):
        path.unlink()


def start_job(target: Any, upload_ids: Iterable[Any], *, images: Any = IMAGES_SEPARATE, title: str | None = None) -> str:
    """Starts ONE data job for completed uploads, in the order given; returns its process_hash.

    Each file is what its bytes were read to be: a video or an image one item each (`images`:
    IMAGES_GROUP makes the images one image group, IMAGES_SEQUENCE one image group made into a
    video; a dataset's group is split by resolution, a folder's is one group), DICOM files one
    series per SeriesInstanceUID. A file that fails is reported against itself, named; the rest
    are still added. Three queries plus the job's own."""
    target = target_of(target)
    if images not in IMAGE_CHOICES:
        raise InvalidArgumentError(
            f"images must be one of {', '.join(IMAGE_CHOICES)}, not {str(images)[:40]!r}.", field="images"
        )
    slots = _completed_slots(target, list(upload_ids))
    specs = unit_specs(slots, images=images, title=title, one_group=target.folder is not None)
    if target.owner is not None:
        return target.owner.start_upload_units(specs, ignore_errors=True)
    keys_by_type = {f.source: ITEM_TYPE_OF_KIND[spec.kind] for spec in specs for f in spec.files}
    with transaction.atomic():
        claimed = claim_slots(target.principal, keys_by_type, folder=target.folder)
        for spec in specs:
            for f in spec.files:
                f.sha256, f.size = claimed[f.source].sha256, claimed[f.source].size
        job = create_upload_job(target.principal, target.folder, specs, ignore_errors=True, skip=False, upsert=False)
    return str(job.process_hash)


def _completed_slots(target: UploadTarget, ids: list[Any]) -> list[m.UploadSlot]:
    """The caller's sessions of this target, in the order named, each complete; else the error."""
    if not ids:
        raise InvalidArgumentError("Upload at least one file.", field="uploads")
    if len(ids) > 10_000:
        raise InvalidArgumentError("At most 10,000 files per upload.", field="uploads")
    try:
        uuids = [uuid.UUID(str(i)) for i in ids]
    except ValueError:
        raise ResourceNotFoundError("No such upload.") from None
    found = {
        s.item_uuid: s
        for s in m.UploadSlot.objects.filter(
            item_uuid__in=uuids,
            user=target.principal.user,
            consumed_at__isnull=True,
            expires_at__gt=timezone.now(),
            **target.slot_filter,
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
    return slots


def series_of(slot: m.UploadSlot) -> str:
    """A DICOM upload's SeriesInstanceUID as sniffed ("" when the file names none)."""
    _, _, uid = slot.content_type.partition(SERIES_PARAM)
    return uid


def unit_specs(slots: list[m.UploadSlot], *, images: str, title: str | None, one_group: bool) -> list[UnitSpec]:
    """One unit per video, per image (or one for all images), per DICOM series; each unit where
    its first file is in the upload's order. `title` names the image group, or else the only DICOM
    series; other series are named by their first file."""
    groups: dict[tuple[str, str], list[m.UploadSlot]] = {}
    for slot in slots:
        if slot.item_type == ITEM_DICOM:
            key = ("dicom", series_of(slot))
        elif slot.item_type == ITEM_IMAGE and images != IMAGES_SEPARATE:
            key = ("images", "")
        else:
            key = ("single", str(slot.item_uuid))
        groups.setdefault(key, []).append(slot)
    series = [k for k in groups if k[0] == "dicom"]
    # the title names the image group; without one, a drop's only DICOM series
    titled = ("images", "") if ("images", "") in groups else (series[0] if len(series) == 1 else None)
    specs = []
    for key, members in groups.items():
        what = key[0]
        if what == "single":
            (slot,) = members
            kind = KIND_VIDEO if slot.item_type == ITEM_VIDEO else KIND_IMAGE
            specs.append(single_spec(kind, slot.object_key, slot.file_name))
            continue
        name = title if title and key == titled else members[0].file_name
        spec = group_spec(
            KIND_DICOM if what == "dicom" else KIND_IMAGE_GROUP, [(s.object_key, s.file_name) for s in members], name
        )
        if what == "images":
            spec.create_video = images == IMAGES_SEQUENCE
            spec.one_group = one_group
        specs.append(spec)
    return specs


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
