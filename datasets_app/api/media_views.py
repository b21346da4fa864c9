"""GET/HEAD /media/signed/<key>?expires=..&signature=..: a hosted file behind a time-limited HMAC
signature (media/downloads.py makes the URLs), with HTTP Range support so a browser can seek.

Bytes are streamed from storage in chunks; a Range request reads only its range."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_http_methods

from datasets_app.media import downloads
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
