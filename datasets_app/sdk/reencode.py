"""Re-encoding and frame timestamps of a Dataset's videos (`Dataset` inherits `ReEncodeMixin`).

Task status rule (what the SDK sees): SUBMITTED while any video's part is still being worked on;
then DONE when at least one part succeeded, or the request named no video of this dataset
(result: only the succeeded parts; failed parts' reasons are in the task message and the
per-video progress), and ERROR when every part failed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable

from django.core.cache import cache
from django.db import transaction

from datasets_app import models as m
from datasets_app.models.jobs import ReEncodeStatus

from . import orm, queue, workers
from .exceptions import InvalidArgumentError, ResourceNotFoundError
from .policy import Op, parse_hash
from .validation import clean_list


# The verdict of a video whose frame table the worker is still measuring (times empty).
VERDICT_PENDING = "pending"
MEASURING = "Measuring the frame table: the worker is reading this video's headers. Ask again in a moment."
# A row's probe is queued at most once per this many seconds (the task itself is idempotent).
PROBE_REQUEUE_SECONDS = 600


@dataclass(frozen=True)
class FrameTimestamps:
    """Frame index <-> presentation time of one video. `times[n]` is frame n's time in seconds
    (presentation order, as PyAV's frame.time and a browser's currentTime report it). While the
    worker measures a video never probed, verdict is "pending", `reasons` say so, `times` is empty."""

    data_hash: str
    verdict: str
    reasons: list[str]
    fps: float
    frame_count: int
    start_time: float
    time_base: str | None
    times: list[float]

    @property
    def pending(self) -> bool:
        return self.verdict == VERDICT_PENDING

    def time_of(self, frame: int) -> float:
        """The seek time of frame `frame` (IndexError outside 0..frame_count-1)."""
        if frame < 0:
            raise IndexError(frame)
        return self.times[frame]

    def frame_at(self, time: float) -> int:
        """The frame shown at `time` seconds: the last frame whose time is <= `time`."""
        import bisect

        return max(0, bisect.bisect_right(self.times, time + 1e-9) - 1)


@dataclass(frozen=True)
class ReEncodeVideoProgress:
    data_hash: str
    title: str
    status: str
    frames_done: int
    frames_total: int | None
    error: str
    bucket_path: str


@dataclass(frozen=True)
class ReEncodeTaskProgress:
    """What the task page shows: Encord's status plus per-video progress."""

    task_id: int
    status: str
    message: str
    created_at: object
    finished_at: object
    videos: list[ReEncodeVideoProgress]

    @property
    def is_terminal(self) -> bool:
        return self.status != ReEncodeStatus.SUBMITTED

    @property
    def frames_done(self) -> int:
        return sum(v.frames_done for v in self.videos)

    @property
    def frames_total(self) -> int:
        return sum(v.frames_total or 0 for v in self.videos)


def _clean_task_id(task_id: object) -> int:
    if isinstance(task_id, bool):
        raise InvalidArgumentError("task_id must be an integer.", field="task_id")
    try:
        value = int(task_id)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"task_id {task_id!r} is not an integer.", field="task_id") from None
    if value <= 0:
        raise InvalidArgumentError("task_id must be a positive integer.", field="task_id")
    return value


def _task_not_found(task_id: object) -> ResourceNotFoundError:
    return ResourceNotFoundError(f"Re-encode task {task_id} not found in this dataset.", task_id=str(task_id))


