"""Read access to media that stays in a customer's bucket, one adapter per provider.

`adapter_for(integration)` gives a `CloudAdapter` built from the integration's config and its
decrypted credentials: S3 and S3-compatible stores (boto3), Google Cloud Storage
(google-cloud-storage), Azure Blob (azure-storage-blob) and plain HTTP(S) (requests). Each one
parses the object URLs its users already have, answers HEAD (size, type), reads byte ranges or
streams, lists a bucket, and makes the provider's own time-limited signed GET URL for browsers
and re-encodes. Nothing here copies an object: probes read a prefix or seek through `RangeFile`.

Every host an adapter talks to passes the SSRF guard (`netguard`) first; HTTPS, GCS and Azure go
through `netguard.guarded_session`, which re-checks on every connection. Failures are `CloudError`
subclasses whose message a person can act on.
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import requests

from . import netguard, redact

# azure-core logs every request and response at INFO; keep job logs readable.
logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)
# urllib3 and requests echo request URLs, SAS tokens and signatures included: scrub them.
redact.install_log_filters()

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 30.0
STREAM_CHUNK = 1024 * 1024


# ---- errors ---------------------------------------------------------------------------------


class CloudError(Exception):
    """A failure reading from a customer's storage; `str()` is the message for the job report."""


class UnsupportedURL(CloudError):
    """The object URL is malformed or does not belong to this integration."""


class ObjectNotFound(CloudError):
    pass


class AccessDenied(CloudError):
    pass


class Unreachable(CloudError):
    pass


class AddressRefused(CloudError):
    """The SSRF guard refused the host (loopback, private, link-local, metadata...)."""


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


def _strip_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def _total_from_content_range(value: str | None) -> int | None:
    # "bytes 0-99/1234" -> 1234; "bytes */1234" -> 1234; "/*" unknown
    if not value or "/" not in value:
        return None
    total = value.rsplit("/", 1)[1].strip()
    return int(total) if total.isdigit() else None


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
        except netguard.AddressRefused as exc:
            raise AddressRefused(str(exc)) from None
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


# ---- S3 and S3-compatible (boto3) ----------------------------------------------------------------

_AWS_VHOST = re.compile(
    r"^(?P<bucket>[a-z0-9.\-]+)\.s3(?:[.\-](?:dualstack\.)?[a-z0-9\-]+)?\.amazonaws\.com$"
)
_AWS_PATH = re.compile(r"^s3(?:[.\-](?:dualstack\.)?[a-z0-9\-]+)?\.amazonaws\.com$")


