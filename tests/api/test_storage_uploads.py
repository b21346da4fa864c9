"""Uploads into Files folders (storage protocol §3, §4.2, §4.3; §8.2 flows A, B, C) through the real
`encord==0.1.211` SDK against a live server with a real Celery worker, checked in the database."""

from __future__ import annotations

import time
import uuid

import pytest
import requests
from encord.constants.enums import DataType
from encord.exceptions import AuthorisationError, EncordException, InvalidArgumentsError
from encord.orm.dataset import DataLinkDuplicatesBehavior, StorageLocation
from encord.orm.storage import DataUploadImage, DataUploadItems

from datasets_app import models as m
from datasets_app.sdk import UserClient, storage_folders
from tests.cloud_servers import make_jpeg, make_mp4
from tests.factories import UserFactory
from tests.media.mediagen import make_dicom, make_image, make_video

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def alice(db):
    return UserFactory(email="alice@example.com")


def item(uuid_value) -> m.StorageItem:
    return m.StorageItem.objects.get(item_uuid=uuid_value)


def test_poll_holds_cancel_stops_and_jobs_belong_to_their_folder(tmp_path, sdk_client, alice, raw_client):
    """No worker here: the job stays PENDING until cancelled. This module's worker thread starts
    with its first test that asks for data_worker (module scope), so this test comes first."""
    client = sdk_client(alice)
    folder, other = client.create_storage_folder("f"), client.create_storage_folder("g")
    raw = raw_client(alice, bearer=True)
    base = f"/v2/public/storage/folders/{folder.uuid}"
    urls = raw.v2("POST", f"{base}/upload-signed-urls", {"itemType": "image", "count": 1}).json()
    (slot,) = urls["results"]
    assert urls["next_page_token"] is None
    assert requests.put(slot["signed_url"], data=make_jpeg(8, 8), timeout=10).status_code == 200
    entry = {"objectUrl": slot["object_key"], "title": "a.jpg", "clientMetadata": {}, "externalFileType": "IMAGE", "placeholderItemUuid": slot["item_uuid"]}
    items = {name: [] for name in ("videos", "imageGroups", "dicomSeries", "imageGroupsFromItems", "audio", "timeSeries", "nifti", "text", "pdf", "scenes")}
    items.update(images=[entry], skipDuplicateUrls=False, upsertMetadata=False)
    started = raw.v2("POST", f"{base}/data-upload-jobs", {"dataItems": items, "ignoreErrors": False})
    assert started.status_code == 200
    job = started.json()
    assert isinstance(job, str) and m.DataJob.objects.get(process_hash=job).folder.folder_uuid == folder.uuid
    # a placeholder is used once
    again = raw.v2("POST", f"{base}/data-upload-jobs", {"dataItems": items, "ignoreErrors": False})
    assert again.status_code == 400 and "already registered" in again.json()["message"]
    began = time.monotonic()
    held = raw.v2("GET", f"{base}/data-upload-jobs/{job}?timeoutSeconds=2")
    assert time.monotonic() - began >= 1.9
    assert held.json()["status"] == "PENDING" and held.json()["units_pending_count"] == 1
    assert raw.v2("GET", f"/v2/public/storage/folders/{other.uuid}/data-upload-jobs/{job}?timeoutSeconds=0").status_code == 403
    assert raw.v2("POST", f"{base}/data-upload-jobs/{job}/cancel").json() == {"units_cancelled_count": 1}
    assert raw.v2("POST", f"{base}/data-upload-jobs/{job}/cancel").json() == {"units_cancelled_count": 0}
    state = folder.add_private_data_to_folder_get_result(job, timeout_seconds=0)
    assert (state.status.value, state.units_cancelled_count, state.items_with_names) == ("CANCELLED", 1, [])


