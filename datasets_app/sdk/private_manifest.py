"""The private-files document of an import (Encord's `files` payload): loading it, and parsing it
strictly into entries (one per video, image, image group or DICOM series). No network access and,
for anything a request hands over, no file read."""

from __future__ import annotations

import json
import math
import os
import stat
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings

from datasets_app import models as m
from datasets_app.media import cloud

from .exceptions import InvalidArgumentError
from .units import KIND_OF_DATA_TYPE, UnitFile, UnitSpec
from .validation import clean_flag

# A document may name at most this many object URLs (all types together); 100,000 is refused.
MAX_URLS = int(getattr(settings, "PRIVATE_FILES_MAX_URLS", 50_000))
MAX_DOCUMENT_BYTES = int(getattr(settings, "PRIVATE_FILES_MAX_BYTES", 64 * 1024 * 1024))
MAX_URL_LENGTH = 2048
MAX_METADATA_BYTES = 64 * 1024
_MAX_TITLE = int(settings.MAX_TITLE_LENGTH)

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
# The SDK's dataItems spell the media-metadata keys in camelCase, documents in snake_case (§3.7).
METADATA_ALIASES = {"mimeType": "mime_type", "fileSize": "file_size"}


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

    def spec(self) -> UnitSpec:
        return UnitSpec(
            kind=KIND_OF_DATA_TYPE[self.data_type],
            files=[UnitFile(source=url) for url in self.urls],
            title=title_for(self),
            client_metadata=self.client_metadata,
            create_video=self.create_video,
            metadata=self.metadata,
        )


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


def _snake_keys(value: dict, where: str) -> dict:
    """The metadata block with camelCase keys (mimeType, fileSize) read as snake_case."""
    out: dict = {}
    for key, v in value.items():
        name = METADATA_ALIASES.get(key, key)
        if name in out:
            raise InvalidArgumentError(f"{where} gives {name} twice (camelCase and snake_case).", field=where)
        out[name] = v
    return out


def _clean_metadata(value: Any, spec: dict[str, type], where: str) -> dict:
    if not isinstance(value, dict):
        raise InvalidArgumentError(f"{where} must be an object with {', '.join(spec)}.", field=where)
    value = _snake_keys(value, where)
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
    _check_sections(doc)
    skip, upsert = (clean_flag(doc.get(name), name) for name in FLAGS)
    _check_size(doc)
    entries: list[Entry] = []
    for section, data_type in SECTIONS.items():
        for i, item in enumerate(doc.get(section) or []):
            if not isinstance(item, dict):
                raise InvalidArgumentError(f"{_where(section, i)} must be an object.", field=section)
            parse = _single_entry if section in SINGLE_KEYS else _group_entry
            entries.append(parse(section, i, item, data_type, adapter))
    if not entries:
        raise InvalidArgumentError(
            "private_files lists nothing: give at least one of videos, images, image_groups, dicom_series.",
            field="private_files",
        )
    return entries, skip, upsert


def _check_sections(doc: dict) -> None:
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


def _check_size(doc: dict) -> None:
    """Refuses a document naming more than MAX_URLS objects, before any entry is parsed."""
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


def _single_entry(section: str, i: int, item: dict, data_type: str, adapter: cloud.CloudAdapter) -> Entry:
    """A video or an image: {objectUrl, title?, clientMetadata?, videoMetadata/imageMetadata?}."""
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
    return Entry(
        data_type=data_type,
        urls=[ref.url],
        refs=[ref],
        title=_clean_title(item.get("title"), _where(section, i, "title"), required=False),
        client_metadata=_clean_client_metadata(item.get("clientMetadata"), _where(section, i, "clientMetadata")),
        metadata_given=item.get("clientMetadata") is not None,
        metadata=None
        if meta is None
        else _clean_metadata(
            meta, VIDEO_METADATA if section == "videos" else IMAGE_METADATA, _where(section, i, meta_key)
        ),
    )


def _group_entry(section: str, i: int, item: dict, data_type: str, adapter: cloud.CloudAdapter) -> Entry:
    """An image group or a DICOM series: {title, objectUrl_0, objectUrl_1, ..., clientMetadata?}."""
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
        raise InvalidArgumentError(f"{_where(section, i, 'createVideo')} must be true or false.", field=section)
    return Entry(
        data_type=data_type,
        urls=[r.url for r in refs],
        refs=refs,
        title=_clean_title(item.get("title"), _where(section, i, "title"), required=True),
        client_metadata=_clean_client_metadata(item.get("clientMetadata"), _where(section, i, "clientMetadata")),
        metadata_given=item.get("clientMetadata") is not None,
        create_video=create_video,
    )


def title_for(entry: Entry) -> str:
    if entry.title:
        return entry.title
    ref = entry.refs[0] if entry.refs else None
    if ref is None:
        return entry.urls[0][-_MAX_TITLE:]
    path = ref.key if ref.bucket else (cloud.urlsplit(ref.url).path.lstrip("/") or ref.url)
    return path[-_MAX_TITLE:]

