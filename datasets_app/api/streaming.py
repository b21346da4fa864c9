"""Streamed responses that stream under both servers.

Django serves a StreamingHttpResponse over ASGI only from an async iterator: given a sync one it
first reads the whole of it into a list (a video download, or 100,000 data rows, in memory).
Over WSGI (the development server, the test live server) it is the other way round. So a
streaming view hands its chunk iterator to `streaming_response`, which picks the right kind.

Under ASGI the sync iterator is read in batches of about BATCH_BYTES in the request's own thread
(thread-sensitive, the thread the view ran in: a database cursor the iterator reads stays on its
connection), and each batch is sent before the next is read."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse

BATCH_BYTES = 1024 * 1024


def streaming_response(request: HttpRequest, chunks: Iterable[bytes], **kwargs) -> StreamingHttpResponse:
    if isinstance(request, ASGIRequest):
        return StreamingHttpResponse(as_async_chunks(chunks), **kwargs)
    return StreamingHttpResponse(chunks, **kwargs)


def as_async_chunks(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    """The same chunks as an async iterator, for a response served over ASGI."""
    return _in_batches(iter(chunks))


def _take(iterator: Iterator[bytes], limit: int) -> list[bytes]:
    batch: list[bytes] = []
    size = 0
    for chunk in iterator:
        batch.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return batch


def _close(iterator: Iterator[bytes]) -> None:
    close = getattr(iterator, "close", None)
    if close is not None:
        close()


async def _in_batches(iterator: Iterator[bytes], limit: int = BATCH_BYTES) -> AsyncIterator[bytes]:
    take = sync_to_async(_take, thread_sensitive=True)
    try:
        while batch := await take(iterator, limit):
            for chunk in batch:
                yield chunk
    finally:
        # A client that went away mid-body: the generator's own clean-up (closing a file) runs.
        await sync_to_async(_close, thread_sensitive=True)(iterator)