class S3Adapter(CloudAdapter):
    """AWS S3 or any S3-compatible store (MinIO, moto...) at `config.endpoint_url`.

    URLs: s3://bucket/key, https://<endpoint host>/<bucket>/<key> (path style), and AWS's
    https://<bucket>.s3.<region>.amazonaws.com/<key> and https://s3.<region>.amazonaws.com/<bucket>/<key>.
    Requests always go to the configured endpoint, never to a host taken from the URL."""

    provider = "s3"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.endpoint_url = (self.config.get("endpoint_url") or "").rstrip("/") or None
        self.region = self.config.get("region") or "us-east-1"
        self._client = None
        self._http: requests.Session | None = None
        self._pool = None

    @property
    def client(self):
        if self._client is None:
            import boto3
            from botocore.config import Config

            endpoint = self.endpoint_url or f"https://s3.{self.region}.amazonaws.com"
            self.guard_url(endpoint)
            self._client = boto3.session.Session().client(
                "s3",
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                aws_access_key_id=self.credentials.get("access_key_id") or None,
                aws_secret_access_key=self.credentials.get("secret_access_key") or None,
                aws_session_token=self.credentials.get("session_token") or None,
                config=Config(
                    signature_version="s3v4",
                    s3={"addressing_style": self.config.get("addressing_style", "path")},
                    connect_timeout=self.connect_timeout,
                    read_timeout=self.read_timeout,
                    retries={"max_attempts": 3, "mode": "standard"},
                    max_pool_connections=32,
                    proxies={},
                ),
            )
            netguard.guard_botocore_client(self._client, allow_private_network=self.allow_private_network)
        return self._client

    def parse(self, url: str) -> ObjectRef:
        if not isinstance(url, str) or not url:
            raise UnsupportedURL("An object URL must be a non-empty string.")
        if url.startswith("s3://") and not any(c in url for c in "?#%[]@"):
            # The common form, without the general parser (it gives the same answer here).
            bucket, _, key = url[5:].partition("/")
            key = key.lstrip("/")
            if not bucket or not key:
                raise UnsupportedURL(f"{url!r} names no object: expected s3://bucket/key.")
            return ObjectRef(bucket=bucket, key=key, url=url)
        parts = urlsplit(url)
        path = unquote(parts.path)
        if parts.scheme == "s3":
            bucket, key = parts.netloc, path.lstrip("/")
        elif parts.scheme in ("http", "https"):
            host = (parts.hostname or "").lower()
            endpoint = urlsplit(self.endpoint_url) if self.endpoint_url else None
            if (
                endpoint is not None
                and host == (endpoint.hostname or "").lower()
                and parts.port == endpoint.port
            ):
                bucket, _, key = path.lstrip("/").partition("/")
            elif m := _AWS_VHOST.match(host):
                bucket, key = m.group("bucket"), path.lstrip("/")
            elif _AWS_PATH.match(host):
                bucket, _, key = path.lstrip("/").partition("/")
            else:
                raise UnsupportedURL(
                    f"{url!r} is not an object of this S3 integration: use s3://bucket/key"
                    + (
                        f" or {self.endpoint_url}/bucket/key"
                        if self.endpoint_url
                        else " or an amazonaws.com URL"
                    )
                    + "."
                )
        else:
            raise UnsupportedURL(f"{url!r}: S3 integrations take s3:// or https:// URLs.")
        if not bucket or not key:
            raise UnsupportedURL(f"{url!r} names no object: expected s3://bucket/key.")
        return ObjectRef(bucket=bucket, key=key, url=url)

    def _errors(self, exc: Exception, ref: ObjectRef | None = None) -> CloudError:
        from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

        what = f"s3://{ref.bucket}/{ref.key}" if ref else "the bucket"
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("404", "NoSuchKey", "NotFound", "NoSuchBucket") or status == 404:
                return ObjectNotFound(f"{what} does not exist (404).")
            if (
                code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch")
                or status == 403
            ):
                return AccessDenied(f"Access to {what} was denied ({code}): check the integration's keys.")
            return CloudError(f"S3 refused {what}: {code} {redact.scrub(exc)}")
        # botocore wraps what a connection raised; the guard's refusal keeps its own meaning.
        inner = (getattr(exc, "kwargs", None) or {}).get("error")
        if isinstance(inner, netguard.AddressRefused):
            return AddressRefused(str(inner))
        if isinstance(inner, netguard.HostUnresolvable):
            return Unreachable(str(inner))
        if isinstance(exc, EndpointConnectionError):
            return Unreachable(f"The S3 endpoint is unreachable: {redact.scrub(exc)}")
        if isinstance(exc, BotoCoreError):
            return Unreachable(f"S3 request for {what} failed: {redact.scrub(exc)}")
        return CloudError(redact.scrub(exc))

    def head(self, ref: ObjectRef) -> ObjectInfo:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            r = self.client.head_object(Bucket=ref.bucket, Key=ref.key)
        except (ClientError, BotoCoreError) as exc:
            raise self._errors(exc, ref) from None
        return ObjectInfo(
            size=r.get("ContentLength"),
            content_type=_strip_type(r.get("ContentType")),
            etag=r.get("ETag", ""),
        )

    def read_range(self, ref: ObjectRef, start: int, length: int) -> tuple[bytes, ObjectInfo]:
        # A locally pre-signed GET through a guarded urllib3 pool: the same request boto3 would
        # send, at a fraction of its client-side CPU (this is the probe's hot path).
        import urllib3

        url = self.signed_url(ref, 300)
        what = f"s3://{ref.bucket}/{ref.key}"
        try:
            response = self.pool.request(
                "GET",
                url,
                headers={"Range": f"bytes={start}-{start + length - 1}"},
                preload_content=False,
                redirect=False,
                retries=urllib3.Retry(total=2, connect=2, read=0, status=0, redirect=0, backoff_factor=0.2),
                timeout=urllib3.Timeout(connect=self.connect_timeout, read=self.read_timeout),
            )
        except netguard.AddressRefused as exc:
            raise AddressRefused(str(exc)) from None
        except netguard.HostUnresolvable as exc:
            raise Unreachable(str(exc)) from None
        except urllib3.exceptions.HTTPError as exc:
            raise Unreachable(
                f"The S3 endpoint is unreachable for {what} ({exc.__class__.__name__})."
            ) from None
        try:
            status = response.status
            if status == 416:
                return b"", self.head(ref)
            if status == 404:
                raise ObjectNotFound(f"{what} does not exist (404).")
            if status == 403:
                raise AccessDenied(f"Access to {what} was denied (403): check the integration's keys.")
            if status not in (200, 206):
                raise CloudError(f"S3 answered {status} for {what}.")
            data = response.read(length)
            headers = response.headers
        except urllib3.exceptions.HTTPError as exc:
            raise Unreachable(f"Reading {what} failed ({exc.__class__.__name__}).") from None
        finally:
            response.release_conn()
        total = _total_from_content_range(headers.get("Content-Range"))
        if total is None:
            length_header = headers.get("Content-Length") or ""
            total = int(length_header) if length_header.isdigit() else None
        return data, ObjectInfo(
            size=total, content_type=_strip_type(headers.get("Content-Type")), etag=headers.get("ETag", "")
        )

    @property
    def pool(self):
        if self._pool is None:
            self._pool = netguard.guarded_pool_manager(allow_private_network=self.allow_private_network)
        return self._pool

    @property
    def http(self) -> requests.Session:
        if self._http is None:
            self._http = self.session()
        return self._http

    def _boto_read_range(self, ref: ObjectRef, start: int, length: int) -> tuple[bytes, ObjectInfo]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            r = self.client.get_object(
                Bucket=ref.bucket, Key=ref.key, Range=f"bytes={start}-{start + length - 1}"
            )
            body = r["Body"]
            try:
                data = body.read(length)
            finally:
                body.close()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                info = self.head(ref)
                return b"", info
            raise self._errors(exc, ref) from None
        except BotoCoreError as exc:
            raise self._errors(exc, ref) from None
        total = _total_from_content_range(r.get("ContentRange")) or r.get("ContentLength")
        return data, ObjectInfo(
            size=total, content_type=_strip_type(r.get("ContentType")), etag=r.get("ETag", "")
        )

    def iter_chunks(self, ref: ObjectRef, chunk_size: int = STREAM_CHUNK) -> Iterator[bytes]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            body = self.client.get_object(Bucket=ref.bucket, Key=ref.key)["Body"]
        except (ClientError, BotoCoreError) as exc:
            raise self._errors(exc, ref) from None
        try:
            yield from body.iter_chunks(chunk_size)
        finally:
            body.close()

    def signed_url(self, ref: ObjectRef, expires_seconds: int = 3600) -> str:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": ref.bucket, "Key": ref.key}, ExpiresIn=int(expires_seconds)
        )

    def shareable_url(self, ref: ObjectRef, expires_seconds: int = 3600, filename: str = "") -> str | None:
        if self.credentials.get("session_token"):
            # Temporary credentials: S3 puts the session token itself in the URL; serve through our route.
            return None
        # SigV4 query signing: the URL names the access key ID, never the secret key.
        params = {
            "Bucket": ref.bucket,
            "Key": ref.key,
            "ResponseContentDisposition": attachment(filename or ref.name),
        }
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=int(expires_seconds))

    def list_objects(self, bucket: str, prefix: str = "", limit: int = 1000) -> list[tuple[str, int]]:
        from botocore.exceptions import BotoCoreError, ClientError

        out: list[tuple[str, int]] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=prefix, PaginationConfig={"MaxItems": limit}
            ):
                out.extend((o["Key"], o["Size"]) for o in page.get("Contents", []))
        except (ClientError, BotoCoreError) as exc:
            raise self._errors(exc) from None
        return out[:limit]


