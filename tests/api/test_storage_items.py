"""Files API items (storage protocol §2, §7) through the real `encord==0.1.211` SDK against a live
server, checked against the database; a few raw requests for what the SDK hides (every key of a
StorageItem, status codes)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
import warnings

import pytest
import requests
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from encord.exceptions import AuthorisationError, InvalidArgumentsError
from encord.http.bundle import Bundle
from encord.orm import storage as orm_storage
from encord.orm.dataset import DatasetAccessSettings
from encord.orm.storage import FoldersSortBy, StorageItemType
from encord.storage import StorageFolder

from datasets_app import models as m
from tests.factories import (
    DataRowFactory,
    DataRowMemberFactory,
    DatasetFactory,
    DatasetMembershipFactory,
    StorageFolderFactory,
    StorageItemFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)

# Every key of a StorageItem (protocol §0.9), required or optional, that this server sends.
ITEM_KEYS = {
    "uuid", "parent", "item_type", "name", "description", "client_metadata", "owner", "created_at",
    "last_edited_at", "is_tombstone", "is_placeholder", "backed_data_units_count", "storage_location",
    "integration_hash", "url", "signed_url", "file_size", "mime_type", "duration", "fps", "height", "width",
    "dicom_instance_uid", "dicom_study_uid", "dicom_series_uid", "frame_count", "audio_sample_rate",
    "audio_bit_depth", "audio_codec", "audio_num_channels",
}


def sdk_folder(client, folder: m.StorageFolder) -> StorageFolder:
    """The SDK's folder object for `folder`, made locally (the folder routes are another module's)."""
    now = dt.datetime.now(dt.UTC)
    orm = orm_storage.StorageFolder(
        uuid=folder.folder_uuid, parent=None, name=folder.name, description="", client_metadata=None,
        owner="", created_at=now, last_edited_at=now, user_role="admin", synced_dataset_hash=None, path_to_root=[],
    )
    return StorageFolder(client._api_client, orm)


@pytest.fixture
def owner():
    return UserFactory(email="owner@example.com")


@pytest.fixture
def folder(owner):
    return StorageFolderFactory(owner=owner, name="cars")


def stored(folder, name="drive.mp4", data=b"\x00video", **fields) -> m.StorageItem:
    item = StorageItemFactory(folder=folder, name=name, owner=folder.owner, **fields)
    assert default_storage.save(item.storage_key, ContentFile(data)) == item.storage_key
    return item


def test_get_storage_item_sends_every_key_and_a_signed_url_that_downloads(sdk_client, wire_client, owner, folder):
    item = stored(folder, client_metadata={"weather": "rain"})
    DataRowFactory(dataset=DatasetFactory(backing_folder=None), item=item)
    client = sdk_client(owner)

    got = client.get_storage_item(item.item_uuid)

    assert (got.uuid, got.parent_folder_uuid, got.item_type, got.name) == (
        item.item_uuid, folder.folder_uuid, StorageItemType.VIDEO, "drive.mp4",
    )
    assert got.client_metadata == {"weather": "rain"} and got.backed_data_units_count == 1
    assert (got.storage_location.value, got.url, got._orm_item.owner) == ("encord", item.storage_key, "owner@example.com")
    assert requests.get(got.get_signed_url(), timeout=10).content == b"\x00video"

    raw = wire_client(owner, bearer=True).v2("GET", f"/v2/public/storage/items/{item.item_uuid}?signUrl=False")
    assert raw.status_code == 200
    body = raw.json()
    assert set(body) == ITEM_KEYS and body["signed_url"] is None and body["description"] == ""
    assert json.loads(body["client_metadata"]) == {"weather": "rain"}
    bare = StorageItemFactory(folder=folder, client_metadata={})
    bare_body = wire_client(owner, bearer=True).v2("GET", f"/v2/public/storage/items/{bare.item_uuid}?signUrl=True").json()
    assert bare_body["client_metadata"] == "{}" and bare_body["signed_url"]


def test_missing_or_invisible_items_are_403_with_the_message(sdk_client, wire_client, folder):
    item = StorageItemFactory(folder=folder)
    stranger = UserFactory()
    with pytest.raises(AuthorisationError, match="does not exist or you do not have access to it"):
        sdk_client(stranger).get_storage_item(item.item_uuid)
    raw = wire_client(stranger, bearer=True).v2("GET", f"/v2/public/storage/items/{uuid.uuid4()}?signUrl=False")
    assert raw.status_code == 403 and "does not exist" in raw.json()["message"]


def test_get_storage_items_in_request_order_and_all_or_nothing(sdk_client, owner, folder):
    made = [StorageItemFactory(folder=folder, name=f"{i}.mp4") for i in range(3)]
    client = sdk_client(owner)
    got = client.get_storage_items([str(made[2].item_uuid), made[0].item_uuid], sign_url=True)
    assert [i.uuid for i in got] == [made[2].item_uuid, made[0].item_uuid]
    missing = uuid.uuid4()
    with pytest.raises(AuthorisationError, match=str(missing)):
        client.get_storage_items([made[1].item_uuid, missing])


def test_list_items_and_find_items_filter_order_and_page(sdk_client, owner, folder):
    for i in range(5):
        StorageItemFactory(folder=folder, name=f"clip-{i}.mp4")
    photo = StorageItemFactory(folder=folder, name="photo.jpg", item_type=m.DataType.IMAGE)
    DataRowFactory(dataset=DatasetFactory(backing_folder=None), item=photo)
    deeper = StorageItemFactory(folder=StorageFolderFactory(parent=folder, owner=owner), name="clip-deep.mp4")
    group = StorageItemFactory(folder=folder, name="frames", item_type=m.DataType.IMG_GROUP, storage_key="")
    DataRowMemberFactory(item=group, data_row=None, data_sequence=0, title="frame-0.jpg")
    sdk = sdk_folder(sdk_client(owner), folder)

    listed = [i.name for i in sdk.list_items(page_size=2)]
    assert listed == ["clip-0.mp4", "clip-1.mp4", "clip-2.mp4", "clip-3.mp4", "clip-4.mp4", "frames", "photo.jpg"]
    assert [i.name for i in sdk.list_items(desc=True, page_size=3)] == listed[::-1]
    assert [i.name for i in sdk.list_items(order=FoldersSortBy.CREATED_AT)] == listed[:5] + ["photo.jpg", "frames"]
    assert [i.name for i in sdk.list_items(search="CLIP-3")] == ["clip-3.mp4"]
    assert [i.name for i in sdk.list_items(item_types=[StorageItemType.IMAGE, StorageItemType.IMAGE_GROUP])] == [
        "frames", "photo.jpg",
    ]
    assert [i.name for i in sdk.list_items(is_in_dataset=True)] == ["photo.jpg"]
    assert [i.name for i in sdk.find_items(search="clip-d")] == ["clip-deep.mp4"]
    assert all(i.client_metadata == {} for i in sdk.list_items(include_client_metadata=False))
    assert [i.name for i in sdk.list_items(resolve_client_metadata_locally=True)] == listed
    signed = list(sdk.list_items(search="clip-0", get_signed_urls=True))[0]
    assert signed._orm_item.signed_url
    assert deeper.item_uuid not in {i.uuid for i in sdk.list_items()}


def test_find_storage_items_searches_visible_folders(sdk_client, owner, folder):
    StorageItemFactory(folder=folder, name="road 1")
    StorageItemFactory(folder=StorageFolderFactory(parent=folder), name="road 2")
    StorageItemFactory(name="road 3 elsewhere")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        found = sdk_client(owner).find_storage_items(search="road", page_size=1)
        assert [i.name for i in found] == ["road 1", "road 2"]
        with pytest.raises(AuthorisationError):
            list(sdk_client(owner).find_storage_items(search="road", org_access=True))


def test_summary_and_child_items(sdk_client, owner, folder):
    dataset = DatasetFactory(backing_folder=None, title="Night drives")
    DatasetMembershipFactory(dataset=dataset, user=owner)
    series = StorageItemFactory(folder=folder, item_type=m.DataType.DICOM, storage_key="", name="ct")
    row = DataRowFactory(dataset=dataset, item=series)
    DataRowFactory(dataset=DatasetFactory(backing_folder=None), item=series)
    for seq in (1, 0):
        default_storage.save(f"dicom/{seq}.dcm", ContentFile(b"dcm"))
        DataRowMemberFactory(item=series, data_row=None, data_sequence=seq, title=f"{seq}.dcm", storage_key=f"dicom/{seq}.dcm")
    item = sdk_client(owner).get_storage_item(series.item_uuid)

    summary = item.get_summary()
    assert summary.used_in_datasets == 2 and summary.frame_in_groups == 0
    [use] = summary.accessible_datasets
    assert (use.title, use.data_hashes) == ("Night drives", [row.data_hash])

    children = list(item.get_child_items(get_signed_urls=True))
    assert [(c.name, c.item_type, c.parent_folder_uuid) for c in children] == [
        ("0.dcm", StorageItemType.DICOM_FILE, folder.folder_uuid), ("1.dcm", StorageItemType.DICOM_FILE, folder.folder_uuid),
    ]
    assert requests.get(children[0].get_signed_url(), timeout=10).content == b"dcm"


def test_item_update_shows_in_every_dataset_that_links_it(sdk_client, owner, folder):
    item = StorageItemFactory(folder=folder, name="old.mp4", client_metadata={"a": 1})
    datasets = [DatasetFactory(backing_folder=None) for _ in range(2)]
    for ds in datasets:
        DatasetMembershipFactory(dataset=ds, user=owner)
        DataRowFactory(dataset=ds, item=item)
    client = sdk_client(owner)
    got = client.get_storage_item(item.item_uuid)

    got.update(name="new.mp4", description="ignored", client_metadata={"b": 2})

    assert (got.name, got.client_metadata, got.description) == ("new.mp4", {"b": 2}, "")
    for ds in datasets:
        sdk_ds = client.get_dataset(str(ds.dataset_hash), DatasetAccessSettings(fetch_client_metadata=True))
        [row] = sdk_ds.list_data_rows()
        assert row.title == "new.mp4" and row.backing_item_uuid == item.item_uuid
        assert dict(sdk_ds.data_rows[0].client_metadata) == {"b": 2}
    with pytest.raises(InvalidArgumentsError, match="time-series"):
        got.update(timeseries_settings=None)


def test_bundled_updates_go_in_one_patch_bulk(sdk_client, owner, folder):
    made = [StorageItemFactory(folder=folder, name=f"{i}.mp4") for i in range(3)]
    client = sdk_client(owner)
    got = client.get_storage_items([i.item_uuid for i in made])
    with Bundle() as bundle:
        for n, item in enumerate(got):
            item.update(name=f"renamed-{n}.mp4", client_metadata={"n": n}, bundle=bundle)
    assert [(i.name, i.client_metadata) for i in got] == [(f"renamed-{n}.mp4", {"n": n}) for n in range(3)]
    stored_now = m.StorageItem.objects.filter(folder=folder).order_by("name")
    assert [(i.name, i.client_metadata) for i in stored_now] == [(f"renamed-{n}.mp4", {"n": n}) for n in range(3)]


def test_delete_items_and_the_mirror_rule(sdk_client, owner):
    dataset = DatasetFactory(backing_folder=StorageFolderFactory(owner=owner))
    mirror_row = DataRowFactory(dataset=dataset)
    used_elsewhere = StorageItemFactory(folder=dataset.backing_folder)
    other = DatasetFactory(backing_folder=None)
    DataRowFactory(dataset=other, item=used_elsewhere)
    client = sdk_client(owner)
    folder = sdk_folder(client, dataset.backing_folder)

    with pytest.raises(InvalidArgumentsError, match="1 dataset you cannot open"):
        folder.delete_storage_items([used_elsewhere.item_uuid])
    client.get_storage_item(mirror_row.item.item_uuid).delete()
    assert not m.DataRow.objects.filter(pk=mirror_row.pk).exists()
    assert not m.StorageItem.objects.filter(pk=mirror_row.item_id).exists()
    folder.delete_storage_items([mirror_row.item.item_uuid])  # a retry of a done delete succeeds


def test_move_items_and_mirror_datasets(sdk_client, owner):
    source = DatasetFactory(backing_folder=StorageFolderFactory(owner=owner))
    target = DatasetFactory(backing_folder=StorageFolderFactory(owner=owner))
    row = DataRowFactory(dataset=source)
    plain = StorageFolderFactory(owner=owner)
    client = sdk_client(owner)
    item = client.get_storage_item(row.item.item_uuid)

    with pytest.raises(InvalidArgumentsError, match="allow_mirror_dataset_changes"):
        item.move_to_folder(target.backing_folder.folder_uuid)
    item.move_to_folder(target.backing_folder.folder_uuid, allow_mirror_dataset_changes=True)
    assert item.parent_folder_uuid == target.backing_folder.folder_uuid  # refetched after the move
    assert not m.DataRow.objects.filter(dataset=source).exists()
    assert m.DataRow.objects.filter(dataset=target, item=row.item).count() == 1

    loose = StorageItemFactory(folder=plain)
    sdk_folder(client, plain).move_items_to_folder(source.backing_folder.folder_uuid, [loose.item_uuid], True)
    assert m.DataRow.objects.filter(dataset=source, item=loose).count() == 1


def test_data_groups_are_400(sdk_client, owner, folder):
    # (storage re-encoding is served: tests/api/test_storage_reencode.py)
    client = sdk_client(owner)
    sdk = sdk_folder(client, folder)
    item = StorageItemFactory(folder=folder)
    with pytest.raises(InvalidArgumentsError, match="Data groups are not supported"):
        sdk.create_data_group([item.item_uuid])
