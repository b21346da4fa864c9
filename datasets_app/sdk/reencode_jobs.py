"""Worker side of re-encoding: `run_reencode(task_id)` (called by tasks.reencode_videos_task).

Each video's part is a unit of work: a dataset's row or a storage item (sdk/storage_reencode.py);
either way the item's file is re-encoded in place, and every row linking the item sees the result.
Its output key is deterministic, `reencoded/<dataset_hash>/<data_hash>.mp4` for a row's part and
`reencoded/items/<item_uuid>.mp4` for an item's, always made from the ORIGINAL file (the item's
original_storage_key/original_url once a re-encode has happened), so a rerun or a redelivery after a
killed worker redoes the work and overwrites the same key: never a duplicate. The part's result
(item update + part DONE) is written in one transaction with a conditional update, so a second run
of a finished part is a no-op. An undecodable video makes its part ERROR with the reason; the task
status follows the rule in sdk/reencode.py."""

from __future__ import annotations

import contextlib
import logging
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone

from datasets_app import models as m
from datasets_app.models.jobs import ReEncodeStatus
from datasets_app.media import cloud, ffmpeg, netguard, probe, relay, storage
from datasets_app.media import video as vid

from . import dataset_stats, encoding

logger = logging.getLogger(__name__)

PROGRESS_INTERVAL_SECONDS = 0.5


class ReEncodeFailed(Exception):
    """A video's part cannot be done; `reason` goes into ReEncodeVideo.error for a person to read."""


def output_key_for(row: m.DataRow) -> str:
    return f"reencoded/{row.dataset.dataset_hash}/{row.data_hash}.mp4"


def item_output_key(item: m.StorageItem) -> str:
    """Where a storage re-encode of `item` stores its file (one key per item, whatever the task)."""
    return f"reencoded/items/{item.item_uuid}.mp4"


@contextlib.contextmanager
def _external_source(item: m.StorageItem, url: str) -> Iterator[relay.RelayedSource]:
    """A private-cloud file as ffmpeg/PyAV read it: the integration's own time-limited GET URL
    (media/cloud.py), checked by the SSRF guard and fetched through the loopback relay (media/relay.py),
    so that a DNS answer changing after the check cannot take ffmpeg elsewhere."""
    if item.integration is None:
        if not url.startswith(("http://", "https://")):
            raise ReEncodeFailed(f"Cannot read {url}: the item has no cloud integration.")
        try:
            netguard.check_url(url)
        except (netguard.AddressRefused, netguard.HostUnresolvable) as exc:
            raise ReEncodeFailed(f"Cannot read {url}: {exc}") from None
        origin, allow_private_network = url, False
    else:
        try:
            adapter = cloud.adapter_for(item.integration)
            origin = adapter.signed_url(adapter.parse(url), expires_seconds=6 * 3600)
            adapter.guard_url(origin)
        except cloud.CloudError as exc:
            raise ReEncodeFailed(f"Cannot read {url} from the integration: {exc}") from exc
        allow_private_network = adapter.allow_private_network
    with relay.relayed(origin, allow_private_network=allow_private_network, label=url) as source:
        yield source


@contextlib.contextmanager
def opened_item_source(item: m.StorageItem, *, original: bool) -> Iterator[tuple[str, relay.RelayedSource | None]]:
    """(what ffmpeg/PyAV open, the relay entry when it is a private-cloud file) for the item's
    original media (never a previous re-encode) or, with original=False, its current file."""
    if original and item.original_storage_key:
        yield storage.streamable_source(item.original_storage_key), None
    elif original and item.original_url:
        with _external_source(item, item.original_url) as source:
            yield source.url, source
    elif item.storage_key:
        yield storage.streamable_source(item.storage_key), None
    elif item.url:
        with _external_source(item, item.url) as source:
            yield source.url, source
    else:
        raise ReEncodeFailed("The item has no media file.")


@contextlib.contextmanager
def opened_source(row: m.DataRow, *, original: bool) -> Iterator[tuple[str, relay.RelayedSource | None]]:
    """opened_item_source of the row's item (rows read their media from it)."""
    with opened_item_source(row.item, original=original) as opened:
        yield opened


def _explained(source: relay.RelayedSource | None, reason: str) -> str:
    """The relay's own account when it refused or failed to fetch (ffmpeg only saw an HTTP error)."""
    if source is not None and source.refusal:
        return f"Cannot read {source.label}: {source.refusal}"
    return reason


def probe_source(source: str, relayed: relay.RelayedSource | None = None, *, what: str = "") -> dict:
    """probe_video of a path or URL in the bounded child (media/probe.py: memory, time, pixels and
    frames capped by the settings); ReEncodeFailed with the reason a person can act on."""
    try:
        return probe.video_source(source)
    except probe.MediaError as exc:
        raise ReEncodeFailed(_explained(relayed, f"{what}{exc.reason}")) from None