# ---- Google Cloud Storage --------------------------------------------------------------------


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
        if isinstance(exc, netguard.AddressRefused):
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
            netguard.AddressRefused,
        ) as exc:
            raise self._errors(exc, ref) from None

    def head(self, ref: ObjectRef) -> ObjectInfo:
        blob = self._call(ref, self.client.bucket(ref.bucket).get_blob, ref.key, timeout=self.timeout)
        if blob is None:
            raise ObjectNotFound(f"gs://{ref.bucket}/{ref.key} does not exist (404).")
        return ObjectInfo(size=blob.size, content_type=_strip_type(blob.content_type), etag=blob.etag or "")

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
            data = _read_at_most(response, length)
            total = _total_from_content_range(response.headers.get("Content-Range"))
            if total is None and response.status_code == 200:
                total = int(response.headers.get("Content-Length") or 0) or None
        del blob
        return data, ObjectInfo(size=total, content_type=_strip_type(response.headers.get("Content-Type")))

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


def _read_at_most(response: requests.Response, length: int) -> bytes:
    """At most `length` bytes of a streamed body (a server that ignored Range sends it all)."""
    buf = bytearray()
    for chunk in response.iter_content(min(length, STREAM_CHUNK) or 1):
        buf += chunk
        if len(buf) >= length:
            break
    return bytes(buf[:length])


