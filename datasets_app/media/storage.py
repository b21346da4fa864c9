"""The only storage adapter: hosted media goes through Django's default storage (local files
under DATA_DIR, or S3 via django-storages). Keys are ours (dataset/data hash based), never a
file name."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import QuerySet

logger = logging.getLogger(__name__)


def hosted_keys_of(items: QuerySet) -> list[str]:
    """Every hosted file key of these storage items and their members (originals, thumbnails,
    re-encodes, sequence videos).

    Two queries; external URLs are never included, so they are never deleted."""
    from datasets_app.models import DataRowMember

    keys: set[str] = set()
    for item_keys in items.values_list("storage_key", "thumbnail_key", "original_storage_key", "sequence_video_key"):
        keys.update(k for k in item_keys if k)
    for storage_key, thumb in DataRowMember.objects.filter(item__in=items).values_list(
        "storage_key", "thumbnail_key"
    ):
        keys.update(k for k in (storage_key, thumb) if k)
    return sorted(keys)


def delete_files(keys: Iterable[str]) -> int:
    """Deletes hosted files; missing ones are fine (a second run is a no-op). Returns how many went."""
    gone = 0
    for key in keys:
        try:
            if default_storage.exists(key):
                default_storage.delete(key)
                gone += 1
        except OSError:
            logger.exception("could not delete stored file %s", key)
            raise
    return gone


# ---- writing hosted files ----------------------------------------------------------------------

CHUNK_SIZE = 1024 * 1024
UPLOAD_PREFIX = "uploads/"
THUMBNAIL_PREFIX = "thumbnails/"


class TooLarge(Exception):
    """The stream went past the byte limit; nothing was kept."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"The file is larger than the limit of {limit} bytes.")


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str


def is_s3() -> bool:
    return bool(getattr(settings, "AWS_STORAGE_BUCKET_NAME", ""))


def upload_key(item_uuid: uuid.UUID | str) -> str:
    """The key an issued upload slot writes to: ours, never the caller's file name."""
    return f"{UPLOAD_PREFIX}{uuid.UUID(str(item_uuid))}"


def thumbnail_key(owner_key: str) -> str:
    """Deterministic thumbnail key of a stored file, so a re-run overwrites instead of adding."""
    return f"{THUMBNAIL_PREFIX}{owner_key.replace('/', '_')}.jpg"


def local_path(key: str) -> str | None:
    """The file system path of hosted file `key`, or None when storage is not a local directory."""
    try:
        return default_storage.path(key)
    except NotImplementedError:
        return None


class _HashingReader:
    """A read()-able view of a chunk iterator that hashes and counts as bytes pass (for boto3)."""

    def __init__(self, chunks: Iterator[bytes], limit: int | None) -> None:
        self._chunks = chunks
        self._buffer = b""
        self.digest = hashlib.sha256()
        self.size = 0
        self.limit = limit

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buffer) < n:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self.size += len(chunk)
            if self.limit is not None and self.size > self.limit:
                raise TooLarge(self.limit)
            self.digest.update(chunk)
            self._buffer += chunk
        if n < 0:
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out


def save_stream(
    key: str, chunks: Iterable[bytes], *, limit: int | None = None, content_type: str = ""
) -> StoredObject:
    """Writes chunks to hosted file `key`, computing SHA-256 and size as they pass (one pass).

    Local storage writes a temporary file next to the target and renames it into place, so an
    interrupted or oversized stream leaves no file at `key` and no partial file behind. Raises
    TooLarge past `limit` bytes; any exception from `chunks` propagates after cleanup."""
    path = local_path(key)
    iterator = iter(chunks)
    if path is None:
        reader = _HashingReader(iterator, limit)
        extra = {"ContentType": content_type} if content_type else {}
        # A failed multipart upload is aborted by boto3; a failed single PUT never lands.
        default_storage.bucket.upload_fileobj(reader, default_storage._normalize_name(key), ExtraArgs=extra)
        return StoredObject(key=key, size=reader.size, sha256=reader.digest.hexdigest())
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in iterator:
                if not chunk:
                    continue
                size += len(chunk)
                if limit is not None and size > limit:
                    raise TooLarge(limit)
                digest.update(chunk)
                out.write(chunk)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return StoredObject(key=key, size=size, sha256=digest.hexdigest())