def probe_row(row: m.DataRow) -> dict:
    """Probes the row's current file (bounded) and stores the facts in media_info (kept keys:
    "original"). Worker side only: a web request queues it (sdk/reencode.py)."""
    try:
        with opened_source(row, original=False) as (source, relayed):
            info = probe_source(source, relayed)
    except ReEncodeFailed as exc:
        info = {"verdict": vid.VERDICT_UNKNOWN, "reasons": [str(exc)], "frame_table": None}
    kept = {k: v for k, v in (row.media_info or {}).items() if k == "original"}
    info = {**info, **kept}
    # Only if the item still points at the file probed (a re-encode may have replaced it meanwhile).
    m.StorageItem.objects.filter(pk=row.item_id, storage_key=row.storage_key, url=row.url).update(media_info=info)
    row.item.media_info = info
    return info


def probe_row_once(data_hash: str) -> str:
    """The queued probe of a video row without a verdict (tasks.probe_video_row_task): probes and
    stores it; returns the verdict ("MISSING" when the row is gone). A row that has a verdict by
    now is left alone, so a redelivery or a second request's task costs one query."""
    row = (
        m.DataRow.objects.select_related("dataset", "item", "item__integration")
        .filter(data_hash=data_hash, item__item_type=m.DataType.VIDEO)
        .first()
    )
    if row is None:
        return "MISSING"
    verdict = (row.media_info or {}).get("verdict")
    if verdict is not None:
        return verdict
    return probe_row(row)["verdict"]


def _fail(part: m.ReEncodeVideo, reason: str) -> None:
    m.ReEncodeVideo.objects.filter(pk=part.pk, status=ReEncodeStatus.SUBMITTED).update(
        status=ReEncodeStatus.ERROR, error=reason[:4000], finished_at=timezone.now()
    )


def _ffmpeg_reason(exc: subprocess.CalledProcessError) -> str:
    lines = [ln.strip() for ln in (exc.stderr or "").splitlines() if ln.strip()]
    tail = "; ".join(lines[-3:]) if lines else f"exit status {exc.returncode}"
    return f"ffmpeg could not re-encode this video: {tail}"


def _encode(
    part: m.ReEncodeVideo, key: str, source: str, relayed: relay.RelayedSource | None
) -> tuple[int, dict, dict]:
    """Probes the source, re-encodes it frame for frame, checks and stores the result under `key`:
    (size, the new file's facts, the source's facts)."""
    src_info = probe_source(source, relayed, what="The video could not be opened: ")
    if src_info["verdict"] == vid.VERDICT_UNKNOWN:
        raise ReEncodeFailed("The video could not be decoded: " + " ".join(src_info["reasons"]))
    total = src_info["frame_count"]
    m.ReEncodeVideo.objects.filter(pk=part.pk).update(frames_total=total, frames_done=0)
    rate = vid.output_frame_rate(src_info)
    with tempfile.TemporaryDirectory(prefix="reencode-", dir=encoding.work_dir()) as tmp:
        out = Path(tmp) / "out.mp4"
        last = [0.0]

        def progress(frames: int) -> None:
            now = time.monotonic()
            if now - last[0] >= PROGRESS_INTERVAL_SECONDS:
                last[0] = now
                m.ReEncodeVideo.objects.filter(pk=part.pk).update(frames_done=min(frames, total))

        cmd = vid.reencode_command(
            source, str(out), rate=rate, preset=encoding.REENCODE_PRESET, crf=encoding.REENCODE_CRF,
            with_audio=bool(src_info.get("has_audio")),
        )
        try:
            ffmpeg.run_ffmpeg(cmd, on_progress=progress, memory_bytes=encoding.ffmpeg_memory_bytes())
        except ffmpeg.FFmpegOutOfMemory as exc:
            raise ReEncodeFailed(exc.reason) from None
        except subprocess.CalledProcessError as exc:
            raise ReEncodeFailed(_explained(relayed, _ffmpeg_reason(exc))) from exc
        new_info = probe_source(str(out), what="The re-encoded file could not be probed: ")
        # The contract: one output frame per source frame, and a clean verdict.
        if new_info["frame_count"] != total:
            raise ReEncodeFailed(
                f"The re-encode produced {new_info['frame_count']} frames from {total}; not stored."
            )
        if new_info["verdict"] != vid.VERDICT_OK:
            raise ReEncodeFailed("The re-encoded file is still at risk: " + " ".join(new_info["reasons"]))
        size = out.stat().st_size
        storage.store_file(key, out)
    return size, new_info, src_info


