"""Upload slots: where a client PUTs one file before a data job names it.

A slot (UploadSlot row) is issued to one caller (a user or an API key), optionally for one
dataset, with a signed URL (S3's own pre-signed PUT, or our signed PUT endpoint); the bytes stream
into hosted storage with their SHA-256 computed on the way. Per-caller limits on open slots and
staged bytes are checked when slots are issued."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from datasets_app import models as m
from datasets_app.media import signed, storage

from .exceptions import InvalidArgumentError
from .policy import Principal

ITEM_VIDEO = "video"
ITEM_IMAGE = "image"
ITEM_DICOM = "dicomFile"
ITEM_TYPES = (ITEM_VIDEO, ITEM_IMAGE, ITEM_DICOM)
MAX_URLS_PER_CALL = 1000
UPLOAD_PURPOSE = "upload"


@dataclass(frozen=True)
class IssuedUpload:
    item_uuid: str
    object_key: str
    signed_url: str
    upload_headers: dict = field(default_factory=dict)
    file_name: str = ""


@dataclass(frozen=True)
class ReceivedUpload:
    object_key: str
    size: int
    sha256: str



def owner_filter(principal: Principal) -> dict:
    if principal.api_key is not None:
        return {"api_key_id": principal.api_key.pk}
    return {"user_id": principal.user.pk}


def upload_url(slot: m.UploadSlot, *, base_url: str | None) -> str:
    """Where the client PUTs the file: S3's own pre-signed URL, or our signed PUT endpoint."""
    lifetime = max(1, int((slot.expires_at - timezone.now()).total_seconds()))
    if storage.is_s3():
        return storage.presigned_put_url(slot.object_key, lifetime_seconds=lifetime)
    expires = int(slot.expires_at.timestamp())
    signature = signed.sign(UPLOAD_PURPOSE, str(slot.item_uuid), slot.item_type, expires=expires)
    base = (base_url or settings.PUBLIC_BASE_URL or "").rstrip("/")
    return f"{base}/upload/{slot.item_uuid}?{urlencode({'expires': expires, 'signature': signature})}"


def _check_open_slots(principal: Principal, adding: int, *, staging_bytes: int = 0) -> None:
    """Refuses more than UPLOAD_MAX_OPEN_SLOTS uploads in progress (issued, not yet in a job, not
    expired) per caller, and more than UPLOAD_MAX_STAGING_BYTES declared by its unfinished browser
    uploads. One aggregate query."""
    limit, byte_limit = settings.UPLOAD_MAX_OPEN_SLOTS, settings.UPLOAD_MAX_STAGING_BYTES
    open_slots = m.UploadSlot.objects.filter(
        consumed_at__isnull=True, expires_at__gt=timezone.now(), **owner_filter(principal)
    )
    have = open_slots.aggregate(n=Count("id"), staged=Sum("size", filter=Q(uploaded_at__isnull=True)))
    if limit and have["n"] + adding > limit:
        raise InvalidArgumentError(
            f"You have {have['n']} uploads in progress; the limit is {limit}. Finish them (start their "
            f"jobs) or wait until their URLs expire, then ask for {adding} more.",
            field="count",
        )
    staged = have["staged"] or 0
    if staging_bytes and byte_limit and staged + staging_bytes > byte_limit:
        raise InvalidArgumentError(
            f"Your unfinished uploads hold {staged} bytes; with this file ({staging_bytes} bytes) that would "
            f"pass the limit of {byte_limit} bytes. Finish or abandon some uploads first.",
            field="size",
        )


def create_slots(
    principal: Principal,
    item_type: str,
    names: list[str],
    *,
    dataset: m.Dataset | None,
    staging_bytes: int = 0,
    folder: m.StorageFolder | None = None,
) -> list[m.UploadSlot]:
    if item_type not in ITEM_TYPES:
        raise InvalidArgumentError(
            f"uploadItemType {item_type!r} is not one of {', '.join(ITEM_TYPES)}.", field="uploadItemType"
        )
    _check_open_slots(principal, len(names), staging_bytes=staging_bytes)
    expires_at = timezone.now() + dt.timedelta(seconds=settings.UPLOAD_URL_LIFETIME_SECONDS)
    slots = []
    for name in names:
        item_uuid = uuid.uuid4()
        slots.append(
            m.UploadSlot(
                item_uuid=item_uuid,
                object_key=storage.upload_key(item_uuid),
                item_type=item_type,
                file_name=name[:1024],
                user=principal.user,
                api_key=principal.api_key,
                dataset=dataset,
                folder=folder,
                expires_at=expires_at,
            )
        )
    m.UploadSlot.objects.bulk_create(slots)
    return slots


