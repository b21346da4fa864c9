"""Google Cloud Storage (google-cloud-storage), or a GCS-compatible endpoint (the emulator)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import quote, unquote, urlsplit

import requests

from .. import netguard, redact
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
    attachment,
    read_at_most,
    strip_type,
    total_from_content_range,
)

class GCSAdapter(CloudAdapter):
    """Google Cloud Storage, or a GCS-compatible endpoint at `config.endpoint_url` (emulator).

    URLs: gs://bucket/key, https://storage.googleapis.com/bucket/key, https://<bucket>.storage.googleapis.com/key
    and <endpoint_url>/bucket/key. Credentials: `service_account_json` (a key file's contents);
    none means anonymous access (public buckets), which cannot sign: signed_url then returns the
    plain object URL."""

    provider = "gcs"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.endpoint_url = (self.config.get("endpoint_url") or "").rstrip("/") or None
        self._client = None
        self._sa_credentials = None

    @property
    def public_base(self) -> str:
        return self.endpoint_url or "https://storage.googleapis.com"

    def _credentials(self):
        info = self.credentials.get("service_account_json")
        if not info:
            return None
        if isinstance(info, str):
            info = json.loads(info)
        if self._sa_credentials is None:
            from google.oauth2 import service_account

            self._sa_credentials = service_account.Credentials.from_service_account_info(
                info, scopes=["https://www.googleapis.com/auth/devstorage.read_only"]
            )
        return self._sa_credentials

    @property
    def client(self):
        if self._client is None:
            from google.auth.credentials import AnonymousCredentials
            from google.auth.transport.requests import AuthorizedSession
            from google.cloud import storage

            self.guard_url(self.public_base)
            creds = self._credentials()
            if creds is not None:
                token_uri = getattr(creds, "_token_uri", "") or ""
                if token_uri:
                    self.guard_url(token_uri)
                http = AuthorizedSession(creds)
            else:
                creds = AnonymousCredentials()
                http = requests.Session()
            guarded = netguard.GuardedAdapter(
                allow_private_network=self.allow_private_network, pool_connections=32, pool_maxsize=32
            )
            http.mount("http://", guarded)
            http.mount("https://", guarded)
            http.trust_env = False
            options = {"api_endpoint": self.endpoint_url} if self.endpoint_url else None
            self._client = storage.Client(
                project=self.config.get("project") or "-",
                credentials=creds,
                _http=http,
                client_options=options,
            )
        return self._client

    def parse(self, url: str) -> ObjectRef:
        if not isinstance(url, str) or not url:
            raise UnsupportedURL("An object URL must be a non-empty string.")
        parts = urlsplit(url)
        path = unquote(parts.path)
        host = (parts.hostname or "").lower()
        if parts.scheme == "gs":
            bucket, key = parts.netloc, path.lstrip("/")
        elif parts.scheme in ("http", "https") and host == "storage.googleapis.com":
            bucket, _, key = path.lstrip("/").partition("/")
        elif parts.scheme in ("http", "https") and host.endswith(".storage.googleapis.com"):
            bucket, key = host[: -len(".storage.googleapis.com")], path.lstrip("/")
        elif self.endpoint_url and url.startswith(self.endpoint_url + "/"):
            bucket, _, key = unquote(url[len(self.endpoint_url) + 1 :].split("?", 1)[0]).partition("/")
        else:
            raise UnsupportedURL(
                f"{url!r} is not an object of this GCS integration: use gs://bucket/key or "
                f"{self.public_base}/bucket/key."
            )
        if not bucket or not key:
            raise UnsupportedURL(f"{url!r} names no object: expected gs://bucket/key.")
        return ObjectRef(bucket=bucket, key=key, url=url)

    def _errors(self, exc: Exception, ref: ObjectRef | None = None) -> CloudError:
        from google.api_core import exceptions as gexc
        from google.auth import exceptions as aexc

        what = f"gs://{ref.bucket}/{ref.key}" if ref else "the bucket"
        if isinstance(exc, gexc.NotFound):
            return ObjectNotFound(f"{what} does not exist (404).")
        if isinstance(exc, (gexc.Forbidden, gexc.Unauthorized, aexc.RefreshError)):
            return AccessDenied(f"Access to {what} was denied: check the service account. ({redact.scrub(exc)})")
        if isinstance(exc, AddressRefused):
            return AddressRefused(str(exc))
        if isinstance(exc, (requests.ConnectionError, requests.Timeout, aexc.TransportError)):
            return Unreachable(f"Google Cloud Storage is unreachable for {what}: {redact.scrub(exc)}")
        if isinstance(exc, gexc.GoogleAPIError):
            return CloudError(f"Google Cloud Storage refused {what}: {redact.scrub(exc)}")
        return CloudError(redact.scrub(exc))

    def _blob(self, ref: ObjectRef):
        return self.client.bucket(ref.bucket).blob(ref.key)

    def _call(self, ref: ObjectRef | None, fn, *args, **kwargs):
        from google.api_core import exceptions as gexc
        from google.auth import exceptions as aexc

        try:
            return fn(*args, **kwargs)
        except (
            gexc.GoogleAPIError,
            aexc.GoogleAuthError,
            requests.RequestException,
            AddressRefused,
        ) as exc:
            raise self._errors(exc, ref) from None

    def head(self, ref: ObjectRef) -> ObjectInfo:
        blob = self._call(ref, self.client.bucket(ref.bucket).get_blob, ref.key, timeout=self.timeout)
        if blob is None:
            raise ObjectNotFound(f"gs://{ref.bucket}/{ref.key} does not exist (404).")
        return ObjectInfo(size=blob.size, content_type=strip_type(blob.content_type), etag=blob.etag or "")

    def read_range(self, ref: ObjectRef, start: int, length: int) -> tuple[bytes, ObjectInfo]:
        # The JSON API's media download with a Range header; the response's Content-Range gives the size.
        blob = self._blob(ref)
        url = f"{self.client._connection.API_BASE_URL}/download/storage/v1/b/{quote(ref.bucket, safe='')}/o/{quote(ref.key, safe='')}?alt=media"
        http = self.client._http
        response = self._call(
            ref,
            http.get,
            url,
            headers={"Range": f"bytes={start}-{start + length - 1}"},
            timeout=self.timeout,
            stream=True,
        )
        with response:
            if response.status_code == 404:
                raise ObjectNotFound(f"gs://{ref.bucket}/{ref.key} does not exist (404).")
            if response.status_code == 416:
                return b"", self.head(ref)
            if response.status_code in (401, 403):
                raise AccessDenied(
                    f"Access to gs://{ref.bucket}/{ref.key} was denied ({response.status_code})."
                )
            if response.status_code not in (200, 206):
                raise CloudError(
                    f"Google Cloud Storage answered {response.status_code} for gs://{ref.bucket}/{ref.key}."
                )
            data = read_at_most(response, length)
            total = total_from_content_range(response.headers.get("Content-Range"))
            if total is None and response.status_code == 200:
                total = int(response.headers.get("Content-Length") or 0) or None
        del blob
        return data, ObjectInfo(size=total, content_type=strip_type(response.headers.get("Content-Type")))

    def iter_chunks(self, ref: ObjectRef, chunk_size: int = STREAM_CHUNK) -> Iterator[bytes]:
        url = f"{self.client._connection.API_BASE_URL}/download/storage/v1/b/{quote(ref.bucket, safe='')}/o/{quote(ref.key, safe='')}?alt=media"
        response = self._call(ref, self.client._http.get, url, timeout=self.timeout, stream=True)
        with response:
            if response.status_code == 404:
                raise ObjectNotFound(f"gs://{ref.bucket}/{ref.key} does not exist (404).")
            if response.status_code != 200:
                raise CloudError(
                    f"Google Cloud Storage answered {response.status_code} for gs://{ref.bucket}/{ref.key}."
                )
            yield from response.iter_content(chunk_size)

    def signed_url(self, ref: ObjectRef, expires_seconds: int = 3600) -> str:
        return self._v4_url(ref, expires_seconds, disposition=None)

    def shareable_url(self, ref: ObjectRef, expires_seconds: int = 3600, filename: str = "") -> str | None:
        return self._v4_url(ref, expires_seconds, disposition=attachment(filename or ref.name))

    def _v4_url(self, ref: ObjectRef, expires_seconds: int, disposition: str | None) -> str:
        creds = self._credentials()
        if creds is None:  # a public bucket: the object's own URL
            return f"{self.public_base}/{quote(ref.bucket)}/{quote(ref.key)}"
        # V4 signing with the service account's key: the URL names the account, never the key.
        return self._blob(ref).generate_signed_url(
            version="v4",
            expiration=timedelta(seconds=int(expires_seconds)),
            method="GET",
            credentials=creds,
            api_access_endpoint=self.public_base,
            response_disposition=disposition,
        )

    def list_objects(self, bucket: str, prefix: str = "", limit: int = 1000) -> list[tuple[str, int]]:
        blobs = self._call(
            None, lambda: list(self.client.list_blobs(bucket, prefix=prefix or None, max_results=limit))
        )
        return [(b.name, b.size) for b in blobs]
