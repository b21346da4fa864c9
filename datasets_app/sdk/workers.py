"""Which Celery queue a waiting job needs, and whether any running worker consumes it.

A job whose queue no running worker consumes would show "Processing..." forever. The job's page,
the Jobs page and /healthz ask here and say instead: "Waiting: no running worker takes the 'media'
queue. Start one with ...".

Workers are asked over the broker (Celery's remote control `active_queues`, which works on Redis
and on the embedded filesystem broker) with a short timeout, and only while some job is waiting.
The answer is kept in the cache: younger than FRESH_SECONDS it is used as is; older (up to
STALE_SECONDS) it is still used while one background thread asks again, so a page waits for the
workers at most once per process every STALE_SECONDS. When the broker cannot be asked the answer
is "unknown" and nothing is claimed (/healthz reports the broker itself).

Queue names come from Celery's router (CELERY_TASK_ROUTES), never from a copy of them here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence

from celery import current_app
from django.core.cache import cache
from django.db.models import Q

from datasets_app import models as m
from datasets_app.models.jobs import ReEncodeStatus

from . import queue

logger = logging.getLogger(__name__)

ANSWER_TIMEOUT_SECONDS = 1.0  # how long workers get to answer (the filesystem broker polls each 1 s)
FRESH_SECONDS = 10
STALE_SECONDS = 120
_CACHE_KEY = "dd:workers:active-queues"

# The tasks whose queue a waiting job needs (queue.py's names, so this module imports no edge).
DATA_JOB_TASK = queue.RUN_DATA_JOB
VIDEO_DATA_JOB_TASK = queue.RUN_VIDEO_DATA_JOB
REENCODE_TASK = queue.REENCODE_VIDEOS
# Unit spec types sent to the video data-job task (units.py writes "video"; older rows may say VIDEO).
_VIDEO_UNIT_TYPES = ("video", m.DataType.VIDEO)

_refreshing = threading.Lock()


def queue_of(task_name: str) -> str:
    """The queue Celery sends `task_name` to (its route, else the default queue)."""
    return current_app.amqp.router.route({}, task_name)["queue"].name


def waiting_message(queue: str, jobs: int | None = None) -> str:
    waiting = f" ({jobs} job{'s' if jobs != 1 else ''} wait on it)" if jobs else ""
    return (
        f"Waiting: no running worker takes the '{queue}' queue{waiting}. Start one with "
        f"`celery -A dashboard worker` (it consumes all queues) or `-Q {queue}`."
    )


# ---- what the running workers consume -------------------------------------------------------------


def _ask_workers() -> dict:
    """{"at": time, "queues": names some worker consumes, or None when the broker can't be asked}."""
    app = current_app
    queues = None
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            replies = app.control.inspect(timeout=ANSWER_TIMEOUT_SECONDS, connection=conn).active_queues()
        queues = sorted({q["name"] for answer in (replies or {}).values() for q in answer or []})
    except Exception:  # broker down or refusing: unknown, not "no worker"
        logger.warning("could not ask the workers which queues they consume", exc_info=True)
    entry = {"at": time.time(), "queues": queues}
    cache.set(_CACHE_KEY, entry, STALE_SECONDS)
    return entry


def _refresh_in_background() -> None:
    if not _refreshing.acquire(blocking=False):
        return  # one question at a time per process

    def run() -> None:
        try:
            _ask_workers()
        finally:
            _refreshing.release()

    threading.Thread(target=run, name="ask-workers", daemon=True).start()


def consumed_queues() -> frozenset[str] | None:
    """Queues some running worker consumes; None when unknown (the broker could not be asked)."""
    entry = cache.get(_CACHE_KEY)
    if entry is None or time.time() - entry["at"] > STALE_SECONDS:
        entry = _ask_workers()
    elif time.time() - entry["at"] > FRESH_SECONDS:
        _refresh_in_background()
    return None if entry["queues"] is None else frozenset(entry["queues"])


def unserved(queues: Iterable[str]) -> set[str]:
    """Those of `queues` no running worker consumes (asks the workers only when there are any)."""
    wanted = set(queues)
    if not wanted:
        return set()
    running = consumed_queues()
    return set() if running is None else wanted - running


# ---- which queue a job waits on -------------------------------------------------------------------


def data_job_queues(process_hashes: Iterable[str]) -> dict[str, str]:
    """process_hash -> the queue each still PENDING data job waits on (one query): the video task's
    while a video unit is pending, else the light one's. Callers pass jobs the SDK layer already let
    them see (as for uploads.finished_data_jobs)."""
    hashes = [str(h) for h in process_hashes]
    if not hashes:
        return {}
    video_unit = Q(units__status=m.JobStatus.PENDING, units__spec__type__in=_VIDEO_UNIT_TYPES)
    jobs = m.DataJob.objects.filter(process_hash__in=hashes, status=m.JobStatus.PENDING)
    with_video = {str(h) for h in jobs.filter(video_unit).values_list("process_hash", flat=True).distinct()}
    light, video = queue_of(DATA_JOB_TASK), queue_of(VIDEO_DATA_JOB_TASK)
    pending = map(str, jobs.values_list("process_hash", flat=True))
    return {h: (video if h in with_video else light) for h in pending}


def data_job_waiting(process_hash: str) -> str | None:
    """The message for a data job's page when its queue has no worker, else None."""
    queue = data_job_queues([process_hash]).get(str(process_hash))
    return waiting_message(queue) if queue and unserved([queue]) else None


def reencode_waiting(status: str) -> str | None:
    """The message for a re-encode task's page when its queue has no worker, else None."""
    if status != ReEncodeStatus.SUBMITTED:
        return None
    queue = queue_of(REENCODE_TASK)
    return waiting_message(queue) if unserved([queue]) else None


def jobs_waiting(jobs: Sequence) -> list[str | None]:
    """For a list of orm.JobSummary: the waiting message of each (None when it isn't waiting on an
    unserved queue), in order. One query when data jobs are pending, none otherwise."""
    pending = [j for j in jobs if not j.is_terminal]
    queues = data_job_queues(j.job_id for j in pending if j.kind != "re-encode")
    if any(j.kind == "re-encode" for j in pending):
        reencode = queue_of(REENCODE_TASK)
        queues.update({j.job_id: reencode for j in pending if j.kind == "re-encode"})
    missing = unserved(queues.values())
    return [
        waiting_message(queues[j.job_id]) if queues.get(j.job_id) in missing and not j.is_terminal else None
        for j in jobs
    ]


def waiting_warnings() -> list[str]:
    """For /healthz: one message per queue that jobs wait on and no running worker consumes, with
    how many jobs wait. Three small queries; workers are asked only when something waits."""
    pending = m.DataJob.objects.filter(status=m.JobStatus.PENDING)
    counts: dict[str, int] = {}
    video = pending.filter(
        units__status=m.JobStatus.PENDING, units__spec__type__in=_VIDEO_UNIT_TYPES
    ).values("pk").distinct().count()
    light = pending.count() - video
    reencodes = m.ReEncodeTask.objects.filter(status=ReEncodeStatus.SUBMITTED).count()
    for task, n in ((DATA_JOB_TASK, light), (VIDEO_DATA_JOB_TASK, video), (REENCODE_TASK, reencodes)):
        if n:
            queue = queue_of(task)
            counts[queue] = counts.get(queue, 0) + n
    missing = unserved(counts)
    return [waiting_message(q, counts[q]) for q in sorted(missing)]
