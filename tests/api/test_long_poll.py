"""api/long_poll.py: the two-pass long poll's pieces (the ASGI web tier drives them end to end in
tests/production/test_asgi.py): marking a request, the deferred answer, and JobWaiters, which wake
every wait on a job once it leaves PENDING and let a wait end at its timeout otherwise."""

from __future__ import annotations

import asyncio
import time

import pytest
from django.test import RequestFactory

from datasets_app import models as m
from datasets_app.api import long_poll
from tests.factories import DataJobFactory
from tests.waits import finish_job_from_another_thread

# JobWaiters reads the jobs from a thread of its own: the rows must be committed.
pytestmark = pytest.mark.django_db(transaction=True)


def test_mode_reads_the_pass_the_web_tier_marked():
    plain = RequestFactory().get("/public")
    deferred = RequestFactory().get("/public", **{long_poll.ENVIRON_KEY: long_poll.DEFER})
    waited = RequestFactory().get("/public", **{long_poll.ENVIRON_KEY: long_poll.WAITED})
    assert long_poll.mode(plain) is None
    assert long_poll.mode(deferred) == long_poll.DEFER
    assert long_poll.mode(waited) == long_poll.WAITED


def test_deferred_response_carries_the_wait_for_the_web_tier():
    wait = long_poll.DeferredWait("a-process-hash", 12.5)
    response = long_poll.deferred_response(wait)
    assert response.status_code == 202
    assert response.deferred_long_poll is wait
    assert (wait.process_hash, wait.seconds) == ("a-process-hash", 12.5)


def test_waiters_wake_every_wait_on_a_job_when_it_leaves_pending():
    job = DataJobFactory()
    process_hash = str(job.process_hash)
    waiters = long_poll.JobWaiters()

    async def scenario() -> float:
        started = time.monotonic()
        waits = [asyncio.ensure_future(waiters.wait(process_hash, 30)) for _ in range(3)]
        await asyncio.sleep(0.3)
        assert not any(w.done() for w in waits)  # still PENDING: nobody wakes
        await asyncio.get_running_loop().run_in_executor(None, finish_job_from_another_thread, job.pk)
        await asyncio.wait_for(asyncio.gather(*waits), 10)
        return time.monotonic() - started

    assert asyncio.run(scenario()) < 10  # woken by the job, well before the 30 s timeout


def test_a_wait_on_a_pending_job_ends_at_its_timeout():
    job = DataJobFactory()
    waiters = long_poll.JobWaiters()

    async def scenario() -> float:
        started = time.monotonic()
        await asyncio.wait_for(waiters.wait(str(job.process_hash), 0.5), 10)
        return time.monotonic() - started

    assert 0.4 <= asyncio.run(scenario()) < 5
    job.refresh_from_db()
    assert job.status == m.JobStatus.PENDING
