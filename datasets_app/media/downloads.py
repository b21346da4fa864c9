"""Signed, time-limited download URLs for hosted files, and the byte ranges our media endpoint serves.

`signed_download_url(key)` is S3's presigned URL when hosted storage is S3, else a URL to our own
endpoint (api/media_views.py) carrying an HMAC signature over the key and an expiry (media/signed.py).
`open_range(key, ...)` streams a byte range of a hosted file in chunks: no whole-file read."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from typing import IO, Iterator
from urllib.parse import quote, urlencode

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from . import private_links, signed, storage

PURPOSE = "download"
CHUNK_SIZE = 256 * 1024
ENDPOINT_PREFIX = "/media/signed/"


def signed_download_url(
    key: str, *, base_url: str | None = None, lifetime_seconds: int | None = None, filename: str = ""
) -> str:
    """A URL that serves hosted file `key` until it expires (SIGNED_URL_LIFETIME_SECONDS by default).

    Absolute when `base_url` or settings.PUBLIC_BASE_URL is known, else a path on this host. On S3
    the signature also fixes the response's Content-Disposition to a download of `filename` (the
    key's last part by default): whatever type an uploader gave the object, it never renders as a
    page on the bucket's origin."""
    lifetime = int(lifetime_seconds or settings.SIGNED_URL_LIFETIME_SECONDS)
    if storage.is_s3():
        return storage.presigned_get_url(key, filename=filename or key.rsplit("/", 1)[-1], lifetime_seconds=lifetime)
    expires = signed.expiry(lifetime)
    query = urlencode({"expires": expires, "signature": signed.sign(PURPOSE, key, expires=expires)})
    try:
        path = reverse("media-signed", kwargs={"key": key})
    except NoReverseMatch:
        # The route is added by api/urls.py; the path is fixed either way.
        path = ENDPOINT_PREFIX + quote(key)
    base = (base_url or settings.PUBLIC_BASE_URL or "").rstrip("/")
    return f"{base}{path}?{query}"


def signed_file_url(
    storage_key: str, url: str, integration=None, *, base_url: str | None = None, filename: str = ""
) -> str | None:
    """A time-limited download URL for a row's or member's file: hosted -> signed_download_url;
    external with an integration -> a link that holds none of its secrets (private_links.link_for:
    the provider's own scoped URL, or our signed route); else the URL itself."""
    if url:
        if integration is None:
            return url
        return private_links.link_for(url, integration, base_url=base_url, filename=filename)
    if not storage_key:
        return None
    return signed_download_url(storage_key, base_url=base_url, filename=filename)


def verify_download(key: str, expires: str | None, signature: str | None) -> bool:
    return signed.verify(PURPOSE, key, expires=expires or "", signature=signature or "")


@dataclass
class StoredFile:
    handle: IO[bytes]
    size: int
    content_type: str


def open_stored(key: str) -> StoredFile:
    """Opens a hosted file for streaming; FileNotFoundError when it is gone."""
    handle, size = storage.open_for_reading(key)
    content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
    return StoredFile(handle=handle, size=size, content_type=content_type)


def iter_range(handle: IO[bytes], start: int, length: int) -> Iterator[bytes]:
    """Yields `length` bytes from `start` in CHUNK_SIZE pieces, then closes the handle."""
    try:
        handle.seek(start)
        remaining = length
        while remaining > 0:
            chunk = handle.read(min(CHUNK_SIZE, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        handle.close()


def parse_range(header: str | None, size: int) -> tuple[int, int] | None | bool:
    """(start, end inclusive) for a single `bytes=` range; None when there is no usable Range header
    (serve the whole file); False when the range cannot be satisfied (416)."""
    if not header or not header.strip().lower().startswith("bytes="):
        return None
    spec = header.strip()[6:]
    if "," in spec:
        return None  # multiple ranges: serve the whole file, which RFC 9110 allows
    first, _, last = spec.strip().partition("-")
    try:
        if first == "":
            if not last:
                return None
            suffix = int(last)
            if suffix <= 0:
                return False
            return (max(0, size - suffix), size - 1) if size else False
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start < 0 or start >= size or end < start:
        return False
    return start, min(end, size - 1)
