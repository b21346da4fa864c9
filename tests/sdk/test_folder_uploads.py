"""The SDK layer of uploads into folders (sdk/folder_uploads.py) and the rules it shares with
dataset uploads: metadata blocks in both spellings, where items go, who may, cancel."""

from __future__ import annotations

import pytest

from datasets_app import models as m
from datasets_app.media import cloud
from datasets_app.sdk import folder_uploads as fu
from datasets_app.sdk.exceptions import AuthorisationError, InvalidArgumentError
from datasets_app.sdk.policy import Principal
from datasets_app.sdk.private_manifest import parse_private_files
from datasets_app.sdk.units import Destination
from tests.factories import CloudIntegrationFactory, DatasetFactory, StorageFolderFactory, UserFactory


@pytest.fixture
def adapter(db):
    return cloud.adapter_for(CloudIntegrationFactory(config={"endpoint_url": "http://127.0.0.1:9"}))


@pytest.mark.parametrize("size_key, mime_key", [("file_size", "mime_type"), ("fileSize", "mimeType")])
def test_private_documents_take_media_metadata_in_both_spellings(adapter, size_key, mime_key):
    doc = {
        "images": [{"objectUrl": "s3://b/a.jpg", "imageMetadata": {mime_key: "image/jpeg", size_key: 7, "width": 2, "height": 3}}],
        "videos": [
            {
                "objectUrl": "s3://b/v.mp4",
                "videoMetadata": {"fps": 5, "duration": 2, "width": 4, "height": 4, size_key: 9, mime_key: "video/mp4"},
            }
        ],
    }
    entries, _, _ = parse_private_files(doc, adapter)
    assert [e.metadata for e in entries] == [
        {"fps": 5.0, "duration": 2.0, "width": 4, "height": 4, "file_size": 9, "mime_type": "video/mp4"},
        {"mime_type": "image/jpeg", "file_size": 7, "height": 3, "width": 2},
    ]


def test_a_metadata_key_given_in_both_spellings_is_refused(adapter):
    meta = {"mimeType": "image/jpeg", "mime_type": "image/jpeg", "file_size": 7, "width": 2, "height": 3}
    with pytest.raises(InvalidArgumentError, match="mime_type twice"):
        parse_private_files({"images": [{"objectUrl": "s3://b/a.jpg", "imageMetadata": meta}]}, adapter)


def test_destination_of_folder_jobs(db):
    owner = UserFactory()
    plain_folder = StorageFolderFactory(owner=owner)
    mirror = DatasetFactory()
    plain = DatasetFactory(backing_folder=None)
    folder_job = m.DataJob.objects.create(folder=plain_folder, kind="upload", created_by=owner)
    assert Destination.of_job(folder_job) == Destination(None, plain_folder.pk, owner.pk)
    into_mirror = m.DataJob.objects.create(folder=mirror.backing_folder, kind="upload", created_by=owner)
    assert Destination.of_job(into_mirror) == Destination(mirror.pk, mirror.backing_folder_id, owner.pk)
    plain_into_mirror = m.DataJob.objects.create(dataset=plain, folder=mirror.backing_folder, kind="upload")
    assert Destination.of_job(plain_into_mirror).also == (mirror.pk,)
    legacy = m.DataJob.objects.create(dataset=mirror, kind="upload")
    assert Destination.of_job(legacy) == Destination(mirror.pk, mirror.backing_folder_id, None)


def test_signed_urls_need_write_files_and_a_supported_type(db):
    alice, bob = UserFactory(), UserFactory()
    folder = StorageFolderFactory(owner=alice)
    with pytest.raises(AuthorisationError, match="does not exist or you do not have access"):
        fu.issue_folder_upload_urls(Principal(user=bob), folder.folder_uuid, "image", 1)
    with pytest.raises(InvalidArgumentError, match="'pdf' is not supported by this server"):
        fu.issue_folder_upload_urls(Principal(user=alice), folder.folder_uuid, "pdf", 1)
    (slot,) = fu.issue_folder_upload_urls(Principal(user=alice), folder.folder_uuid, "image", 1)
    assert m.UploadSlot.objects.get(item_uuid=slot.item_uuid).folder == folder


def test_placeholders_of_another_folder_are_refused(db):
    alice = UserFactory()
    one, two = StorageFolderFactory(owner=alice), StorageFolderFactory(owner=alice)
    (slot,) = fu.issue_folder_upload_urls(Principal(user=alice), one.folder_uuid, "image", 1)
    entry = {"objectUrl": slot.object_key, "title": "a", "placeholderItemUuid": slot.item_uuid}
    with pytest.raises(InvalidArgumentError, match="was not issued to you for this folder"):
        fu.start_folder_upload(Principal(user=alice), two.folder_uuid, data_items={"images": [entry]})
    with pytest.raises(InvalidArgumentError, match="has not been uploaded"):
        fu.start_folder_upload(Principal(user=alice), one.folder_uuid, data_items={"images": [entry]})
    assert not m.DataJob.objects.exists()
