"""The web tier's application (gunicorn with uvicorn workers, deploy/gunicorn.conf.py).

Django's views are synchronous. Django's own ASGI handler would run each request in a new thread
with several hops between it and the event loop (measured 25% fewer requests/s than gthread on
bench_load, p99 1.6 s), read sync streaming responses whole into a list, and spool every request
body to disk before the view. So requests are routed here instead:

- PUT /upload/<item_uuid> (a signed upload URL, up to UPLOAD_MAX_BYTES) streams into storage as it
  arrives (datasets_app/api/upload_views.asgi_signed_upload).
- Every other request runs Django's WSGI handler on a fixed pool of WEB_THREADS long-lived threads,
  as gthread did (one hop in, one out; a thread keeps its database connection). Its body is read
  first, capped at REQUEST_MAX_BODY_BYTES (413 before reading when Content-Length says so).
  Streamed responses (v1 data rows, media downloads) are sent from that thread chunk by chunk.
- A job long poll waits in the event loop, not in a thread (datasets_app/api/long_poll.py): the
  first pass through Django ends in a DeferredWait, JobWaiters waits on the job, and a second pass
  answers. Clients waiting on jobs never keep other requests waiting for a thread."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from tempfile import SpooledTemporaryFile

from asgiref.wsgi import WsgiToAsgiInstance
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
django_wsgi = get_wsgi_application()

from django.conf import settings  # noqa: E402  (after Django is set up)

from datasets_app.api import long_poll  # noqa: E402
from datasets_app.api.upload_views import asgi_signed_upload  # noqa: E402

logger = logging.getLogger("dashboard.asgi")
UPLOAD_PATH = re.compile(r"^/upload/(?P<item_uuid>[^/]+)$")
LONG_POLL_PATHS = ("/public", "/public/user")
# Files upload jobs (#30): GET .../storage/folders/<uuid>/data-upload-jobs/<uuid>?timeoutSeconds=
FILES_POLL_PATH = re.compile(r"^/v2/public/storage/folders/[0-9a-f-]{36}/data-upload-jobs/[0-9a-f-]{36}$")
# A long poll's envelope is a few hundred bytes; larger bodies are not looked into.
LONG_POLL_MAX_BODY = 16 * 1024
SPOOL_IN_MEMORY = 1024 * 1024
STREAM_BATCH_BYTES = 256 * 1024

_web_threads = ThreadPoolExecutor(
    max_workers=int(os.environ.get("WEB_THREADS", "8")), thread_name_prefix="web"
)
_job_waiters = long_poll.JobWaiters()


async def application(scope, receive, send):
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send)
    if scope["type"] != "http":
        raise ValueError(f"unsupported ASGI scope {scope['type']!r}")
    if scope["method"] == "PUT" and (match := UPLOAD_PATH.match(scope["path"])):
        return await asgi_signed_upload(scope, receive, send, match["item_uuid"])
    body = await _read_capped_body(scope, receive, send)
    if body is None:
        return
    with body:
        wait_on_job = _is_job_poll(scope, body)
        deferred = await _run_django(scope, body, send, receive, long_poll.DEFER if wait_on_job else None)
        if deferred is not None:
            await _job_waiters.wait(deferred.process_hash, deferred.seconds)
            body.seek(0)
            await _run_django(scope, body, send, receive, long_poll.WAITED)


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _send_json(send, status: int, payload: dict, headers: list | None = None) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            + (headers or []),
        }
    )
    await send({"type": "http.response.body", "body": body})


# Bodies being read before authentication, in this process: in all and per client address.
_body_reads = {"all": 0}
_body_reads_by_client: dict[str, int] = {}


async def _read_capped_body(scope, receive, send) -> SpooledTemporaryFile | None:
    """The request body (in memory up to 1 MiB, then a temp file), or None when the request was
    answered (413 too large, 503 too many bodies being read, 408 too slow) or the client went away.

    At most WEB_MAX_BODY_READS bodies are read at once per process, WEB_MAX_BODY_READS_PER_CLIENT
    of them from one client address, and each must arrive within REQUEST_BODY_TIMEOUT_SECONDS plus
    its Content-Length at REQUEST_BODY_MIN_RATE: slow bodies cannot hold the process."""
    limit = settings.REQUEST_MAX_BODY_BYTES
    headers = dict(scope.get("headers", []))
    declared = headers.get(b"content-length", b"")
    if declared.isdigit() and int(declared) > limit:
        await _send_json(send, 413, {"message": f"The request body is larger than the limit of {limit} bytes."})
        return None
    if not (declared.isdigit() and int(declared) > 0) and b"transfer-encoding" not in headers:
        return await _read_body(receive, send, limit)  # no body to wait for
    client = (scope.get("client") or ("",))[0]
    if (
        _body_reads["all"] >= settings.WEB_MAX_BODY_READS
        or _body_reads_by_client.get(client, 0) >= settings.WEB_MAX_BODY_READS_PER_CLIENT
    ):
        await _send_json(
            send,
            503,
            {"message": "The server is reading too many request bodies at once; retry in a few seconds."},
            headers=[(b"retry-after", b"5")],
        )
        return None
    _body_reads["all"] += 1
    _body_reads_by_client[client] = _body_reads_by_client.get(client, 0) + 1
    seconds = settings.REQUEST_BODY_TIMEOUT_SECONDS + (int(declared or 0) / max(1, settings.REQUEST_BODY_MIN_RATE))
    try:
        return await asyncio.wait_for(_read_body(receive, send, limit), seconds)
    except asyncio.TimeoutError:
        message = f"The request body did not arrive within {seconds:.0f} s; send it faster or in smaller requests."
        await _send_json(send, 408, {"message": message})
        return None
    finally:
        _body_reads["all"] -= 1
        left = _body_reads_by_client.pop(client, 1) - 1
        if left:
            _body_reads_by_client[client] = left


async def _read_body(receive, send, limit: int) -> SpooledTemporaryFile | None:
    too_large = {"message": f"The request body is larger than the limit of {limit} bytes."}
    body = SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
    size = 0
    while True:
        try:
            message = await receive()
        except asyncio.CancelledError:
            body.close()
            raise
        if message["type"] == "http.disconnect":
            body.close()
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            body.close()
            await _send_json(send, 413, too_large)
            return None
        body.write(chunk)
        if not message.get("more_body", False):
            body.seek(0)
            return body


def _is_job_poll(scope, body: SpooledTemporaryFile) -> bool:
    """A request its handler may ask to wait in the event loop: the v1 job long poll, or the Files
    upload job poll."""
    if scope["method"] == "GET":
        return bool(FILES_POLL_PATH.match(scope["path"]))
    return scope["method"] == "POST" and scope["path"] in LONG_POLL_PATHS and _is_long_poll(body)


def _is_long_poll(body: SpooledTemporaryFile) -> bool:
    envelope = body.read(LONG_POLL_MAX_BODY + 1)
    body.seek(0)
    if len(envelope) > LONG_POLL_MAX_BODY:
        return False
    try:
        parsed = json.loads(envelope)
    except ValueError:
        return False
    return (
        isinstance(parsed, dict)
        and str(parsed.get("query_type", "")).lower() == "datasetdatalongpolling"
        and str(parsed.get("query_method", "")).upper() == "GET"
    )


async def _run_django(scope, body, send, receive, poll_mode: str | None):
    """Runs the request through Django's WSGI handler in a web thread; returns the DeferredWait
    of a first long-poll pass, else None once the response is sent."""
    loop = asyncio.get_running_loop()
    instance = WsgiToAsgiInstance(django_wsgi)
    instance.scope = scope
    environ = instance.build_environ(scope, body)
    if poll_mode:
        environ[long_poll.ENVIRON_KEY] = poll_mode
    gone = threading.Event()
    watcher = asyncio.ensure_future(_watch_disconnect(receive, gone))
    try:
        return await loop.run_in_executor(_web_threads, _serve, environ, loop, send, gone)
    finally:
        watcher.cancel()


async def _watch_disconnect(receive, gone: threading.Event) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            gone.set()
            return


def _serve(environ: dict, loop, send, gone: threading.Event):
    """In a web thread: the whole request, from Django's handler to the last byte sent, so a
    streamed response's database cursor stays on this thread's connection."""

    def deliver(message: dict) -> None:
        asyncio.run_coroutine_threadsafe(send(message), loop).result()

    started: list = []

    def start_response(status, headers, exc_info=None):
        started[:] = [int(status.split(" ", 1)[0]), [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]]

    response = django_wsgi(environ, start_response)
    try:
        deferred = getattr(response, "deferred_long_poll", None)
        if deferred is not None:
            return deferred
        if not getattr(response, "streaming", False):
            # One message for the whole body (Django has it in memory already).
            deliver({"type": "http.response.start", "status": started[0], "headers": started[1]})
            deliver({"type": "http.response.body", "body": b"".join(response)})
            return None
        deliver({"type": "http.response.start", "status": started[0], "headers": started[1]})
        batch: list[bytes] = []
        size = 0
        for chunk in response:
            if gone.is_set():
                return None  # the client left: stop reading the file or the cursor
            if chunk:
                batch.append(chunk)
                size += len(chunk)
            if size >= STREAM_BATCH_BYTES:
                deliver({"type": "http.response.body", "body": b"".join(batch), "more_body": True})
                batch, size = [], 0
        deliver({"type": "http.response.body", "body": b"".join(batch)})
        return None
    finally:
        # Django's request_finished (database clean-up) runs here, in this thread.
        close = getattr(response, "close", None)
        if close is not None:
            close()