def issue_upload_urls(
    principal: Principal,
    count: Any,
    item_type: str,
    *,
    base_url: str | None = None,
    folder: m.StorageFolder | None = None,
) -> list[IssuedUpload]:
    """`count` upload slots of one item type for this caller (v2 presigned-urls; no dataset yet).

    One INSERT whatever the count. Each URL accepts one file until it expires; its object key is
    what the caller names when it starts a data job."""
    if isinstance(count, bool) or not isinstance(count, int):
        try:
            count = int(count)
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"count must be an integer, not {count!r}.", field="count") from None
    if not 1 <= count <= MAX_URLS_PER_CALL:
        raise InvalidArgumentError(f"count must be between 1 and {MAX_URLS_PER_CALL}.", field="count")
    slots = create_slots(principal, item_type, [""] * count, dataset=None, folder=folder)
    return [
        IssuedUpload(
            item_uuid=str(s.item_uuid), object_key=s.object_key, signed_url=upload_url(s, base_url=base_url)
        )
        for s in slots
    ]


def verifyupload_url(item_uuid: str, item_type: str, expires: Any, signature: Any) -> bool:
    return signed.verify(UPLOAD_PURPOSE, item_uuid, item_type, expires=expires, signature=signature)


class UploadRefused(Exception):
    """A PUT we will not take: `status` is the HTTP status to answer, `reason` says why."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(reason)


def _counted(chunks: Iterable[bytes], expected: int | None) -> Iterator[bytes]:
    """Passes chunks through; an early end of a body announced longer means the client went away."""
    seen = 0
    for chunk in chunks:
        seen += len(chunk)
        yield chunk
    if expected is not None and seen != expected:
        raise UploadRefused(400, f"The upload ended after {seen} of {expected} bytes; nothing was kept.")


def receive_upload(
    item_uuid: str,
    *,
    expires: Any,
    signature: Any,
    chunks: Iterable[bytes],
    content_length: int | None,
    content_type: str = "",
) -> ReceivedUpload:
    """Streams a signed PUT body into the slot's object key, hashing it on the way (one pass).

    Refuses (UploadRefused with the HTTP status) a bad/expired signature (403), an unknown (404)
    or consumed (409) slot, and a body over settings.UPLOAD_MAX_BYTES (413, before reading when
    Content-Length says so). A repeated PUT before registration replaces the file (clients retry);
    an interrupted one leaves the previous state untouched.

    Three steps a caller may also run apart (the ASGI door runs the database steps in threads that
    keep their connections, and the stream in threads that never touch the database)."""
    slot = open_upload(item_uuid, expires=expires, signature=signature, content_length=content_length)
    stored = store_upload(slot, chunks, content_length=content_length, content_type=content_type)
    return record_upload(slot, stored, content_type=content_type)


def open_upload(item_uuid: str, *, expires: Any, signature: Any, content_length: int | None) -> m.UploadSlot:
    """The slot a signed PUT may write, or UploadRefused (step 1 of receive_upload; one query)."""
    try:
        item = uuid.UUID(str(item_uuid))
    except ValueError:
        raise UploadRefused(404, "No such upload URL.") from None
    slot = m.UploadSlot.objects.filter(item_uuid=item).first()
    if slot is None:
        raise UploadRefused(404, "No such upload URL.")
    if not verifyupload_url(str(slot.item_uuid), slot.item_type, expires, signature):
        raise UploadRefused(403, "The upload URL's signature is invalid or has expired; ask for a new URL.")
    if slot.expires_at <= timezone.now():
        raise UploadRefused(403, "The upload URL has expired; ask for a new URL.")
    if slot.consumed_at is not None:
        raise UploadRefused(
            409, "This upload URL was already used for a registered upload; ask for a new URL."
        )
    limit = settings.UPLOAD_MAX_BYTES
    if content_length is not None and content_length > limit:
        raise UploadRefused(413, f"The file is {content_length} bytes; the limit is {limit} bytes.")
    return slot


def store_upload(
    slot: m.UploadSlot, chunks: Iterable[bytes], *, content_length: int | None, content_type: str = ""
) -> storage.StoredObject:
    """Streams the body into a staging key beside the slot's (step 2; no database access). The
    slot's own key changes only in record_upload, under the slot's row lock: a PUT that loses the
    race with the slot's registration never touches the file the registered item names."""
    limit = settings.UPLOAD_MAX_BYTES
    staging = f"{slot.object_key}.incoming-{uuid.uuid4().hex}"
    try:
        return storage.save_stream(staging, _counted(chunks, content_length), limit=limit, content_type=content_type)
    except storage.TooLarge:
        raise UploadRefused(413, f"The file is larger than the limit of {limit} bytes.") from None