def test_flow_a_files_first_then_a_plain_dataset(tmp_path, sdk_client, alice, data_worker):
    client = sdk_client(alice)
    folder = client.create_storage_folder("drives")
    image_uuid = folder.upload_image(make_image(tmp_path / "one.png", 40, 30), client_metadata={"k": 1})
    video_uuid = folder.upload_video(make_video(tmp_path / "clip.mp4", frames=10), title="the clip")
    frames = [str(make_image(tmp_path / f"g{i}.jpg", w, h)) for i, (w, h) in enumerate([(64, 48), (32, 32)])]
    group_uuid = folder.create_image_group(frames, title="walk")
    sequence_uuid = folder.create_image_sequence(frames[:1], title="seq")
    series_uuid = folder.create_dicom_series([str(make_dicom(tmp_path / f"d{n}.dcm", n)) for n in (2, 1)])

    # the placeholders are the items: upload_* returned them, and each lives in the folder
    got = {i.uuid: i for i in folder.list_items()}
    assert set(got) == {image_uuid, video_uuid, group_uuid, sequence_uuid, series_uuid}
    assert (got[image_uuid].name, got[image_uuid].client_metadata) == ("one.png", {"k": 1})
    assert (got[video_uuid].name, got[video_uuid].frame_count) == ("the clip", 10)
    assert got[group_uuid].item_type.value == "imageGroup" and got[sequence_uuid].item_type.value == "imageSequence"
    assert got[series_uuid].item_type.value == "dicomSeries"
    # one group whatever the sizes (the SDK returns one item); its frames keep their placeholders
    group = item(group_uuid)
    assert (group.frame_count, group.width, group.height) == (2, None, None)
    assert [mem.title for mem in group.members.order_by("data_sequence")] == ["g0.jpg", "g1.jpg"]
    assert m.UploadSlot.objects.filter(item_uuid__in=group.members.values("image_hash")).count() == 2
    assert [mem.title for mem in item(series_uuid).members.order_by("data_sequence")] == ["d1.dcm", "d2.dcm"]
    assert not m.DataRow.objects.exists()  # no dataset mirrors this folder

    created = client.create_dataset("plain", StorageLocation.CORD_STORAGE, create_backing_folder=False)
    assert created.backing_folder_uuid is None
    dataset = client.get_dataset(created.dataset_hash)
    rows = dataset.link_items([image_uuid, video_uuid, group_uuid])
    assert [r.backing_item_uuid for r in rows] == [image_uuid, video_uuid, group_uuid]
    assert [r.title for r in rows] == ["one.png", "the clip", "walk"]
    # SKIP (the default) answers the existing rows, FAIL refuses
    assert [r.uid for r in dataset.link_items([image_uuid])] == [rows[0].uid]
    with pytest.raises(EncordException, match="already links"):
        dataset.link_items([image_uuid], duplicates_behavior=DataLinkDuplicatesBehavior.FAIL)
    listed = {r.backing_item_uuid: r for r in dataset.list_data_rows()}
    assert set(listed) == {image_uuid, video_uuid, group_uuid}
    assert (listed[image_uuid].title, listed[group_uuid].data_type) == ("one.png", DataType.IMG_GROUP)
    assert m.DataRow.objects.get(data_hash=listed[image_uuid].uid).client_metadata == {"k": 1}


def test_flow_c_mirror_dataset_and_its_folder_stay_equal(tmp_path, sdk_client, alice, data_worker):
    client = sdk_client(alice)
    created = client.create_dataset("mirror", StorageLocation.CORD_STORAGE)
    dataset = client.get_dataset(created.dataset_hash)
    folder = client.get_storage_folder(dataset.backing_folder_uuid)
    in_folder = folder.upload_image(make_image(tmp_path / "a.png", 20, 10))
    by_dataset = m.DataRow.objects.get(data_hash=dataset.upload_image(make_image(tmp_path / "b.png", 20, 10)).data_hash)
    assert {r.backing_item_uuid for r in dataset.list_data_rows()} == {in_folder, by_dataset.item.item_uuid}
    assert {i.uuid for i in folder.list_items()} == {in_folder, by_dataset.item.item_uuid}
    with pytest.raises(InvalidArgumentsError, match="mirrors its own folder"):
        dataset.upload_image(make_image(tmp_path / "c.png", 20, 10), folder=folder)
    with pytest.raises(EncordException, match="mirrors a folder"):
        dataset.link_items([in_folder])


