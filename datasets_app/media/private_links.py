"""Links to objects in a customer's bucket that are safe to hand to a client, and our signed route
that serves such objects when the provider cannot make a safe link itself.

`link_for(url, integration)` is the provider's own scoped URL when it can make one that holds no
stored credential (S3 and GCS signatures, an Azure service SAS signed with the account key, a
public object), else a URL to GET /media/private/<integration uuid> on this server carrying an
HMAC signature over the integration, the object URL and an expiry (media/signed.py). The route
(api/media_views.py) streams the object through the integration's guarded adapter, Range included:
an integration that holds only a SAS token or an HTTPS bearer token never gives it away.

What the route answers is always a download (Content-Disposition: attachment), with a media type
from a short allow-list: a bucket's HTML or SVG must never render on this server's origin."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from . import cloud, signed

PURPOSE = "private-media"
CHUNK_SIZE = 1024 * 1024
ENDPOINT_PREFIX = "/media/private/"
# What the route may call a response; anything else is served as application/octet-stream.
SAFE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/tiff", "application/dicom")


def _lifetime(lifetime_seconds: int | None) -> int:
    return max(1, int(lifetime_seconds or settings.SIGNED_URL_LIFETIME_SECONDS))


def route_url(url: str, integration, *, base_url: str | None = None, lifetime_seconds: int | None = None, filename: str = "") -> str:
    """A signed link to our own route serving object `url` of `integration`."""
    integration_uuid = str(integration.integration_uuid)
    expires = signed.expiry(_lifetime(lifetime_seconds))
    signature = signed.sign(PURPOSE, integration_uuid, url, filename, expires=expires)
    query = urlencode({"object": url, "name": filename, "expires": expires, "signature": signature})
    try:
        path = reverse("media-private", kwargs={"integration_uuid": integration_uuid})
    except NoReverseMatch:
        path = ENDPOINT_PREFIX + integration_uuid
    base = (base_url or settings.PUBLIC_BASE_URL or "").rstrip("/")
    return f"{base}{path}?{query}"


def link_for(url: str, integration, *, base_url: str | None = None, lifetime_seconds: int | None = None, filename: str = "") -> str:
    """A time-limited download link for object `url` of `integration` that holds no stored secret.

    Never raises: when the provider cannot sign (or the URL does not parse), the link goes to our
    route, which answers with the reason."""
    try:
        adapter = cloud.adapter_for(integration)
        shareable = adapter.shareable_url(adapter.parse(url), _lifetime(lifetime_seconds), filename)
    except cloud.CloudError:
        shareable = None
    if shareable is not None:
        return shareable
    return route_url(url, integration, base_url=base_url, lifetime_seconds=lifetime_seconds, filename=filename)


def verify(integration_uuid: str, url: str, filename: str, expires, signature) -> bool:
    return signed.verify(PURPOSE, str(integration_uuid), url or "", filename or "", expires=expires or "", signature=signature or "")


@dataclass
class PrivateObject:
    adapter: cloud.CloudAdapter
    ref: cloud.ObjectRef
    size: int | None
    content_type: str


def open_object(integration_uuid: str, url: str) -> PrivateObject:
    """The object behind a verified link: its adapter, reference, size and a safe media type.

    FileNotFoundError when the integration is gone; cloud.CloudError (its message says why) when
    the store refuses or the object is missing."""
    from datasets_app.models import CloudIntegration

    try:
        integration = CloudIntegration.objects.filter(integration_uuid=uuid.UUID(str(integration_uuid))).first()
    except ValueError:
        integration = None
    if integration is None:
        raise FileNotFoundError(integration_uuid)
    adapter = cloud.adapter_for(integration)
    ref = adapter.parse(url)
    info = adapter.head(ref)
    return PrivateObject(adapter=adapter, ref=ref, size=info.size, content_type=safe_type(info.content_type))


def safe_type(content_type: str) -> str:
    """`content_type` when it is an image, video or DICOM type that cannot run script; else octet-stream."""
    ct = (content_type or "").split(";", 1)[0].strip().lower()
    if ct in SAFE_TYPES or (ct.startswith("video/") and ct.replace("/", "").replace("-", "").replace(".", "").isalnum()):
        return ct
    return "application/octet-stream"


def iter_object(obj: PrivateObject, start: int, length: int | None) -> Iterator[bytes]:
    """`length` bytes from `start` (the rest of the object when length is None), in ranged reads
    of CHUNK_SIZE: never more than one chunk in memory. A failure mid-stream ends the body."""
    if start == 0 and length is None:
        yield from obj.adapter.iter_chunks(obj.ref, CHUNK_SIZE)
        return
    position, end = start, (start + length if length is not None else None)
    while end is None or position < end:
        want = CHUNK_SIZE if end is None else min(CHUNK_SIZE, end - position)
        data, _info = obj.adapter.read_range(obj.ref, position, want)
        if not data:
            return
        position += len(data)
        yield data