def record_upload(slot: m.UploadSlot, stored: storage.StoredObject, *, content_type: str = "") -> ReceivedUpload:
    """Marks the slot uploaded and moves the staged body to the slot's key, in one transaction
    (step 3). The UPDATE is conditional: a registration that consumed the slot meanwhile wins,
    this PUT is refused and its staged body deleted."""
    moved = False
    try:
        with transaction.atomic():
            updated = m.UploadSlot.objects.filter(pk=slot.pk, consumed_at__isnull=True).update(
                uploaded_at=timezone.now(), size=stored.size, sha256=stored.sha256, content_type=content_type[:100]
            )
            if updated == 1:
                storage.move(stored.key, slot.object_key)
                moved = True
    finally:
        if not moved:
            storage.delete_files([stored.key])
    if not moved:
        raise UploadRefused(
            409, "This upload URL was already used for a registered upload; ask for a new URL."
        )
    return ReceivedUpload(object_key=slot.object_key, size=stored.size, sha256=stored.sha256)


# ---- claiming slots for a job -----------------------------------------------------------------------


def _slot_problem(slot: m.UploadSlot | None, owner: dict, item_type: str, dataset: m.Dataset | None, folder) -> str | None:
    if slot is None or any(getattr(slot, k) != v for k, v in owner.items()):
        return "was not issued to you"
    if slot.dataset_id is not None and (dataset is None or slot.dataset_id != dataset.pk):
        return "was issued for another dataset"
    if slot.folder_id is not None and (folder is None or slot.folder_id != folder.pk):
        return "was issued for another folder"
    if slot.item_type != item_type:
        return f"was issued for a {slot.item_type} upload, not a {item_type}"
    if slot.consumed_at is not None:
        return "was already registered"
    if slot.uploaded_at is None and not _uploaded_to_s3(slot):
        return "has not been uploaded (the PUT did not complete)"
    return None


def claim_slots(
    principal: Principal,
    keys_by_type: dict[str, str],
    *,
    dataset: m.Dataset | None = None,
    folder: m.StorageFolder | None = None,
) -> dict[str, m.UploadSlot]:
    """Locks, checks and consumes the slots of these object keys ({key: item type}); call it in a
    transaction. Each must have been issued to this caller (for this dataset or folder, when issued
    for one), for that item type, be uploaded and not yet consumed; else InvalidArgumentError
    naming the key, and nothing is consumed. Two queries whatever the count."""
    owner = owner_filter(principal)
    slots = {
        s.object_key: s for s in m.UploadSlot.objects.select_for_update().filter(object_key__in=list(keys_by_type))
    }
    for key, item_type in keys_by_type.items():
        problem = _slot_problem(slots.get(key), owner, item_type, dataset, folder)
        if problem:
            raise InvalidArgumentError(f"Upload key {key!r} {problem}.", object_url=key)
    # Claim the slots; a concurrent registration of the same keys loses here.
    claimed = m.UploadSlot.objects.filter(pk__in=[s.pk for s in slots.values()], consumed_at__isnull=True).update(
        consumed_at=timezone.now()
    )
    if claimed != len(keys_by_type):
        raise InvalidArgumentError("Some upload keys were registered by another request meanwhile.")
    return slots


def _uploaded_to_s3(slot: m.UploadSlot) -> bool:
    """S3 uploads bypass us: the object's presence is the proof; its size is recorded now."""
    if not storage.is_s3():
        return False
    found = storage.head(slot.object_key)
    if found is None:
        return False
    limit = settings.UPLOAD_MAX_BYTES
    if found[0] > limit:
        # The pre-signed PUT cannot fix a size (the SDK names none): this is where it is enforced.
        storage.delete_files([slot.object_key])
        raise InvalidArgumentError(
            f"Upload {slot.object_key!r} is {found[0]} bytes; the limit is {limit} bytes. "
            "Upload a smaller file with a new URL.",
            object_url=slot.object_key,
        )
    slot.size = found[0]
    slot.uploaded_at = timezone.now()
    m.UploadSlot.objects.filter(pk=slot.pk).update(size=slot.size, uploaded_at=slot.uploaded_at)
    return True