def test_plain_dataset_upload_with_folder_makes_items_there_and_rows(tmp_path, sdk_client, alice, data_worker):
    client = sdk_client(alice)
    folder = client.create_storage_folder("mine")
    mirror_ds = client.get_dataset(client.create_dataset("m", StorageLocation.CORD_STORAGE).dataset_hash)
    plain = client.get_dataset(
        client.create_dataset("p", StorageLocation.CORD_STORAGE, create_backing_folder=False).dataset_hash
    )
    with pytest.raises(InvalidArgumentsError, match="no backing folder"):
        plain.upload_image(make_image(tmp_path / "x.png", 8, 8))
    image = plain.upload_image(make_image(tmp_path / "x.png", 8, 8), folder=folder)
    row = m.DataRow.objects.get(data_hash=image.data_hash)
    assert row.item.folder.folder_uuid == folder.uuid
    assert [r.uid for r in plain.list_data_rows()] == [image.data_hash]
    # into a mirror's folder: a row in the plain dataset and one in the mirror (§4.2)
    mirror_folder = client.get_storage_folder(mirror_ds.backing_folder_uuid)
    other = plain.upload_image(make_image(tmp_path / "y.png", 8, 8), folder=mirror_folder)
    other_item = m.DataRow.objects.get(data_hash=other.data_hash).item
    assert [r.backing_item_uuid for r in mirror_ds.list_data_rows()] == [other_item.item_uuid]
    bob = UserFactory(email="bob@example.com")
    plain_of_bob = sdk_client(bob).create_dataset("b", StorageLocation.CORD_STORAGE, create_backing_folder=False)
    # bob may not write into alice's folder (v1 AUTHORISATION_ERROR: the SDK drops its message)
    with pytest.raises(AuthorisationError):
        sdk_client(bob).get_dataset(plain_of_bob.dataset_hash).upload_image(
            make_image(tmp_path / "z.png", 8, 8), folder=folder.uuid
        )
    assert not m.DataRow.objects.filter(dataset__dataset_hash=plain_of_bob.dataset_hash).exists()
    assert m.StorageItem.objects.filter(folder__folder_uuid=folder.uuid).count() == 1


def test_unsupported_types_are_refused_naming_the_supported_ones(tmp_path, sdk_client, alice, raw_client):
    folder = sdk_client(alice).create_storage_folder("f")
    audio = tmp_path / "a.mp3"
    audio.write_bytes(b"ID3")
    with pytest.raises(InvalidArgumentsError, match="'audio' is not supported by this server .supported: video, image, dicomFile"):
        folder.upload_audio(audio)
    raw = raw_client(alice, bearer=True)
    items = {name: [] for name in ("videos", "images", "imageGroups", "dicomSeries", "imageGroupsFromItems", "timeSeries", "nifti", "text", "pdf", "scenes")}
    items.update(audio=[{"objectUrl": "s3://b/a.mp3", "externalFileType": "AUDIO"}], skipDuplicateUrls=False, upsertMetadata=False)
    answer = raw.v2("POST", f"/v2/public/storage/folders/{folder.uuid}/data-upload-jobs", {"dataItems": items, "ignoreErrors": False})
    assert answer.status_code == 400 and "dataItems.audio" in answer.json()["message"]


@pytest.fixture
def s3_bucket(moto_s3):
    name = f"up-{uuid.uuid4().hex[:8]}"
    c = moto_s3.client()
    c.create_bucket(Bucket=name)
    c.put_object(Bucket=name, Key="a.jpg", Body=make_jpeg(40, 30), ContentType="image/jpeg")
    c.put_object(Bucket=name, Key="v.mp4", Body=make_mp4(32, 24, frames=5, fps=5), ContentType="video/mp4")
    return name


def test_flow_b_cloud_data_into_a_folder(sdk_client, alice, moto_s3, s3_bucket, data_worker, tmp_path):
    integration = moto_s3.integration(alice)
    client = sdk_client(alice)
    folder = client.create_storage_folder("cloud")
    manifest = tmp_path / "m.json"
    manifest.write_text(
        '{"videos": [{"objectUrl": "s3://%s/v.mp4", "title": "clip"}],'
        ' "images": [{"objectUrl": "s3://%s/a.jpg", "imageMetadata": {"mimeType": "image/jpeg", "fileSize": 9, "width": 40, "height": 30}}]}'
        % (s3_bucket, s3_bucket)
    )
    job = folder.add_private_data_to_folder_start(str(integration.integration_uuid), str(manifest))
    state = folder.add_private_data_to_folder_get_result(job, timeout_seconds=60)
    assert state.status.value == "DONE" and state.file_name == "m.json"
    names = {i.name: i.item_uuid for i in state.items_with_names}
    assert set(names) == {"clip", "a.jpg"}
    assert (item(names["a.jpg"]).file_size, item(names["clip"]).frame_count) == (9, 5)
    # again with skipping: nothing new; DataUploadItems (no placeholders) read the same way
    again = DataUploadItems(images=[DataUploadImage(object_url=f"s3://{s3_bucket}/a.jpg")], skip_duplicate_urls=True)
    state = folder.add_private_data_to_folder_get_result(
        folder.add_private_data_to_folder_start(str(integration.integration_uuid), again), timeout_seconds=60
    )
    assert state.status.value == "DONE" and state.items_with_names == []
    assert m.StorageItem.objects.filter(folder__folder_uuid=folder.uuid).count() == 2
    # ignore_errors: the missing object is a unit error with a UUID subtask, the rest is kept
    doc = {"images": [{"objectUrl": f"s3://{s3_bucket}/missing.jpg"}, {"objectUrl": f"s3://{s3_bucket}/a.jpg", "title": "b"}]}
    state = folder.add_private_data_to_folder_get_result(
        folder.add_private_data_to_folder_start(str(integration.integration_uuid), doc, ignore_errors=True),
        timeout_seconds=60,
    )
    assert state.status.value == "DONE" and [i.name for i in state.items_with_names] == ["b"]
    (error,) = state.unit_errors
    assert isinstance(error.subtask_uuid, uuid.UUID) and error.object_urls == [f"s3://{s3_bucket}/missing.jpg"]
    with pytest.raises(InvalidArgumentsError, match="'audio' data is not supported"):
        folder.add_private_data_to_folder_start(str(integration.integration_uuid), {"audio": [{"objectUrl": "s3://b/a"}]})


