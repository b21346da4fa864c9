"""Storage re-encoding (storage protocol §7): folder.re_encode_videos starts a re-encode of video
items, folder.get_re_encoding_status reports it.

The process is a ReEncodeTask without a dataset, one ReEncodeVideo per item, run by the same
worker code as a dataset's re-encode (sdk/reencode_jobs.py): each item's file is re-encoded in
place, frame for frame, checked by the same frame-sync verdict, and every row linking the item
sees the new file. forceFullReencoding is accepted and recorded in the request's identity, but, as
on the dataset path, every named video is re-encoded (from its original file).

Who may: WRITE_FILES on each item's folder (the one policy, through FolderGate). An item the
caller cannot see reads as unknown, word for word; each refusal is a 400 naming the items. A
process is followed by whoever started it and by organisation admins; to anyone else it reads as
unknown. Identical pending requests of one caller get the same process back.

Task status (sdk/reencode.py's rule): submitted while any video is being worked on; then done
when at least one succeeded, error when every one failed. The result has one entry per item,
with its own status and, when it failed, the reason."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from datasets_app import models as m
from datasets_app.models.jobs import ReEncodeStatus

from . import queue
from .exceptions import AuthorisationError, InvalidArgumentError
from .item_links import SHOWN, named
from .policy import Op, Principal, may, parse_hash
from .storage_items import FolderGate

MAX_ITEMS = 10_000
FIELD = "storageItems"
KIND_WORDS = {
    m.DataType.IMAGE: "an image",
    m.DataType.IMG_GROUP: "an image group or sequence",
    m.DataType.DICOM: "a DICOM series",
}


@dataclass(frozen=True)
class ItemOutcome:
    """One item of a finished process: "done" or "error" (with the reason a person can act on)."""

    item_uuid: uuid.UUID
    status: str
    error: str | None


@dataclass(frozen=True)
class ProcessStatus:
    """What get_re_encoding_status answers: a lower-case status, and one outcome per item once
    the process is finished (None while it is submitted)."""

    status: str
    result: list[ItemOutcome] | None


def process_not_found(process_uuid: object) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"Re-encode process {process_uuid} does not exist or you do not have access to it.", field="process_uuid"
    )


# ---- the request ---------------------------------------------------------------------------------


def clean_request(storage_items: Iterable[object], process_title: object, force: object) -> tuple[list[uuid.UUID], str]:
    """(the item uuids in request order without repeats, the title); InvalidArgumentError names
    the field."""
    if isinstance(storage_items, (str, bytes)):
        raise InvalidArgumentError(f"{FIELD} must be a list of strings.", field=FIELD)
    wanted = list(dict.fromkeys(parse_hash(u, FIELD) for u in storage_items))
    title = clean_process_title(process_title)
    if not isinstance(force, bool):
        raise InvalidArgumentError("forceFullReencoding must be true or false.", field="forceFullReencoding")
    if not wanted:
        raise InvalidArgumentError(f"{FIELD} must name at least one video item.", field=FIELD)
    if len(wanted) > MAX_ITEMS:
        raise InvalidArgumentError(f"{FIELD} names {len(wanted)} items; the limit is {MAX_ITEMS}.", field=FIELD)
    return wanted, title


def clean_process_title(value: object) -> str:
    """Any string (blank is fine: it names nothing) without control characters, up to
    MAX_TITLE_LENGTH; kept without its outer spaces."""
    if not isinstance(value, str):
        raise InvalidArgumentError("processTitle must be a string.", field="processTitle")
    if any(ord(c) < 32 for c in value):
        raise InvalidArgumentError("processTitle cannot contain control characters.", field="processTitle")
    if len(value) > settings.MAX_TITLE_LENGTH:
        raise InvalidArgumentError(
            f"processTitle is {len(value)} characters long; the limit is {settings.MAX_TITLE_LENGTH}.",
            field="processTitle",
        )
    return value.strip()


def sentences(items: list[m.StorageItem], say) -> list[str]:
    """say(item) for the first SHOWN items, and how many more there are."""
    out = [say(i) for i in items[:SHOWN]]
    if len(items) > SHOWN:
        out.append(f"And {len(items) - SHOWN} more such items.")
    return out


def checked_items(principal: Principal, wanted: list[uuid.UUID]) -> list[m.StorageItem]:
    """The wanted items (locked, in request order) if every one is a video the caller may change;
    otherwise one InvalidArgumentError naming every item refused and why. Queries: one read, the
    folder checks once per distinct folder."""
    found = {
        i.item_uuid: i
        for i in m.StorageItem.objects.select_related("folder")
        .select_for_update(of=("self",))
        .filter(item_uuid__in=wanted)
        .order_by("pk")
    }
    gate = FolderGate(principal)
    unknown, read_only, not_video = [], [], []
    for key in wanted:
        item = found.get(key)
        if item is None or not gate.may(item.folder, Op.READ_FILES):
            unknown.append(key)
        elif not gate.may(item.folder, Op.WRITE_FILES):
            read_only.append(item)
        elif item.item_type != m.DataType.VIDEO:
            not_video.append(item)
    problems = []
    if unknown:
        them = "them" if len(unknown) > 1 else "it"
        verb = "do" if len(unknown) > 1 else "does"
        problems.append(f"{named(unknown, 'Item')} {verb} not exist or you do not have access to {them}.")
    problems += sentences(
        read_only,
        lambda i: f"Item {i.item_uuid} ({i.name!r}): your role on its folder does not allow re-encoding it "
        "(it needs the right to update the folder's items).",
    )
    problems += sentences(
        not_video,
        lambda i: f"Item {i.item_uuid} ({i.name!r}) is not a video (it is {KIND_WORDS.get(i.item_type, 'not a video')}): "
        "only videos are re-encoded.",
    )
    if problems:
        raise InvalidArgumentError(" ".join(problems), field=FIELD)
    return [found[key] for key in wanted]


def request_digest(user: m.User, wanted: list[uuid.UUID], title: str, force: bool) -> str:
    """The identity of a request: who, which items (in any order), the title and the flag."""
    parts = ["storage", f"user:{user.pk}", title, f"force:{force}", *sorted(str(u) for u in wanted)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def start_reencode(
    principal: Principal, storage_items: Iterable[object], process_title: object, force_full_reencoding: object
) -> uuid.UUID:
    """folder.re_encode_videos: queues a frame-accurate re-encode of the named video items (each
    needs WRITE_FILES on its folder); returns the process uuid. The same request while its process
    is still submitted returns that process. The work is enqueued on the `media` queue after commit."""
    wanted, title = clean_request(storage_items, process_title, force_full_reencoding)
    user = principal.user
    if user is None:
        raise AuthorisationError("Dataset API keys cannot re-encode storage items: sign with your SSH key.")
    digest = request_digest(user, wanted, title, force_full_reencoding)
    with transaction.atomic():
        # Serialise one caller's requests so a repeat finds the first one's process.
        m.User.objects.select_for_update().filter(pk=user.pk).first()
        items = checked_items(principal, wanted)
        existing = (
            m.ReEncodeTask.objects.filter(
                dataset__isnull=True, created_by=user, request_digest=digest, status=ReEncodeStatus.SUBMITTED
            )
            .values_list("process_uuid", flat=True)
            .first()
        )
        if existing is not None:
            return existing
        task = m.ReEncodeTask.objects.create(dataset=None, created_by=user, title=title, request_digest=digest)
        m.ReEncodeVideo.objects.bulk_create([m.ReEncodeVideo(task=task, item=i, item_uuid=i.item_uuid) for i in items])
        queue.enqueue(queue.REENCODE_VIDEOS, task.pk)
    return task.process_uuid


# ---- its status ------------------------------------------------------------------------------------


def may_follow(principal: Principal, task: m.ReEncodeTask) -> bool:
    """Whoever started the process, and whoever may Op.SEE_STORAGE_JOBS (the policy)."""
    user = principal.user
    if user is None:
        return False
    return task.created_by_id == user.pk or may(principal, Op.SEE_STORAGE_JOBS)


def reencode_status(principal: Principal, process_uuid: object) -> ProcessStatus:
    """folder.get_re_encoding_status: the process's status and, once finished, one outcome per
    item in request order. Unknown, a dataset's task, or someone else's process: the same 400.
    Two queries."""
    parsed = parse_hash(process_uuid, "process_uuid")
    task = m.ReEncodeTask.objects.filter(process_uuid=parsed, dataset__isnull=True).first()
    if task is None or not may_follow(principal, task):
        raise process_not_found(parsed)
    if task.status == ReEncodeStatus.SUBMITTED:
        return ProcessStatus(status="submitted", result=None)
    parts = task.videos.order_by("id").values_list("item_uuid", "status", "error")
    result = [
        ItemOutcome(item_uuid=u, status=s.lower(), error=(e or "The re-encode failed.") if s == ReEncodeStatus.ERROR else None)
        for u, s, e in parts
    ]
    return ProcessStatus(status=task.status.lower(), result=result)
