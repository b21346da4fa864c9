"""Image groups as videos ("image sequences"): what createVideo / create_video asks for.

A group created with it gets `sequence_video_status = PENDING` on its storage item; when its data
job ends, one task per item (tasks.make_sequence_video_task, `media` queue; the argument is the
item's uuid) decodes the group's images in data_sequence order, one at a time, and pipes them to
ffmpeg: an H.264 video at IMAGE_SEQUENCE_FPS in which frame N is image N. The item may be in a
folder no dataset links (a Files upload): the video is the item's, so every dataset linking it
sees it. Hosted images are read from storage, private ones through their integration; the video is
always hosted, at `sequences/items/<item_uuid>.mp4` (a rerun overwrites it). It is accepted only
if it has exactly one frame per image; otherwise, or when an image cannot be read, the item
records ERROR and why. The group's images stay what they were either way."""

from __future__ import annotations

import logging
import subprocess
import tempfile
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from datasets_app import models as m
from datasets_app.media import ffmpeg, probe, storage
from datasets_app.media import video as vid

from . import encoding, queue

logger = logging.getLogger(__name__)

PENDING, DONE, ERROR = "PENDING", "DONE", "ERROR"


class SequenceFailed(Exception):
    """The video cannot be made; the message is for a person to read."""


def sequence_key(item: m.StorageItem) -> str:
    return f"sequences/items/{item.item_uuid}.mp4"


def queue_for_job(job: m.DataJob) -> int:
    """Queues a video for each group this job created that asked for one (after commit), whether
    or not a dataset links it."""
    uuids = [
        str(u)
        for u in m.StorageItem.objects.filter(created_by_job__job=job, sequence_video_status=PENDING).values_list(
            "item_uuid", flat=True
        )
    ]
    for item_uuid in uuids:
        queue.enqueue(queue.MAKE_SEQUENCE_VIDEO, item_uuid)
    return len(uuids)


def group_awaiting_video(ref: str) -> m.StorageItem | None:
    """The image group an item uuid names (or, for tasks queued before items existed, a row's
    data_hash), None when there is none."""
    groups = m.StorageItem.objects.select_related("integration").filter(item_type=m.DataType.IMG_GROUP)
    item = groups.filter(item_uuid=ref).first()
    if item is None:
        item = groups.filter(rows__data_hash=ref).first()
    return item


def make_sequence_video(ref: str) -> str:
    """Makes the video of one image group (`ref`: its item uuid, or a data_hash linking it); returns
    its sequence status ("MISSING" when there is no such group). Safe to run twice: a finished
    item is left alone."""
    item = group_awaiting_video(ref)
    if item is None:
        return "MISSING"
    if item.sequence_video_status != PENDING:
        return item.sequence_video_status
    members = list(item.members.order_by("data_sequence"))
    key = sequence_key(item)
    try:
        if not members:
            raise SequenceFailed("The group has no images.")
        rate = Fraction(settings.IMAGE_SEQUENCE_FPS).limit_denominator(1001)
        with tempfile.TemporaryDirectory(prefix="sequence-", dir=encoding.work_dir()) as tmp:
            out = Path(tmp) / "sequence.mp4"
            _encode(item, members, str(out), rate)
            try:
                info = probe.video_source(str(out))
            except probe.MediaError as exc:
                raise SequenceFailed(f"The video made could not be probed: {exc.reason}") from None
            if info["frame_count"] != len(members):
                raise SequenceFailed(
                    f"The video has {info['frame_count']} frames for {len(members)} images; not stored."
                )
            storage.store_file(key, out)
        details = {"fps": float(rate), "frame_count": len(members), "width": info["width"], "height": info["height"]}
        _record(item, DONE, key=key, details=details)
    except SequenceFailed as exc:
        _record(item, ERROR, details={"error": str(exc)})
    except DatabaseError:
        raise  # the item is the state: let the task fail and be retried or re-queued
    except Exception as exc:  # noqa: BLE001 - a bug must not leave the item PENDING for ever
        logger.exception("sequence video of %s failed", ref)
        _record(item, ERROR, details={"error": f"Could not make the video ({type(exc).__name__}: {exc})."})
    return m.StorageItem.objects.filter(pk=item.pk).values_list("sequence_video_status", flat=True).first()


