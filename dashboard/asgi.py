"""The ASGI application: the production web tier (gunicorn with uvicorn workers,
deploy/gunicorn.conf.py).

Django's ASGI handler reads a request's whole body into a temporary file before any view runs,
so two things happen here first:
- PUT /upload/<item_uuid> (a signed upload URL, up to UPLOAD_MAX_BYTES) streams into storage as
  it arrives (datasets_app/api/upload_views.asgi_signed_upload);
- every other body is capped at REQUEST_MAX_BODY_BYTES (by Content-Length before reading, or by
  counting when there is none): 413, and nothing is spooled past the cap."""

from __future__ import annotations

import json
import os
import re

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
django_application = get_asgi_application()

from django.conf import settings  # noqa: E402  (after Django is set up)

from datasets_app.api.upload_views import asgi_signed_upload  # noqa: E402

UPLOAD_PATH = re.compile(r"^/upload/(?P<item_uuid>[^/]+)$")


async def application(scope, receive, send):
    if scope["type"] != "http":
        return await django_application(scope, receive, send)
    if scope["method"] == "PUT" and (match := UPLOAD_PATH.match(scope["path"])):
        return await asgi_signed_upload(scope, receive, send, match["item_uuid"])
    return await _capped(scope, receive, send)


async def _too_large(send, limit: int) -> None:
    body = json.dumps({"message": f"The request body is larger than the limit of {limit} bytes."}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _capped(scope, receive, send):
    limit = settings.REQUEST_MAX_BODY_BYTES
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                declared = 0
            if declared > limit:
                return await _too_large(send, limit)
    seen = 0

    async def counted_receive():
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                # Answer here; Django sees a client that went away and answers nothing itself.
                await _too_large(send, limit)
                return {"type": "http.disconnect"}
        return message

    return await django_application(scope, counted_receive, send)
