"""Azure Blob Storage (azure-storage-blob over a guarded requests session)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from .. import redact
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
    strip_type,
    total_from_content_range,
)

# azure-core logs every request and response at INFO; keep job logs readable.
logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)

class AzureAdapter(CloudAdapter):
    """Azure Blob Storage: https://<account>.blob.core.windows.net/<container>/<blob>, or the
    integration's own `endpoint_url` (Azurite: http://127.0.0.1:10000/devstoreaccount1) followed by
    /<container>/<blob>. Credentials: `account_key` (shared key; signs SAS URLs), or `sas_token`."""

    provider = "azure"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.account = self.config.get("account") or self.credentials.get("account_name") or ""
        self.endpoint_url = (self.config.get("endpoint_url") or "").rstrip("/")
        if not self.endpoint_url and self.account:
            self.endpoint_url = f"https://{self.account}.blob.core.windows.net"
        self._service = None

    @property
    def service(self):
        if self._service is None:
            from azure.core.pipeline.transport import RequestsTransport
            from azure.storage.blob import BlobServiceClient, ExponentialRetry

            if not self.endpoint_url:
                raise UnsupportedURL("This Azure integration has neither an account nor an endpoint URL.")
            self.guard_url(self.endpoint_url)
            credential: Any = None
            if self.credentials.get("account_key"):
                credential = {"account_name": self.account, "account_key": self.credentials["account_key"]}
            elif self.credentials.get("sas_token"):
                credential = self.credentials["sas_token"]
            transport = RequestsTransport(
                session=self.session(),
                session_owner=False,
                connection_timeout=self.connect_timeout,
                read_timeout=self.read_timeout,
            )
            # The library waits 15 s, 18 s, 24 s (+-3) between attempts; an import from a store that is
            # down would hold each unit for most of a minute. ~0.5 s then ~2.5 s, as S3 and GCS do.
            retry = ExponentialRetry(initial_backoff=0.5, increment_base=2, retry_total=2, random_jitter_range=0.25)
            self._service = BlobServiceClient(
                account_url=self.endpoint_url, credential=credential, transport=transport, retry_policy=retry
            )
        return self._service

    def parse(self, url: str) -> ObjectRef:
        if not isinstance(url, str) or not url:
            raise UnsupportedURL("An object URL must be a non-empty string.")
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if self.endpoint_url and url.split("?", 1)[0].startswith(self.endpoint_url + "/"):
            rest = unquote(url.split("?", 1)[0][len(self.endpoint_url) + 1 :])
        elif (
            parts.scheme == "https"
            and host == f"{self.account}.blob.core.windows.net".lower()
            and self.account
        ):
            rest = unquote(parts.path.lstrip("/"))
        else:
            raise UnsupportedURL(
                f"{url!r} is not a blob of this Azure integration: use {self.endpoint_url or 'https://<account>.blob.core.windows.net'}/<container>/<blob>."
            )
        container, _, blob = rest.partition("/")
        if not container or not blob:
            raise UnsupportedURL(f"{url!r} names no blob: expected .../<container>/<blob>.")
        return ObjectRef(bucket=container, key=blob, url=url)

    def _errors(self, exc: Exception, ref: ObjectRef | None = None) -> CloudError:
        from azure.core import exceptions as aexc

        what = f"{ref.bucket}/{ref.key}" if ref else "the container"
        if isinstance(exc, aexc.ResourceNotFoundError):
            return ObjectNotFound(f"Blob {what} does not exist (404).")
        if isinstance(exc, aexc.ClientAuthenticationError):
            return AccessDenied(f"Access to blob {what} was denied: check the account key or SAS token.")
        if isinstance(exc, AddressRefused):
            return AddressRefused(str(exc))
        if isinstance(exc, (aexc.ServiceRequestError, aexc.ServiceResponseError)):
            if isinstance(getattr(exc, "inner_exception", None), AddressRefused):
                return AddressRefused(str(exc.inner_exception))
            return Unreachable(f"Azure Blob Storage is unreachable for {what}: {redact.scrub(exc)}")
        if isinstance(exc, aexc.HttpResponseError):
            return CloudError(f"Azure refused {what}: {exc.status_code} {exc.reason}")
        return CloudError(redact.scrub(exc))

    def _call(self, ref, fn, *args, **kwargs):
        from azure.core import exceptions as aexc

        try:
            return fn(*args, **kwargs)
        except (aexc.AzureError, AddressRefused) as exc:
            raise self._errors(exc, ref) from None

    def _blob(self, ref: ObjectRef):
        return self.service.get_blob_client(ref.bucket, ref.key)

    def head(self, ref: ObjectRef) -> ObjectInfo:
        props = self._call(ref, self._blob(ref).get_blob_properties)
        return ObjectInfo(
            size=props.size,
            content_type=strip_type(props.content_settings.content_type),
            etag=props.etag or "",
        )

    def read_range(self, ref: ObjectRef, start: int, length: int) -> tuple[bytes, ObjectInfo]:
        from azure.core import exceptions as aexc

        try:
            downloader = self._blob(ref).download_blob(offset=start, length=length, max_concurrency=1)
            data = downloader.readall()
        except aexc.HttpResponseError as exc:
            if exc.status_code == 416:
                return b"", self.head(ref)
            raise self._errors(exc, ref) from None
        except (aexc.AzureError, AddressRefused) as exc:
            raise self._errors(exc, ref) from None
        props = downloader.properties
        total = total_from_content_range(getattr(props, "content_range", None)) or props.size
        return data, ObjectInfo(size=total, content_type=strip_type(props.content_settings.content_type))

    def iter_chunks(self, ref: ObjectRef, chunk_size: int = STREAM_CHUNK) -> Iterator[bytes]:
        downloader = self._call(ref, self._blob(ref).download_blob, max_concurrency=1)
        yield from downloader.chunks()

    def signed_url(self, ref: ObjectRef, expires_seconds: int = 3600) -> str:
        if self.credentials.get("account_key"):
            return self._service_sas_url(ref, expires_seconds, disposition=None)
        if self.credentials.get("sas_token"):
            # The stored SAS itself: for this server's own reads only (see shareable_url).
            return f"{self._blob_url(ref)}?{self.credentials['sas_token'].lstrip('?')}"
        return self._blob_url(ref)

    def shareable_url(self, ref: ObjectRef, expires_seconds: int = 3600, filename: str = "") -> str | None:
        if self.credentials.get("account_key"):
            return self._service_sas_url(ref, expires_seconds, disposition=attachment(filename or ref.name))
        if self.credentials.get("sas_token"):
            # A SAS cannot sign a narrower one, and the stored one may reach the whole account.
            return None
        return self._blob_url(ref)  # anonymous access: a public container

    def _blob_url(self, ref: ObjectRef) -> str:
        return f"{self.endpoint_url}/{quote(ref.bucket)}/{quote(ref.key)}"

    def _service_sas_url(self, ref: ObjectRef, expires_seconds: int, disposition: str | None) -> str:
        """A service SAS signed with the account key for this one blob: read only and expiring."""
        from azure.storage.blob import BlobSasPermissions, generate_blob_sas

        now = datetime.now(UTC)
        sas = generate_blob_sas(
            account_name=self.account,
            container_name=ref.bucket,
            blob_name=ref.key,
            account_key=self.credentials["account_key"],
            permission=BlobSasPermissions(read=True),
            expiry=now + timedelta(seconds=int(expires_seconds)),
            start=now - timedelta(minutes=5),
            content_disposition=disposition,
        )
        return f"{self._blob_url(ref)}?{sas}"

    def list_objects(self, bucket: str, prefix: str = "", limit: int = 1000) -> list[tuple[str, int]]:
        container = self.service.get_container_client(bucket)
        out: list[tuple[str, int]] = []

        def collect():
            for b in container.list_blobs(name_starts_with=prefix or None):
                out.append((b.name, b.size))
                if len(out) >= limit:
                    break

        self._call(None, collect)
        return out

