"""A signed PUT that loses the race with the registration of its slot must not touch the file the
registered item now names: the body is staged beside it and moved into place only under the
slot's row lock, when the slot is still unregistered."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from datasets_app import models as m
from datasets_app.sdk.policy import Principal
from datasets_app.sdk.uploads import UploadRefused, issue_upload_urls, open_upload, record_upload, receive_upload, store_upload
from tests.local_storage import stored_files

pytestmark = pytest.mark.django_db


def _signed(slot_url: str) -> dict:
    from urllib.parse import parse_qs, urlsplit

    query = parse_qs(urlsplit(slot_url).query)
    return {"expires": query["expires"][0], "signature": query["signature"][0]}


def test_a_put_that_loses_to_registration_leaves_the_registered_file_alone(ds_user):
    (issued,) = issue_upload_urls(Principal(user=ds_user), 1, "image", base_url="http://testserver/")
    signed = _signed(issued.signed_url)
    first = b"the bytes that get registered"
    receive_upload(issued.item_uuid, **signed, chunks=[first], content_length=len(first))

    # a retried PUT starts while the slot is still open ...
    slot = open_upload(issued.item_uuid, **signed, content_length=5)
    # ... registration consumes the slot meanwhile (the item now names its key) ...
    m.UploadSlot.objects.filter(item_uuid=issued.item_uuid).update(consumed_at=timezone.now())
    # ... and the late body arrives
    stored = store_upload(slot, [b"later"], content_length=5)
    with pytest.raises(UploadRefused) as refused:
        record_upload(slot, stored)
    assert refused.value.status == 409
    with default_storage.open(issued.object_key, "rb") as kept:
        assert kept.read() == first
    assert stored_files() == {issued.object_key}  # the late body's staging file is gone
    record = m.UploadSlot.objects.get(item_uuid=issued.item_uuid)
    assert record.sha256 == hashlib.sha256(first).hexdigest()


def test_a_repeated_put_before_registration_still_replaces_the_file(ds_user):
    (issued,) = issue_upload_urls(Principal(user=ds_user), 1, "image", base_url="http://testserver/")
    signed = _signed(issued.signed_url)
    for body in (b"first try", b"second try"):
        receive_upload(issued.item_uuid, **signed, chunks=[body], content_length=len(body))
    with default_storage.open(issued.object_key, "rb") as kept:
        assert kept.read() == b"second try"
    assert stored_files() == {issued.object_key}