def test_list_data_rows_takes_every_sdk_type_and_any_hash(sdk_client, alice):
    client = sdk_client(alice)
    dataset = client.get_dataset(client.create_dataset("d", StorageLocation.CORD_STORAGE).dataset_hash)
    assert dataset.list_data_rows(data_types=[DataType.AUDIO, DataType.NIFTI]) == []
    assert dataset.list_data_rows(data_hashes=["not-a-uuid"]) == []
    assert dataset.list_data_rows(data_types=[DataType.VIDEO, DataType.PDF]) == []


def test_signed_url_count_is_a_whole_number_the_folder_is_checked_first_and_unknown_keys_refused(wire_client, alice):
    # Found by fuzzing the OpenAPI document: JSON 2.0 is an integer to JSON Schema (and to the SDK's
    # pydantic) but was refused; "2", 2.5 and true are not integers.
    folder = storage_folders.create_storage_folder(UserClient(alice).principal, "f")
    raw = wire_client(alice, bearer=True)
    route = f"/v2/public/storage/folders/{folder.uuid}/upload-signed-urls"
    answer = raw.v2("POST", route, {"itemType": "image", "count": 2.0})
    assert answer.status_code == 200 and len(answer.json()["results"]) == 2
    for bad in (2.5, "2", True, None, 0, 1001):
        answer = raw.v2("POST", route, {"itemType": "image", "count": bad})
        assert (answer.status_code, answer.json()["code"]) == (400, "INVALID_ARGUMENTS_ERROR"), bad
    answer = raw.v2("POST", route, {"itemType": "image", "count": 1, "colour": "red"})
    assert answer.status_code == 400 and "colour" in answer.json()["message"]
    assert raw.v2("POST", route, {"itemType": "image", "count": 1, "framesSubfolderName": None}).status_code == 200
    assert raw.v2("POST", route, {"itemType": "image", "count": 1, "framesSubfolderName": {}}).status_code == 400
    elsewhere = f"/v2/public/storage/folders/{uuid.uuid4()}/upload-signed-urls"
    assert raw.v2("POST", elsewhere, {"itemType": "image", "count": 2.5}).status_code == 403


def test_job_start_refuses_unknown_data_items_keys_and_non_boolean_switches(wire_client, alice):
    # Found by fuzzing: a misspelt list ("imagess") or "skipDuplicateUrls": "no" was read as
    # nothing / as true instead of being refused.
    folder = storage_folders.create_storage_folder(UserClient(alice).principal, "f")
    raw = wire_client(alice, bearer=True)
    route = f"/v2/public/storage/folders/{folder.uuid}/data-upload-jobs"
    image = {"objectUrl": "s3://b/a.jpg", "externalFileType": "IMAGE"}
    for data_items, named in (
        ({"imagess": [image]}, "imagess"),
        ({"images": [image], "skipDuplicateUrls": "no"}, "skipDuplicateUrls"),
        ({"images": [image], "upsertMetadata": 1}, "upsertMetadata"),
        ({"images": {"a": image}}, "images"),
    ):
        answer = raw.v2("POST", route, {"dataItems": data_items, "integrationHash": str(uuid.uuid4())})
        assert answer.status_code == 400 and named in answer.json()["message"], (data_items, answer.json())
