"""Plain HTTP(S) object URLs (requests through the SSRF-guarded session)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import requests

from .. import netguard
from .base import (
    STREAM_CHUNK,
    AccessDenied,
    AddressRefused,
    CloudAdapter,
    CloudError,
    ObjectInfo,
    ObjectNotFound,
    ObjectRef,
    Unreachable,
    UnsupportedURL,
    read_at_most,
    strip_type,
    total_from_content_range,
)

class HTTPSAdapter(CloudAdapter):
    """Any https:// URL (http:// only when the integration allows private networks, for local
    servers). Optional `config.base_url` restricts URLs to one site; optional credentials
    `bearer_token` or `username`/`password` are sent only to URLs under `base_url`. The object URL
    itself is what browsers get (there is nothing to sign)."""

    provider = "https"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.base_url = (self.config.get("base_url") or self.config.get("endpoint_url") or "").rstrip("/")
        self._session = None

    @property
    def http(self) -> requests.Session:
        if self._session is None:
            self._session = self.session()
        return self._session

    def parse(self, url: str) -> ObjectRef:
        if not isinstance(url, str) or not url:
            raise UnsupportedURL("An object URL must be a non-empty string.")
        parts = urlsplit(url)
        allowed = (
            ("https", "http") if self.allow_private_network or self.config.get("allow_http") else ("https",)
        )
        if parts.scheme not in allowed:
            raise UnsupportedURL(
                f"{url!r}: this integration takes {' or '.join(s + '://' for s in allowed)} URLs."
            )
        if not parts.hostname:
            raise UnsupportedURL(f"{url!r} has no host.")
        if self.base_url and not url.startswith(self.base_url + "/"):
            raise UnsupportedURL(f"{url!r} is outside this integration's base URL {self.base_url}/.")
        return ObjectRef(bucket="", key=url, url=url)

    def _headers(self, url: str) -> dict[str, str]:
        if not self.base_url or not url.startswith(self.base_url + "/"):
            return {}
        if token := self.credentials.get("bearer_token"):
            return {"Authorization": f"Bearer {token}"}
        return {}

    def _auth(self, url: str):
        if self.base_url and url.startswith(self.base_url + "/") and self.credentials.get("username"):
            return (self.credentials["username"], self.credentials.get("password", ""))
        return None

    def _get(self, ref: ObjectRef, method: str = "GET", headers: dict | None = None, stream: bool = True):
        try:
            response = self.http.request(
                method,
                ref.url,
                headers={**self._headers(ref.url), **(headers or {})},
                auth=self._auth(ref.url),
                timeout=self.timeout,
                stream=stream,
                allow_redirects=True,
            )
        except AddressRefused:
            raise  # the guard\'s refusal is a CloudError already
        except netguard.HostUnresolvable as exc:
            raise Unreachable(str(exc)) from None
        except requests.RequestException as exc:
            reason = exc.__class__.__name__
            raise Unreachable(f"{ref.url} is unreachable ({reason}).") from None
        if response.status_code == 404 or response.status_code == 410:
            response.close()
            raise ObjectNotFound(f"{ref.url} does not exist ({response.status_code}).")
        if response.status_code in (401, 403):
            response.close()
            raise AccessDenied(f"{ref.url} refused access ({response.status_code}).")
        return response

    def head(self, ref: ObjectRef) -> ObjectInfo:
        response = self._get(ref, "HEAD", stream=False)
        if response.status_code in (405, 501):
            return self.read_range(ref, 0, 1)[1]
        if response.status_code >= 400:
            raise CloudError(f"{ref.url} answered {response.status_code}.")
        length = response.headers.get("Content-Length")
        return ObjectInfo(
            size=int(length) if length and length.isdigit() else None,
            content_type=strip_type(response.headers.get("Content-Type")),
            etag=response.headers.get("ETag", ""),
            final_url=response.url,
        )

    def read_range(self, ref: ObjectRef, start: int, length: int) -> tuple[bytes, ObjectInfo]:
        response = self._get(ref, headers={"Range": f"bytes={start}-{start + length - 1}"})
        with response:
            if response.status_code == 416:
                return b"", ObjectInfo(size=total_from_content_range(response.headers.get("Content-Range")))
            if response.status_code >= 400:
                raise CloudError(f"{ref.url} answered {response.status_code}.")
            ctype = strip_type(response.headers.get("Content-Type"))
            if response.status_code == 206:
                total = total_from_content_range(response.headers.get("Content-Range"))
                return read_at_most(response, length), ObjectInfo(size=total, content_type=ctype)
            # No range support: skip to `start` in the stream, never holding more than `length`.
            length_header = response.headers.get("Content-Length")
            total = int(length_header) if length_header and length_header.isdigit() else None
            skipped, buf = 0, bytearray()
            for chunk in response.iter_content(STREAM_CHUNK):
                if skipped + len(chunk) <= start:
                    skipped += len(chunk)
                    continue
                buf += chunk[max(0, start - skipped) :]
                skipped = start
                if len(buf) >= length:
                    break
            return bytes(buf[:length]), ObjectInfo(size=total, content_type=ctype)

    def iter_chunks(self, ref: ObjectRef, chunk_size: int = STREAM_CHUNK) -> Iterator[bytes]:
        response = self._get(ref)
        with response:
            if response.status_code >= 400:
                raise CloudError(f"{ref.url} answered {response.status_code}.")
            yield from response.iter_content(chunk_size)

    def signed_url(self, ref: ObjectRef, expires_seconds: int = 3600) -> str:
        return ref.url

    def shareable_url(self, ref: ObjectRef, expires_seconds: int = 3600, filename: str = "") -> str | None:
        # An object our credentials unlock is served through our route (a browser has no token).
        if self._headers(ref.url) or self._auth(ref.url):
            return None
        return ref.url

    def list_objects(self, bucket: str, prefix: str = "", limit: int = 1000) -> list[tuple[str, int]]:
        raise CloudError("An HTTPS integration cannot list objects; give each object's URL.")

