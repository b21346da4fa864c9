"""The one interface every provider adapter implements, and what they share: the object shapes,
the errors (media/cloud_errors.py, with the SSRF guard's refusal), the SSRF check per host, and
`RangeFile`, a seekable file over ranged reads."""

from __future__ import annotations

import io
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from .. import netguard
from ..cloud_errors import AccessDenied, CloudError, ObjectNotFound, Unreachable, UnsupportedURL
from ..netguard import AddressRefused

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 30.0
STREAM_CHUNK = 1024 * 1024

# ---- shapes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectRef:
    """Where an object lives: bucket (or container) and key (or blob name). HTTPS: key is the URL."""

    bucket: str
    key: str
    url: str

    @property
    def name(self) -> str:
        """The last path segment: a default title."""
        return self.key.rstrip("/").rsplit("/", 1)[-1] or self.key


@dataclass(frozen=True)
class ObjectInfo:
    size: int | None
    content_type: str = ""
    etag: str = ""
    # HTTPS: where redirects ended (each hop checked by the guard); a video probe opens this one.
    final_url: str = ""


def attachment(filename: str) -> str:
    """A Content-Disposition value that makes a browser download `filename` (RFC 6266)."""
    from django.utils.http import content_disposition_header

    return content_disposition_header(True, filename or "download") or "attachment"


def strip_type(value: str | None) -> str:
    """The bare media type of a Content-Type value ("image/jpeg; x=y" -> "image/jpeg")."""
    return (value or "").split(";", 1)[0].strip().lower()


def total_from_content_range(value: str | None) -> int | None:
    """The object's total size from a Content-Range header, None when it is not given."""
    # "bytes 0-99/1234" -> 1234; "bytes */1234" -> 1234; "/*" unknown
    if not value or "/" not in value:
        return None
    total = value.rsplit("/", 1)[1].strip()
    return int(total) if total.isdigit() else None



def read_at_most(response: requests.Response, length: int) -> bytes:
    """At most `length` bytes of a streamed body (a server that ignored Range sends it all)."""
    buf = bytearray()
    for chunk in response.iter_content(min(length, STREAM_CHUNK) or 1):
        buf += chunk
        if len(buf) >= length:
            break
    return bytes(buf[:length])


# ---- the adapter interface ----------------------------------------------------------------------