# ---- Azure Blob --------------------------------------------------------------------------------


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
            from azure.storage.blob import BlobServiceClient

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
            self._service = BlobServiceClient(
                account_url=self.endpoint_url, credential=credential, transport=transport, retry_total=2
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
        if isinstance(exc, netguard.AddressRefused):
            return AddressRefused(str(exc))
        if isinstance(exc, (aexc.ServiceRequestError, aexc.ServiceResponseError)):
            if isinstance(getattr(exc, "inner_exception", None), netguard.AddressRefused):
                return AddressRefused(str(exc.inner_exception))
            return Unreachable(f"Azure Blob Storage is unreachable for {what}: {redact.scrub(exc)}")
        if isinstance(exc, aexc.HttpResponseError):
            return CloudError(f"Azure refused {what}: {exc.status_code} {exc.reason}")
        return CloudError(redact.scrub(exc))

    def _call(self, ref, fn, *args, **kwargs):
        from azure.core import exceptions as aexc

        try:
            return fn(*args, **kwargs)
        except (aexc.AzureError, netguard.AddressRefused) as exc:
            raise self._errors(exc, ref) from None

    def _blob(self, ref: ObjectRef):
        return self.service.get_blob_client(ref.bucket, ref.key)

    def head(self, ref: ObjectRef) -> ObjectInfo:
        props = self._call(ref, self._blob(ref).get_blob_properties)
        return ObjectInfo(
            size=props.size,
            content_type=_strip_type(props.content_settings.content_type),
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
        except (aexc.AzureError, netguard.AddressRefused) as exc:
            raise self._errors(exc, ref) from None
        props = downloader.properties
        total = _total_from_content_range(getattr(props, "content_range", None)) or props.size
        return data, ObjectInfo(size=total, content_type=_strip_type(props.content_settings.content_type))

    def iter_chunks(self, ref: ObjectRef, chunk_size: int = STREAM_CHUNK) -> Iterator[bytes]:
        downloader = self._call(ref, self._blob(ref).download_blob, max_concurrency=1)
        yield from downloader.chunks()

    def signed_url(self, ref: ObjectRef, expires_seconds: int = 3600) -> str:
        from azure.storage.blob import BlobSasPermissions, generate_blob_sas

        blob_url = f"{self.endpoint_url}/{quote(ref.bucket)}/{quote(ref.key)}"
        if self.credentials.get("account_key"):
            sas = generate_blob_sas(
                account_name=self.account,
                container_name=ref.bucket,
                blob_name=ref.key,
                account_key=self.credentials["account_key"],
                permission=BlobSasPermissions(read=True),
                expiry=datetime.now(UTC) + timedelta(seconds=int(expires_seconds)),
                start=datetime.now(UTC) - timedelta(minutes=5),
            )
            return f"{blob_url}?{sas}"
        if self.credentials.get("sas_token"):
            # The stored SAS itself: for this server's own reads only (see shareable_url).
            return f"{blob_url}?{self.credentials['sas_token'].lstrip('?')}"
        return blob_url

    def shareable_url(self, ref: ObjectRef, expires_seconds: int = 3600, filename: str = "") -> str | None:
        from azure.storage.blob import BlobSasPermissions, generate_blob_sas

        blob_url = f"{self.endpoint_url}/{quote(ref.bucket)}/{quote(ref.key)}"
        if self.credentials.get("account_key"):
            # A service SAS for this one blob: read only, expiring, and a download.
            now = datetime.now(UTC)
            sas = generate_blob_sas(
                account_name=self.account,
                container_name=ref.bucket,
                blob_name=ref.key,
                account_key=self.credentials["account_key"],
                permission=BlobSasPermissions(read=True),
                expiry=now + timedelta(seconds=int(expires_seconds)),
                start=now - timedelta(minutes=5),
                content_disposition=attachment(filename or ref.name),
            )
            return f"{blob_url}?{sas}"
        if self.credentials.get("sas_token"):
            # A SAS cannot sign a narrower one, and the stored one may reach the whole account.
            return None
        return blob_url  # anonymous access: a public container

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


# ---- plain HTTP(S) -------------------------------------------------------------------------------


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
        except netguard.AddressRefused as exc:
            raise AddressRefused(str(exc)) from None
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
            content_type=_strip_type(response.headers.get("Content-Type")),
            etag=response.headers.get("ETag", ""),
            final_url=response.url,
        )

    def read_range(self, ref: ObjectRef, start: int, length: int) -> tuple[bytes, ObjectInfo]:
        response = self._get(ref, headers={"Range": f"bytes={start}-{start + length - 1}"})
        with response:
            if response.status_code == 416:
                return b"", ObjectInfo(size=_total_from_content_range(response.headers.get("Content-Range")))
            if response.status_code >= 400:
                raise CloudError(f"{ref.url} answered {response.status_code}.")
            ctype = _strip_type(response.headers.get("Content-Type"))
            if response.status_code == 206:
                total = _total_from_content_range(response.headers.get("Content-Range"))
                return _read_at_most(response, length), ObjectInfo(size=total, content_type=ctype)
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


ADAPTERS: dict[str, type[CloudAdapter]] = {
    "s3": S3Adapter,
    "gcs": GCSAdapter,
    "azure": AzureAdapter,
    "https": HTTPSAdapter,
}


def integration_credentials(integration) -> dict[str, Any]:
    """The integration's decrypted secrets (a dict); empty when it has none."""
    from datasets_app import crypto

    if not integration.credentials_encrypted:
        return {}
    return json.loads(crypto.decrypt(integration.credentials_encrypted))


def adapter_for(integration) -> CloudAdapter:
    """The adapter for a `CloudIntegration` row (credentials decrypted here, kept in memory only)."""
    cls = ADAPTERS.get(integration.provider)
    if cls is None:
        raise CloudError(f"Unknown provider {integration.provider!r}.")
    return cls(
        config=integration.config or {},
        credentials=integration_credentials(integration),
        allow_private_network=integration.allow_private_network,
    )
