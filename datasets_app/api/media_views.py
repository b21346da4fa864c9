"""GET/HEAD /media/signed/<key>?expires=..&signature=..: a hosted file behind a time-limited HMAC
signature (media/downloads.py makes the URLs), with HTTP Range support so a browser can seek.

GET/HEAD /media/private/<integration uuid>?object=..&name=..&expires=..&signature=..: an object in
a customer's bucket, streamed through the integration's guarded adapter (media/private_links.py
makes the URLs) when the provider cannot make a link that holds no stored secret. Always a
download, with a media type from an allow-list, and Range support.

Bytes are streamed from storage in chunks; a Range request reads only its range."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_http_methods

from datasets_app.media import cloud, downloads, private_links, redact
from datasets_app.media.downloads import signed_download_url  # noqa: F401  (the URL builder of this endpoint)


def _plain(status: int, text: str) -> HttpResponse:
    response = HttpResponse(text + "\n", status=status, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "HEAD"])
def signed_media(request: HttpRequest, key: str) -> HttpResponse:
    if not downloads.verify_download(key, request.GET.get("expires"), request.GET.get("signature")):
        return _plain(403, "This link is invalid or has expired; ask for a new one.")
    try:
        stored = downloads.open_stored(key)
    except FileNotFoundError:
        return _plain(404, "This file no longer exists.")
    size = stored.size
    wanted = downloads.parse_range(request.headers.get("Range"), size)
    if wanted is False:
        stored.handle.close()
        response = _plain(416, "The requested range is outside the file.")
        response["Content-Range"] = f"bytes */{size}"
        return response
    if wanted is None:
        start, end, status = 0, size - 1, 200
    else:
        start, end = wanted
        status = 206
    length = max(0, end - start + 1)
    if request.method == "HEAD":
        stored.handle.close()
        response = HttpResponse(status=status, content_type=stored.content_type)
    else:
        response = StreamingHttpResponse(
            downloads.iter_range(stored.handle, start, length), status=status, content_type=stored.content_type
        )
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    if status == 206:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    # The URL carries its own expiry; caches may keep it no longer than the signature lives.
    response["Cache-Control"] = "private, max-age=300"
    return response


def _range_headers(response: HttpResponse, status: int, start: int, end: int, size: int | None) -> None:
    if size is not None:
        response["Content-Length"] = str(max(0, end - start + 1))
        response["Accept-Ranges"] = "bytes"
    if status == 206:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"


@require_http_methods(["GET", "HEAD"])
def private_media(request: HttpRequest, integration_uuid: str) -> HttpResponse:
    url, name = request.GET.get("object", ""), request.GET.get("name", "")
    if not private_links.verify(
        integration_uuid, url, name, request.GET.get("expires"), request.GET.get("signature")
    ):
        return _plain(403, "This link is invalid or has expired; ask for a new one.")
    try:
        obj = private_links.open_object(integration_uuid, url)
    except FileNotFoundError:
        return _plain(404, "The cloud integration of this file no longer exists.")
    except cloud.ObjectNotFound:
        return _plain(404, "This file no longer exists in its bucket.")
    except cloud.CloudError as exc:
        return _plain(502, f"The file could not be read from its bucket: {redact.scrub(exc)}")
    size = obj.size
    wanted = downloads.parse_range(request.headers.get("Range"), size) if size is not None else None
    if wanted is False:
        response = _plain(416, "The requested range is outside the file.")
        response["Content-Range"] = f"bytes */{size}"
        return response
    start, end, status = (0, (size or 0) - 1, 200) if wanted is None else (*wanted, 206)
    if request.method == "HEAD":
        response = HttpResponse(status=status, content_type=obj.content_type)
    else:
        length = None if size is None and status == 200 else end - start + 1
        body = private_links.iter_object(obj, start, length)
        response = StreamingHttpResponse(body, status=status, content_type=obj.content_type)
    _range_headers(response, status, start, end, size)
    response["Content-Disposition"] = cloud.attachment(name or obj.ref.name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=300"
    return response
