"""Job long polls that wait without a thread, under the ASGI web tier (dashboard/asgi.py).

The SDK holds `datasetdatalongpolling` GET open for up to 60 s while a job runs. Served by a pool
of threads, each such poll would keep a thread; so the web tier asks for two passes instead:

1. The request runs through Django as usual with `ENVIRON_KEY = DEFER` in its environ. If the job
   is still PENDING, the handler raises DeferredWait (after authentication, permission checks and
   the job lookup); the dispatcher answers with `deferred_response`, which is not sent.
2. The event loop waits on the job with JobWaiters (one query every POLL_INTERVAL_SECONDS for all
   the jobs being waited on in this process), then runs the same request again with
   `ENVIRON_KEY = WAITED`: the handler answers the job's state at once.

Under any other server (the development server, tests' live server) neither key is set and the
handler waits in its thread as before."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from django.db import close_old_connections
from django.http import HttpRequest, HttpResponse

from datasets_app.sdk.uploads import POLL_INTERVAL_SECONDS, finished_data_jobs

ENVIRON_KEY = "datasets.long_poll"
DEFER = "defer"
WAITED = "waited"


class DeferredWait(Exception):
    """Raised by a poll handler in the first pass: wait on this job, then ask again."""

    def __init__(self, process_hash: str, seconds: float) -> None:
        self.process_hash = process_hash
        self.seconds = seconds
        super().__init__(process_hash)


def mode(request: HttpRequest) -> str | None:
    return request.META.get(ENVIRON_KEY)


def deferred_response(wait: DeferredWait) -> HttpResponse:
    """Not sent to the client: the web tier sees `deferred_long_poll` and waits instead."""
    response = HttpResponse(status=202)
    response.deferred_long_poll = wait
    return response


class JobWaiters:
    """Waits of one process's event loop on data jobs. One task polls the database for all of them
    (one query per interval, in a thread of its own) while any wait is open."""

    def __init__(self) -> None:
        self._waiting: dict[str, list[asyncio.Future]] = {}
        self._poller: asyncio.Task | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="job-waiters")

    async def wait(self, process_hash: str, seconds: float) -> None:
        """Returns when the job is no longer PENDING or `seconds` have passed."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._waiting.setdefault(process_hash, []).append(future)
        if self._poller is None or self._poller.done() or self._poller.get_loop() is not loop:
            self._poller = asyncio.ensure_future(self._poll())
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout=seconds)
        except asyncio.TimeoutError:
            pass
        finally:
            futures = self._waiting.get(process_hash, [])
            if future in futures:
                futures.remove(future)
            if not futures:
                self._waiting.pop(process_hash, None)

    async def _poll(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            await asyncio.sleep(POLL_INTERVAL_SECONDS)
            hashes = list(self._waiting)
            try:
                done = await loop.run_in_executor(self._thread, _finished, hashes)
            except Exception:  # noqa: BLE001 - a database hiccup: the next round tries again
                continue
            for process_hash in done:
                for future in self._waiting.pop(process_hash, []):
                    if not future.done():
                        future.set_result(None)


def _finished(hashes: list[str]) -> set[str]:
    # This thread's connection outlives requests: drop it when it is broken or old.
    close_old_connections()
    return finished_data_jobs(hashes)
