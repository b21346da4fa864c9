"""S3 and S3-compatible stores (boto3; probes read through a guarded urllib3 pool)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

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
    strip_type,
    total_from_content_range,
)

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
        if isinstance(inner, AddressRefused):
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
            content_type=strip_type(r.get("ContentType")),
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
        except AddressRefused:
            raise  # the guard\'s refusal is a CloudError already
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
        total = total_from_content_range(headers.get("Content-Range"))
        if total is None:
            length_header = headers.get("Content-Length") or ""
            total = int(length_header) if length_header.isdigit() else None
        return data, ObjectInfo(
            size=total, content_type=strip_type(headers.get("Content-Type")), etag=headers.get("ETag", "")
        )

    @property
    def pool(self):
        if self._pool is None:
            self._pool = netguard.guarded_pool_manager(allow_private_network=self.allow_private_network)
        return self._pool

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