class ReEncodeMixin:
    """Mixed into sdk.Dataset: expects `self._require(op)` and `self._get_row(data_hash, op)`."""

    def re_encode_data(self, data_hashes: Iterable[str] | str) -> int:
        """Queues a frame-accurate re-encode of the named videos of this dataset; returns the task id.

        Hashes that are not videos of this dataset are ignored. The same pending request (the SDK
        retries this PUT) returns the same task. Three to five queries; the work is enqueued on the
        `media` queue after commit."""
        ds = self._require(Op.WRITE_DATA)
        if isinstance(data_hashes, str):
            data_hashes = [data_hashes]
        hashes = {parse_hash(h, "data_hash") for h in clean_list(data_hashes, "data_hashes", max_items=10_000)}
        principal = self.principal
        who = f"key:{principal.api_key.pk}" if principal.api_key is not None else f"user:{principal.user.pk}"
        with transaction.atomic():
            # Serialise identical requests of this dataset so a retry finds the first one's task.
            m.Dataset.objects.select_for_update().filter(pk=ds.pk).first()
            rows = list(
                m.DataRow.objects.filter(dataset=ds, data_hash__in=hashes, item__item_type=m.DataType.VIDEO)
                .order_by("created_at", "id")
                .only("id", "data_hash")
            )
            digest = hashlib.sha256(
                ("\n".join([who, *sorted(str(r.data_hash) for r in rows)])).encode()
            ).hexdigest()
            existing = (
                m.ReEncodeTask.objects.filter(
                    dataset=ds, request_digest=digest, status=ReEncodeStatus.SUBMITTED
                )
                .values_list("pk", flat=True)
                .first()
            )
            if existing is not None:
                return existing
            task = m.ReEncodeTask.objects.create(
                dataset=ds,
                created_by=principal.user,
                request_digest=digest,
                status=ReEncodeStatus.SUBMITTED if rows else ReEncodeStatus.DONE,
                message="" if rows else "No video of this dataset was named; nothing to re-encode.",
            )
            if not rows:
                return task.pk
            m.ReEncodeVideo.objects.bulk_create(
                [m.ReEncodeVideo(task=task, data_row=r, data_hash=r.data_hash) for r in rows]
            )
            queue.enqueue(queue.REENCODE_VIDEOS, task.pk)
        return task.pk

    def _get_task(self, task_id: object, op: Op) -> m.ReEncodeTask:
        ds = self._require(op)
        pk = _clean_task_id(task_id)
        task = m.ReEncodeTask.objects.filter(pk=pk, dataset=ds).first()
        if task is None:
            raise _task_not_found(task_id)
        return task

    def re_encode_data_status(self, task_id: int, *, base_url: str | None = None) -> orm.ReEncodeVideoTask:
        """Encord's status of a re-encode task: SUBMITTED, DONE (with a signed URL per re-encoded
        video) or ERROR. A task of another dataset is ResourceNotFoundError. Two queries.

        `base_url` makes our own signed URLs absolute (the API passes the request's host)."""
        task = self._get_task(task_id, Op.READ)
        if task.status != ReEncodeStatus.DONE:
            return orm.ReEncodeVideoTask(status=task.status)
        from datasets_app.media.downloads import signed_download_url

        result = [
            orm.ReEncodeVideoTaskResult(
                data_hash=str(v.data_hash),
                signed_url=signed_download_url(v.output_key, base_url=base_url),
                bucket_path=v.output_key,
            )
            for v in task.videos.filter(status=ReEncodeStatus.DONE).order_by("id")
        ]
        return orm.ReEncodeVideoTask(status=task.status, result=result)

    def re_encode_task_progress(self, task_id: int) -> ReEncodeTaskProgress:
        """Status plus per-video frames encoded of the total, for the task page. Two queries."""
        task = self._get_task(task_id, Op.READ)
        videos = [
            ReEncodeVideoProgress(
                data_hash=str(v.data_hash),
                title=v.data_row.title if v.data_row else "(deleted)",
                status=v.status,
                frames_done=v.frames_done,
                frames_total=v.frames_total,
                error=v.error,
                bucket_path=v.output_key,
            )
            for v in task.videos.select_related("data_row__item").order_by("id")
        ]
        return ReEncodeTaskProgress(
            task_id=task.pk,
            status=task.status,
            message=task.message,
            created_at=task.created_at,
            finished_at=task.finished_at,
            videos=videos,
        )

    def get_frame_timestamps(self, data_hash: str) -> FrameTimestamps:
        """Frame index <-> presentation time of a video of this dataset (READ).

        From the stored probe (one query). A video never probed (rows imported from metadata, say)
        is never probed here, in a web request: its probe is queued to the worker (bounded there,
        media/probe.py) and the answer is verdict "pending" with a reason to show."""
        row = self._get_row(data_hash, Op.READ)
        if row.data_type != m.DataType.VIDEO:
            raise InvalidArgumentError(f"Data item {data_hash} is not a video.", data_hash=str(data_hash))
        info = row.media_info or {}
        if "verdict" not in info:
            return FrameTimestamps(
                data_hash=str(row.data_hash), verdict=VERDICT_PENDING, reasons=queue_frame_probe(str(row.data_hash)),
                fps=0.0, frame_count=0, start_time=0.0, time_base=None, times=[],
            )
        # Imported here: media.video loads PyAV and numpy, which a web process needs only now.
        from datasets_app.media.video import frame_times

        table = info.get("frame_table") or {}
        return FrameTimestamps(
            data_hash=str(row.data_hash),
            verdict=info.get("verdict", "unknown"),
            reasons=list(info.get("reasons") or []),
            fps=float(info.get("fps") or 0.0),
            frame_count=int(info.get("frame_count") or 0),
            start_time=float(info.get("start_time") or 0.0),
            time_base=table.get("time_base"),
            times=frame_times(table),
        )


def queue_frame_probe(data_hash: str) -> list[str]:
    """Queues the worker's probe of a video row without a verdict (tasks.probe_video_row_task, after
    commit), at most once per PROBE_REQUEUE_SECONDS per row; returns the reasons a caller shows
    while it is pending (with a word when no running worker takes the task's queue)."""
    if cache.add(f"frame-probe-queued:{data_hash}", 1, timeout=PROBE_REQUEUE_SECONDS):
        queue.enqueue(queue.PROBE_VIDEO_ROW, data_hash)
    reasons = [MEASURING]
    waits_on = workers.queue_of(queue.PROBE_VIDEO_ROW)
    if workers.unserved([waits_on]):
        reasons.append(workers.waiting_message(waits_on))
    return reasons