def move(src_key: str, dst_key: str) -> None:
    """Puts hosted file `src_key` at `dst_key` (replacing what was there) and removes `src_key`:
    a rename on local storage (atomic on one filesystem), a copy and a delete on S3."""
    src, dst = local_path(src_key), local_path(dst_key)
    if src is None or dst is None:
        bucket = default_storage.bucket
        bucket.copy({"Bucket": bucket.name, "Key": default_storage._normalize_name(src_key)},
                    default_storage._normalize_name(dst_key))
        delete_files([src_key])
        return
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    os.replace(src, dst)


def file_chunks(file: str | os.PathLike | IO[bytes], chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Chunks of a path, an UploadedFile (its .chunks()) or a binary file object; never one read."""
    if isinstance(file, (str, os.PathLike)):
        with open(file, "rb") as handle:
            while chunk := handle.read(chunk_size):
                yield chunk
        return
    if hasattr(file, "chunks"):
        yield from file.chunks(chunk_size)
        return
    while chunk := file.read(chunk_size):
        yield chunk


def exists(key: str) -> bool:
    return bool(key) and default_storage.exists(key)


def size_of(key: str) -> int:
    return default_storage.size(key)


@contextmanager
def local_copy(key: str, *, want_sha256: bool = False) -> Iterator[tuple[str, str]]:
    """(a local path to hosted file `key`, its SHA-256 or "") for probing.

    Local storage: the file itself, no copy (and no hashing unless asked). S3: streamed once to a
    temporary file, hashed on the way, removed afterwards; TooLarge past settings.UPLOAD_MAX_BYTES
    (an upload's pre-signed PUT URL stays valid after registration, so the object may have been
    replaced by a bigger one since its size was checked)."""
    path = local_path(key)
    if path is not None:
        digest = ""
        if want_sha256:
            h = hashlib.sha256()
            for chunk in file_chunks(path):
                h.update(chunk)
            digest = h.hexdigest()
        yield path, digest
        return
    fd, tmp = tempfile.mkstemp(prefix="dd-media-")
    try:
        h = hashlib.sha256()
        limit, copied = settings.UPLOAD_MAX_BYTES, 0
        with os.fdopen(fd, "wb") as out, default_storage.open(key, "rb") as src:
            while chunk := src.read(CHUNK_SIZE):
                copied += len(chunk)
                if copied > limit:
                    raise TooLarge(limit)
                h.update(chunk)
                out.write(chunk)
        yield tmp, h.hexdigest()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def save_small(key: str, data: bytes, content_type: str = "image/jpeg") -> None:
    """Writes a small generated file (a thumbnail) under `key`, replacing any earlier one."""
    save_stream(key, [data], content_type=content_type)


def presigned_put_url(key: str, *, content_type: str | None = None, lifetime_seconds: int) -> str:
    """The object store's own pre-signed PUT URL for `key` (S3 hosted storage only).

    It fixes neither size nor type: the encord SDK PUTs to it before telling us either (no
    presigned POST with a content-length-range is possible). The size is enforced where the
    object is first read: `head` at registration, `local_copy` while the job streams it."""
    client = default_storage.connection.meta.client
    params = {"Bucket": default_storage.bucket_name, "Key": default_storage._normalize_name(key)}
    return client.generate_presigned_url("put_object", Params=params, ExpiresIn=int(lifetime_seconds))


def head(key: str) -> tuple[int, str] | None:
    """(size, sha256 if the store recorded one else "") of an S3 object, None when absent."""
    from botocore.exceptions import ClientError

    client = default_storage.connection.meta.client
    try:
        resp = client.head_object(
            Bucket=default_storage.bucket_name, Key=default_storage._normalize_name(key)
        )
    except ClientError:
        return None
    return int(resp["ContentLength"]), ""


def presigned_get_url(key: str, *, filename: str, lifetime_seconds: int) -> str:
    """S3's own pre-signed GET of hosted file `key` (S3 hosted storage only). The signature fixes
    the response's Content-Disposition to a download of `filename`, so whatever type an uploader
    gave the object, it never renders as a page on the bucket's origin."""
    from django.utils.http import content_disposition_header

    disposition = content_disposition_header(True, filename)
    return default_storage.url(key, parameters={"ResponseContentDisposition": disposition}, expire=lifetime_seconds)


def open_for_reading(key: str) -> tuple[IO[bytes], int]:
    """(an open binary handle, its size) of hosted file `key`; FileNotFoundError when it is gone."""
    if not key or not default_storage.exists(key):
        raise FileNotFoundError(key)
    size = default_storage.size(key)
    return default_storage.open(key, "rb"), size


def walk_keys(prefix: str = "", *, include_partial: bool = False) -> Iterator[str]:
    """Every stored key under prefix, one directory listing at a time (temporary .part files
    skipped unless `include_partial`: the orphan sweep collects those an interrupted write left)."""
    dirs, files = default_storage.listdir(prefix)
    for name in files:
        if name.startswith(".part-") and not include_partial:
            continue
        yield f"{prefix}/{name}" if prefix else name
    for d in dirs:
        yield from walk_keys(f"{prefix}/{d}" if prefix else d, include_partial=include_partial)


def missing_files(*, batch: int = 1000) -> Iterator[tuple[str, str, str]]:
    """(item_uuid, what, key) for hosted files storage items or their members point at that
    storage lacks.

    Streams items in chunks (constant memory); one existence check per key."""
    from datasets_app.models import DataRowMember, StorageItem

    rows = StorageItem.objects.exclude(storage_key="", thumbnail_key="", sequence_video_key="").values_list(
        "item_uuid", "storage_key", "thumbnail_key", "sequence_video_key"
    )
    for data_hash, key, thumb, sequence in rows.iterator(chunk_size=batch):
        for what, k in (("file", key), ("thumbnail", thumb), ("sequence video", sequence)):
            if k and not default_storage.exists(k):
                yield str(data_hash), what, k
    members = DataRowMember.objects.exclude(storage_key="", thumbnail_key="").values_list(
        "item__item_uuid", "storage_key", "thumbnail_key"
    )
    for data_hash, key, thumb in members.iterator(chunk_size=batch):
        for what, k in (("member file", key), ("member thumbnail", thumb)):
            if k and not default_storage.exists(k):
                yield str(data_hash), what, k


def modified_time(key: str):
    """When hosted file `key` last changed; NotImplementedError or FileNotFoundError if unknown."""
    return default_storage.get_modified_time(key)


# ---- files a worker makes (re-encodes, sequence videos) -----------------------------------------


def streamable_source(key: str, *, lifetime_seconds: int = 6 * 3600) -> str:
    """A local path (filesystem storage) or a URL ffmpeg/PyAV can stream (S3 presigned)."""
    path = local_path(key)
    if path is not None:
        return path
    return default_storage.url(key, expire=lifetime_seconds)


def work_dir(name: str) -> str | None:
    """A scratch directory beside the hosted files when they are local (same disk, so storing a
    result is a rename), else None: the system temp dir."""
    root = local_path(name)
    if root is None:
        return None
    os.makedirs(root, exist_ok=True)
    return root


def store_file(key: str, file_path: str | os.PathLike) -> None:
    """Puts a local file into hosted storage under exactly `key`, replacing what is there.

    Filesystem storage: a move (a rename when on the same disk, no copy). Other storage (S3):
    streamed upload; the S3 backend overwrites in place (AWS_S3_FILE_OVERWRITE)."""
    import shutil

    from django.core.files import File

    dest = local_path(key)
    if dest is not None:
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.move(str(file_path), dest)
        return
    with open(file_path, "rb") as fh:
        saved = default_storage.save(key, File(fh, name=os.path.basename(key)))
    if saved != key:
        default_storage.delete(saved)
        raise OSError(f"could not store {key}: storage chose {saved}")