class CloudAdapter(ABC):
    """One integration's view of its storage. Thread-safe: the import job probes in parallel."""

    provider = ""

    def __init__(self, *, config: dict[str, Any], credentials: dict[str, Any], allow_private_network: bool):
        self.config = dict(config or {})
        self.credentials = dict(credentials or {})
        self.allow_private_network = bool(allow_private_network)
        self.connect_timeout = float(self.config.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT))
        self.read_timeout = float(self.config.get("read_timeout", DEFAULT_READ_TIMEOUT))
        self._checked_hosts: set[tuple[str, int | None]] = set()
        self._lock = threading.Lock()

    # -- SSRF --
    def guard_url(self, url: str) -> None:
        """Checks the host of a URL we are about to contact (once per adapter and host)."""
        parts = urlsplit(url)
        key = ((parts.hostname or "").lower(), parts.port)
        if key in self._checked_hosts:
            return
        try:
            netguard.check_url(url, allow_private_network=self.allow_private_network)
        except AddressRefused:
            raise  # the guard\'s refusal is a CloudError already
        except netguard.HostUnresolvable as exc:
            raise Unreachable(str(exc)) from None
        with self._lock:
            self._checked_hosts.add(key)

    def session(self) -> requests.Session:
        return netguard.guarded_session(allow_private_network=self.allow_private_network, pool_size=32)

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)

    # -- operations --
    @abstractmethod
    def parse(self, url: str) -> ObjectRef:
        """The object a URL names, or UnsupportedURL saying which forms this integration takes."""

    @abstractmethod
    def head(self, ref: ObjectRef) -> ObjectInfo: ...

    @abstractmethod
    def read_range(self, ref: ObjectRef, start: int, length: int) -> tuple[bytes, ObjectInfo]:
        """Up to `length` bytes from `start`, and what the response said about the whole object."""

    @abstractmethod
    def iter_chunks(self, ref: ObjectRef, chunk_size: int = STREAM_CHUNK) -> Iterator[bytes]:
        """The whole object as a stream of chunks (never held in memory at once)."""

    @abstractmethod
    def signed_url(self, ref: ObjectRef, expires_seconds: int = 3600) -> str:
        """A time-limited GET URL for this server's own reads (probes, re-encodes through the
        relay). It may carry the integration's stored secret (an Azure SAS token): never hand it
        out; `shareable_url` is the one for clients."""

    def shareable_url(self, ref: ObjectRef, expires_seconds: int = 3600, filename: str = "") -> str | None:
        """A GET URL that may leave the server: scoped to this one object, read-only, expiring,
        and holding no stored credential; a download (Content-Disposition: attachment) where the
        provider lets the signature fix the response's headers. None when the provider cannot make
        one from this integration's credentials: then the bytes go through our own signed route."""
        return self.signed_url(ref, expires_seconds)

    @abstractmethod
    def list_objects(self, bucket: str, prefix: str = "", limit: int = 1000) -> list[tuple[str, int]]:
        """(key, size) of up to `limit` objects under `prefix`."""

    def open(self, ref: ObjectRef, *, size: int | None = None, block_size: int = 256 * 1024) -> RangeFile:
        """A seekable read-only file over ranged reads (for Pillow, PyAV, pydicom)."""
        return RangeFile(self, ref, size=size, block_size=block_size)


class RangeFile(io.RawIOBase):
    """A seekable file over `read_range`; reads what the reader asks for, block by block.

    Keeps at most `max_blocks` blocks in memory, so a probe that seeks to an MP4's trailing
    `moov` atom reads only the blocks it touches."""

    def __init__(
        self,
        adapter: CloudAdapter,
        ref: ObjectRef,
        *,
        size: int | None,
        block_size: int,
        max_blocks: int = 16,
    ):
        super().__init__()
        self.adapter, self.ref = adapter, ref
        self.block_size = block_size
        self.max_blocks = max_blocks
        self._blocks: dict[int, bytes] = {}
        self._pos = 0
        self.size = size
        self.bytes_fetched = 0
        self.info: ObjectInfo | None = None
        if self.size is None:
            self._block(0)

    def _block(self, index: int) -> bytes:
        if index in self._blocks:
            return self._blocks[index]
        data, info = self.adapter.read_range(self.ref, index * self.block_size, self.block_size)
        self.bytes_fetched += len(data)
        if self.info is None:
            self.info = info
        if self.size is None:
            self.size = info.size if info.size is not None else len(data)
        if len(self._blocks) >= self.max_blocks:
            self._blocks.pop(next(iter(self._blocks)))
        self._blocks[index] = data
        return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = (self.size or 0) + offset
        else:
            raise ValueError(f"bad whence {whence}")
        if pos < 0:
            raise OSError("negative seek position")
        self._pos = pos
        return pos

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        want = len(view)
        if want == 0 or (self.size is not None and self._pos >= self.size):
            return 0
        done = 0
        while done < want and (self.size is None or self._pos < self.size):
            index, offset = divmod(self._pos, self.block_size)
            block = self._block(index)
            piece = block[offset : offset + (want - done)]
            if not piece:
                break
            view[done : done + len(piece)] = piece
            done += len(piece)
            self._pos += len(piece)
        return done



__all__ = [
    "AccessDenied",
    "AddressRefused",
    "CloudAdapter",
    "CloudError",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectRef",
    "RangeFile",
    "STREAM_CHUNK",
    "Unreachable",
    "UnsupportedURL",
    "attachment",
    "read_at_most",
    "strip_type",
    "total_from_content_range",
]