def _target(part: m.ReEncodeVideo) -> tuple[m.StorageItem, str] | str:
    """(the item whose file the part re-encodes, the output key), or why there is none: a row's
    part reads its row's item (the key names the row), a storage part its item."""
    if part.item_uuid is not None:
        item = m.StorageItem.objects.select_related("integration").filter(pk=part.item_id).first()
        if item is None:
            return "The item was deleted before it was re-encoded."
        return item, item_output_key(item)
    row = (
        m.DataRow.objects.select_related("dataset", "item", "item__integration").filter(pk=part.data_row_id).first()
        if part.data_row_id
        else None
    )
    if row is None:
        return "The data row was deleted before it was re-encoded."
    return row.item, output_key_for(row)


def reencode_part(part: m.ReEncodeVideo) -> None:
    """Re-encodes one video of a task and records the result (DONE or ERROR with the reason)."""
    target = _target(part)
    if isinstance(target, str):
        _fail(part, target)
        return
    item, key = target
    try:
        with opened_item_source(item, original=True) as (source, relayed):
            size, new_info, src_info = _encode(part, key, source, relayed)
        _record(part, item, key=key, size=size, new_info=new_info, src_info=src_info)
    except ReEncodeFailed as exc:
        _fail(part, str(exc))
    except (vid.VideoProbeError, OSError) as exc:
        logger.exception("re-encode of %s failed", part.target_uuid)
        _fail(part, f"The re-encode failed: {exc}")
    except DatabaseError:
        raise  # the database is the job's state: let the task fail and be retried or re-queued
    except Exception as exc:
        # A bug must not keep the task SUBMITTED forever (and be re-queued again and again).
        logger.exception("unexpected error re-encoding %s", part.target_uuid)
        _fail(part, f"Unexpected error while re-encoding ({type(exc).__name__}); it has been logged.")


def _record(
    part: m.ReEncodeVideo, item: m.StorageItem, *, key: str, size: int, new_info: dict, src_info: dict
) -> None:
    original = {k: v for k, v in src_info.items() if k != "frame_table"}
    with transaction.atomic():
        claimed = m.ReEncodeVideo.objects.filter(pk=part.pk, status=ReEncodeStatus.SUBMITTED).update(
            status=ReEncodeStatus.DONE,
            output_key=key,
            frames_done=F("frames_total"),
            error="",
            finished_at=timezone.now(),
        )
        # Read again under a lock: another re-encode of the same item may have finished meanwhile
        # (its size and original are what this one replaces).
        current = m.StorageItem.objects.select_for_update().filter(pk=item.pk).first()
        if claimed != 1 or current is None:
            return
        fields = {
            "storage_key": key,
            "url": "",
            "file_size": size,
            "mime_type": "video/mp4",
            "width": new_info["width"],
            "height": new_info["height"],
            "fps": new_info["fps"],
            "duration": new_info["duration"],
            "frame_count": new_info["frame_count"],
            "media_info": {**new_info, "original": original},
        }
        # Record the original once: a second re-encode reads from it and must not overwrite it.
        if not current.original_storage_key and not current.original_url:
            if current.storage_key and current.storage_key != key:
                fields["original_storage_key"] = current.storage_key
            elif current.url:
                fields["original_url"] = current.url
        # The item's file changes: every dataset linking it sees the re-encoded video.
        m.StorageItem.objects.filter(pk=item.pk).update(**fields, last_edited_at=timezone.now())
        dataset_stats.item_resized(item.pk, current.file_size, size)


def finish_task(task_id: int) -> str:
    """Moves a task to DONE/ERROR once every part is finished (conditional update: once only)."""
    parts = list(
        m.ReEncodeVideo.objects.filter(task_id=task_id).values_list("status", "data_hash", "item_uuid", "error")
    )
    if any(status == ReEncodeStatus.SUBMITTED for status, _, _, _ in parts):
        return ReEncodeStatus.SUBMITTED
    failed = [(h or i, e) for status, h, i, e in parts if status == ReEncodeStatus.ERROR]
    status = ReEncodeStatus.ERROR if parts and len(failed) == len(parts) else ReEncodeStatus.DONE
    message = "; ".join(f"{h}: {e}" for h, e in failed)[:10_000]
    m.ReEncodeTask.move(task_id, ReEncodeStatus.SUBMITTED, status, message=message)
    return m.ReEncodeTask.objects.filter(pk=task_id).values_list("status", flat=True).first() or status


def run_reencode(task_id: int) -> str:
    """Does every unfinished part of a re-encode task, then settles its status; returns it.

    Safe to run twice or after a killed worker: finished parts are skipped, unfinished ones redone."""
    task = m.ReEncodeTask.objects.filter(pk=task_id).first()
    if task is None:
        return "MISSING"
    if task.status != ReEncodeStatus.SUBMITTED:
        return task.status
    for part in m.ReEncodeVideo.objects.filter(task_id=task_id, status=ReEncodeStatus.SUBMITTED).order_by("id"):
        reencode_part(part)
    return finish_task(task_id)