def _record(item: m.StorageItem, status: str, *, key: str = "", details: dict) -> None:
    info = dict(item.media_info or {})
    info["sequence_video"] = details
    m.StorageItem.objects.filter(pk=item.pk, sequence_video_status=PENDING).update(
        sequence_video_status=status, sequence_video_key=key, media_info=info, last_edited_at=timezone.now()
    )


@contextmanager
def _opened(item: m.StorageItem, member: m.DataRowMember):
    """A binary file object of one image of the group: hosted storage or the integration."""
    if member.storage_key:
        with storage.local_copy(member.storage_key) as (path, _), open(path, "rb") as fh:
            yield fh
        return
    from .private_data import PrivateDataError, read_private_object

    try:
        handle = read_private_object(member.url, item.integration)
    except PrivateDataError as exc:
        raise SequenceFailed(f"Image {member.data_sequence} ({member.title}) could not be read: {exc}") from None
    try:
        yield handle
    finally:
        handle.close()


def _checked_pixels(member: m.DataRowMember, width: int, height: int) -> None:
    """Refuses an image over MEDIA_MAX_IMAGE_PIXELS from its size alone (header or the group's)."""
    try:
        probe.check_image_pixels(width, height)
    except probe.MediaError as exc:
        raise SequenceFailed(f"Image {member.data_sequence} ({member.title}) was refused: {exc.reason}") from None


def _frame(item: m.StorageItem, member: m.DataRowMember, width: int, height: int):
    """One image as an RGB frame of width x height, its pixels checked from its header first."""
    from PIL import Image

    try:
        with _opened(item, member) as fh, Image.open(fh) as img:
            _checked_pixels(member, *img.size)  # Image.open read the header only
            if img.size != (width, height):
                raise SequenceFailed(
                    f"Image {member.data_sequence} ({member.title}) is {img.size[0]}x{img.size[1]}, "
                    f"not {width}x{height} like the group."
                )
            return img.convert("RGB")
    except SequenceFailed:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise SequenceFailed(f"Image {member.data_sequence} ({member.title}) could not be read: {exc}") from None


def _encode(item: m.StorageItem, members: list[m.DataRowMember], output: str, rate: Fraction) -> None:
    width, height = item.width or members[0].width, item.height or members[0].height
    _checked_pixels(members[0], width, height)
    cmd = vid.sequence_command(
        output, width=width, height=height, rate=rate, preset=encoding.REENCODE_PRESET, crf=encoding.REENCODE_CRF
    )
    memory = encoding.ffmpeg_memory_bytes()
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            ffmpeg.memory_limited(cmd, memory), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors
        )
        try:
            for member in members:
                frame = _frame(item, member, width, height)
                try:
                    proc.stdin.write(frame.tobytes())
                except BrokenPipeError:
                    break  # ffmpeg stopped: its own message says why
            proc.stdin.close()
            rc = proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if rc != 0:
            errors.seek(0)
            said = errors.read()[-500:].decode("utf-8", "replace")
            if ffmpeg.ran_out_of_memory(rc, said):
                raise SequenceFailed(ffmpeg.out_of_memory_reason(memory, said))
            raise SequenceFailed("ffmpeg could not make the video: " + said)


def requeue_stuck(cutoff, now) -> int:
    """Queues again the groups still PENDING whose item has not moved since `cutoff` (beat)."""
    queued = 0
    stuck = m.StorageItem.objects.filter(sequence_video_status=PENDING, last_edited_at__lt=cutoff)
    for pk, item_uuid in stuck.values_list("pk", "item_uuid")[:1000]:
        with transaction.atomic():
            claimed = m.StorageItem.objects.filter(
                pk=pk, sequence_video_status=PENDING, last_edited_at__lt=cutoff
            ).update(last_edited_at=now)
            if claimed != 1:
                continue
            queue.enqueue(queue.MAKE_SEQUENCE_VIDEO, str(item_uuid))
        queued += 1
    return queued
