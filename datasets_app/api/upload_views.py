"""PUT /upload/<item_uuid>?expires=..&signature=..: the signed upload URL for local hosted storage.

No SDK authentication (the signature is the credential). The body streams from the request in
chunks into storage (sdk/uploads.receive_upload hashes it on the way); the answer is exactly 200
on success, as 0.1.145 requires.

Two doors, one behaviour: `signed_upload` is the Django view (the development server, WSGI), and
`asgi_signed_upload` answers the same PUT in the production web tier (dashboard/asgi.py) before
Django does, because that tier reads every other body whole (and caps it) before running Django.
There the body's messages are joined into BATCH_BYTES pieces and streamed into storage in a thread
of its own pool, while the event loop goes on receiving; the upload's two database steps (find the
slot, record the file) run in a few threads that keep their connections between uploads."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs

from django.db import close_old_connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from datasets_app import observability as obs
from datasets_app.sdk.uploads import UploadRefused, open_upload, receive_upload, record_upload, store_upload

CHUNK_SIZE = 1024 * 1024
BATCH_BYTES = 1024 * 1024
# Batches received but not yet written: bounds an upload's memory at about 8 MiB.
QUEUED_BATCHES = 8
ROUTE = "upload/<str:item_uuid>"
# A client that stops sending mid-body is dropped after this long (it would hold a thread).
BODY_IDLE_SECONDS = 300
# Uploads are long and mostly wait on the network: a pool of their own, so they never take the
# threads the rest of the server needs.
_upload_threads = ThreadPoolExecutor(max_workers=64, thread_name_prefix="upload")
# The database steps run here, in threads that keep their connections (CONN_MAX_AGE): opening one
# per upload was ~3.5 ms of a small file's 6 ms PUT on PostgreSQL, and the SDK's folder uploads PUT
# a group's files one after another. A few threads: at most this many idle connections per process.
UPLOAD_DATABASE_THREADS = 4
upload_database_threads = ThreadPoolExecutor(max_workers=UPLOAD_DATABASE_THREADS, thread_name_prefix="upload-db")


def _body_chunks(request: HttpRequest) -> Iterator[bytes]:
    while chunk := request.read(CHUNK_SIZE):
        yield chunk


def _parse_length(value: str | None) -> int | None:
    try:
        return int(value or "")
    except ValueError:
        return None


@csrf_exempt
def signed_upload(request: HttpRequest, item_uuid: str) -> HttpResponse:
    if request.method != "PUT":
        response = JsonResponse({"message": "Upload with PUT."}, status=405)
        response["Allow"] = "PUT"
        return response
    try:
        stored = receive_upload(
            item_uuid,
            expires=request.GET.get("expires"),
            signature=request.GET.get("signature"),
            chunks=_body_chunks(request),
            content_length=_parse_length(request.META.get("CONTENT_LENGTH")),
            content_type=request.META.get("CONTENT_TYPE", ""),
        )
    except UploadRefused as refused:
        return JsonResponse({"message": refused.reason}, status=refused.status)
    response = HttpResponse(status=200)
    response["ETag"] = f'"{stored.sha256}"'
    return response


class ClientGone(Exception):
    """The client disconnected before the body ended."""


async def asgi_signed_upload(scope: dict, receive, send, item_uuid: str) -> None:
    """The ASGI door of `signed_upload` (PUT only; other methods go to Django's view)."""
    started = time.perf_counter()
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    trace_id = obs.parse_trace_header(headers.get(obs.TRACE_HEADER.lower())) or obs.new_trace_id()
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    loop = asyncio.get_running_loop()
    batches: asyncio.Queue = asyncio.Queue(maxsize=QUEUED_BATCHES)
    pump = asyncio.ensure_future(_pump_body(receive, batches))
    context = contextvars.copy_context()
    context.run(obs.bind_trace_id, trace_id)
    content_length = _parse_length(headers.get("content-length"))
    content_type = headers.get("content-type", "")

    async def in_thread(pool: ThreadPoolExecutor, step, *args, **kwargs):
        return await loop.run_in_executor(pool, context.run, functools.partial(step, *args, **kwargs))

    signed = {"expires": (query.get("expires") or [None])[0], "signature": (query.get("signature") or [None])[0]}
    try:
        if content_length is not None and content_length <= BATCH_BYTES:
            # A small body (an image): gathered here, then found, written and recorded in one call
            # of a database thread (one hop and one connection check instead of three and two).
            # So its URL is checked after the body arrived: a client that stalls or goes away
            # with a bad signature hears 408 or nothing (499 in the log), not 403.
            received = await in_thread(
                upload_database_threads, _database_step, receive_upload, item_uuid, **signed,
                chunks=await _small_body(batches, content_length), content_length=content_length,
                content_type=content_type,
            )
        else:
            slot = await in_thread(
                upload_database_threads, _database_step, open_upload, item_uuid, **signed,
                content_length=content_length,
            )
            stored = await in_thread(
                _upload_threads, store_upload, slot, _chunks_from(batches, loop), content_length=content_length,
                content_type=content_type,
            )
            received = await in_thread(
                upload_database_threads, _database_step, record_upload, slot, stored, content_type=content_type
            )
        status, body, extra = 200, b"", [(b"etag", f'"{received.sha256}"'.encode())]
    except UploadRefused as refused:
        status, body, extra = refused.status, json.dumps({"message": refused.reason}).encode(), []
    except ClientGone:
        obs.record_request("PUT", ROUTE, 499, time.perf_counter() - started, trace_id)
        return
    except Exception as exc:
        # As RequestObservabilityMiddleware answers for Django's views: a refusing storage or a
        # lost database is a 503 to retry; anything else a logged 500.
        message = obs.unavailable_message(exc)
        if message is not None:
            status, extra = 503, [(b"retry-after", b"1")]
        else:
            obs.logger.exception("signed upload failed (trace %s)", trace_id)
            status, extra, message = 500, [], "The upload failed on the server; it has been logged."
        body = json.dumps({"message": message, "trace_id": trace_id}).encode()
    finally:
        pump.cancel()
    response_headers = [
        (b"content-length", str(len(body)).encode()),
        (b"x-trace-id", trace_id.encode()),
        *extra,
    ]
    if body:
        response_headers.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": status, "headers": response_headers})
    await send({"type": "http.response.body", "body": body})
    obs.record_request("PUT", ROUTE, status, time.perf_counter() - started, trace_id)


def _chunks_from(batches: asyncio.Queue, loop: asyncio.AbstractEventLoop) -> Iterator[bytes]:
    """The body's batches, read from a thread (the stream step) as the event loop receives them."""
    while True:
        waiting = asyncio.run_coroutine_threadsafe(batches.get(), loop)
        try:
            item = waiting.result(timeout=BODY_IDLE_SECONDS)
        except TimeoutError:
            waiting.cancel()
            raise _idle_refusal() from None
        if item is None:
            return
        if isinstance(item, ClientGone):
            raise item
        yield item


async def _small_body(batches: asyncio.Queue, content_length: int) -> list[bytes]:
    """The body of a PUT whose Content-Length is at most BATCH_BYTES: its batches (one, usually),
    refused as soon as they hold more than that length (h11 passes a chunked body along with a
    Content-Length), so at most one batch more is ever held."""
    pieces: list[bytes] = []
    size = 0
    while True:
        try:
            item = await asyncio.wait_for(batches.get(), BODY_IDLE_SECONDS)
        except asyncio.TimeoutError:
            raise _idle_refusal() from None
        if item is None:
            return pieces
        if isinstance(item, ClientGone):
            raise item
        size += len(item)
        if size > content_length:
            raise UploadRefused(
                400, f"The upload sent more than the {content_length} bytes its Content-Length said; nothing was kept."
            )
        pieces.append(item)


def _idle_refusal() -> UploadRefused:
    return UploadRefused(408, f"No data arrived for {BODY_IDLE_SECONDS} s; nothing was kept. Upload again.")


def _database_step(step, *args, **kwargs):
    # This thread's connection outlives uploads: drop it when it is broken or older than CONN_MAX_AGE.
    close_old_connections()
    return step(*args, **kwargs)


async def _pump_body(receive, batches: asyncio.Queue) -> None:
    """Joins the body's messages into ~BATCH_BYTES pieces; None at the end, ClientGone on a drop."""
    pieces: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            await batches.put(ClientGone())
            return
        body = message.get("body", b"")
        if body:
            pieces.append(body)
            size += len(body)
        more = message.get("more_body", False)
        if pieces and (size >= BATCH_BYTES or not more):
            await batches.put(pieces[0] if len(pieces) == 1 else b"".join(pieces))
            pieces, size = [], 0
        if not more:
            await batches.put(None)
            return
