"""Rows link storage items (issue 13): backing folders made with datasets, uploads into the backing
folder (a plain dataset refuses them), renames written to the item, and which items and files go
when rows or datasets are deleted (mirror vs plain)."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from dashboard.celery import app
from datasets_app import models as m
from datasets_app.sdk import UserClient, jobs, queue
from datasets_app.sdk.exceptions import InvalidArgumentError
from datasets_app.sdk.units import NO_BACKING_FOLDER
from tests.factories import (
    DataRowFactory,
    DataRowMemberFactory,
    DatasetFactory,
    DatasetMembershipFactory,
    StorageFolderFactory,
    UserFactory,
)
from tests.media.mediagen import make_image

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice():
    return UserFactory(email="alice@example.com")


def _admin_of(dataset, user):
    DatasetMembershipFactory(dataset=dataset, user=user, role=m.DatasetUserRole.ADMIN)
    return UserClient.for_user(user).get_dataset(str(dataset.dataset_hash))


def _stored(key: str) -> str:
    default_storage.save(key, ContentFile(b"x"))
    return key


def _and_queued_deletions(capture, action):
    """action(), committed; then the file deletions it queued run as the worker would run them."""
    from datasets_app.tasks import delete_stored_files_task

    with mock.patch.object(app, "send_task") as send, capture(execute=True):
        result = action()
    for call in send.call_args_list:
        if call.args[0] == queue.DELETE_STORED_FILES:
            delete_stored_files_task(*call.kwargs["args"])
    return result


# ---- create_dataset ------------------------------------------------------------------------------


def test_create_dataset_makes_a_backing_folder_named_after_it_owned_by_the_creator(alice):
    client = UserClient.for_user(alice)
    created = client.create_dataset("Traffic")
    ds = m.Dataset.objects.select_related("backing_folder").get(dataset_hash=created.dataset_hash)
    folder = ds.backing_folder
    assert folder is not None and folder.name == "Traffic" and folder.owner == alice and folder.parent is None
    assert created.backing_folder_uuid == str(folder.folder_uuid)
    [entry] = client.get_datasets()
    assert entry["dataset"].backing_folder_uuid == str(folder.folder_uuid)
    assert client.get_dataset(created.dataset_hash).backing_folder_uuid == str(folder.folder_uuid)


def test_create_dataset_without_a_backing_folder_makes_a_plain_dataset(alice):
    client = UserClient.for_user(alice)
    created = client.create_dataset("Plain", create_backing_folder=False)
    ds = m.Dataset.objects.get(dataset_hash=created.dataset_hash)
    assert ds.backing_folder is None and not m.StorageFolder.objects.exists()
    assert created.backing_folder_uuid is None
    [entry] = client.get_datasets()
    assert entry["dataset"].backing_folder_uuid is None
    assert client.get_dataset(created.dataset_hash).backing_folder_uuid is None


# ---- uploads -------------------------------------------------------------------------------------


def test_an_upload_creates_an_item_in_the_backing_folder_owned_by_the_uploader(
    tmp_path, alice, django_capture_on_commit_callbacks
):
    client = UserClient.for_user(alice)
    ds = client.get_dataset(client.create_dataset("Mirror").dataset_hash)
    with django_capture_on_commit_callbacks(execute=False):
        process_hash = ds.upload_image_start(make_image(tmp_path / "a.jpg"), title="a.jpg")
    jobs.run_data_job(m.DataJob.objects.get(process_hash=process_hash).pk)
    row = m.DataRow.objects.select_related("item").get(dataset=ds.model)
    assert row.item.folder_id == ds.model.backing_folder_id and row.item.owner == alice
    assert row.item.name == "a.jpg" and row.item.item_type == m.DataType.IMAGE
    [result] = ds.get_data_job(process_hash).data_hashes_with_titles
    assert result.backing_item_uuid == str(row.item.item_uuid)


def test_an_image_group_upload_creates_the_members_on_the_item(tmp_path, alice, django_capture_on_commit_callbacks):
    client = UserClient.for_user(alice)
    ds = client.get_dataset(client.create_dataset("Groups").dataset_hash)
    files = [make_image(tmp_path / f"{i}.jpg", color=(i * 60, 0, 0)) for i in range(3)]
    with django_capture_on_commit_callbacks(execute=False):
        process_hash = ds.create_image_group_start(files, title="g")
    jobs.run_data_job(m.DataJob.objects.get(process_hash=process_hash).pk)
    item = m.DataRow.objects.get(dataset=ds.model).item
    assert [mem.data_sequence for mem in item.members.order_by("data_sequence")] == [0, 1, 2]


def test_an_upload_into_a_plain_dataset_is_refused_before_anything_is_stored(tmp_path, alice):
    client = UserClient.for_user(alice)
    ds = client.get_dataset(client.create_dataset("Plain", create_backing_folder=False).dataset_hash)
    with pytest.raises(InvalidArgumentError) as err:
        ds.upload_image_start(make_image(tmp_path / "a.jpg"))
    assert err.value.message == NO_BACKING_FOLDER
    assert not m.DataJob.objects.exists() and not m.UploadSlot.objects.exists()


def test_a_data_job_of_uploaded_files_into_a_plain_dataset_is_refused(alice):
    client = UserClient.for_user(alice)
    ds = client.get_dataset(client.create_dataset("Plain", create_backing_folder=False).dataset_hash)
    with pytest.raises(InvalidArgumentError) as err:
        ds.start_data_job({"images": [{"objectUrl": "uploads/x.jpg"}]})
    assert err.value.message == NO_BACKING_FOLDER
    assert not m.DataJob.objects.exists()


def test_a_private_import_into_a_plain_dataset_is_refused(alice):
    from tests.factories import CloudIntegrationFactory

    client = UserClient.for_user(alice)
    ds = client.get_dataset(client.create_dataset("Plain", create_backing_folder=False).dataset_hash)
    integration = CloudIntegrationFactory(owner=alice)
    files = {"images": [{"objectUrl": "https://example.com/a.jpg"}]}
    with pytest.raises(InvalidArgumentError) as err:
        ds.add_private_data_to_dataset_start(str(integration.integration_uuid), files)
    assert err.value.message == NO_BACKING_FOLDER
    assert not m.DataJob.objects.exists()


# ---- renames and metadata ------------------------------------------------------------------------


def test_a_rename_through_a_row_writes_the_item_and_shows_in_a_second_dataset_linking_it(alice):
    first, second = DatasetFactory(), DatasetFactory(backing_folder=None)
    row = DataRowFactory(dataset=first, title="old.mp4", client_metadata={"a": 1})
    other = DataRowFactory(dataset=second, item=row.item)
    ds = _admin_of(first, alice)

    assert ds.update_data_item(str(row.data_hash), "new.mp4") is True
    updated, _ = ds.update_data_row(str(row.data_hash), client_metadata={"b": 2})
    assert updated == ["client_metadata"]

    item = m.StorageItem.objects.get(pk=row.item_id)
    assert item.name == "new.mp4" and item.client_metadata == {"b": 2}
    seen = _admin_of(second, alice).get_data_row(str(other.data_hash), client_metadata=True)
    assert seen.title == "new.mp4" and seen.client_metadata == {"b": 2}


# ---- deleting rows -------------------------------------------------------------------------------


def test_deleting_rows_of_a_mirror_deletes_their_items_members_and_files(alice, django_capture_on_commit_callbacks):
    dataset = DatasetFactory()
    row = DataRowFactory(dataset=dataset, storage_key=_stored("items/a.mp4"), thumbnail_key=_stored("thumbs/a.jpg"))
    DataRowMemberFactory(data_row=row, data_sequence=0, storage_key=_stored("items/m0.png"))
    ds = _admin_of(dataset, alice)
    assert _and_queued_deletions(django_capture_on_commit_callbacks, lambda: ds.delete_data([str(row.data_hash)])) == 1
    assert not m.StorageItem.objects.filter(pk=row.item_id).exists()
    assert not m.DataRowMember.objects.exists()
    assert not any(default_storage.exists(k) for k in ("items/a.mp4", "thumbs/a.jpg", "items/m0.png"))


def test_deleting_rows_of_a_mirror_keeps_an_item_another_dataset_links(alice, django_capture_on_commit_callbacks):
    mirror, plain = DatasetFactory(), DatasetFactory(backing_folder=None)
    row = DataRowFactory(dataset=mirror, storage_key=_stored("items/shared.mp4"))
    DataRowFactory(dataset=plain, item=row.item)
    assert _and_queued_deletions(django_capture_on_commit_callbacks, lambda: _admin_of(mirror, alice).delete_data([str(row.data_hash)])) == 1
    assert m.StorageItem.objects.filter(pk=row.item_id).exists()
    assert default_storage.exists("items/shared.mp4")
    assert m.DataRow.objects.filter(dataset=plain).count() == 1


def test_deleting_rows_of_a_mirror_keeps_files_another_item_still_names(alice, django_capture_on_commit_callbacks):
    """The same rule as deleting items and folders (sdk/hosted_files.py): a file goes only when no
    other item or member names it."""
    dataset, elsewhere = DatasetFactory(), DatasetFactory()
    row = DataRowFactory(dataset=dataset, storage_key=_stored("items/own.mp4"), thumbnail_key=_stored("thumbs/shared.jpg"))
    DataRowFactory(dataset=elsewhere, storage_key="items/other.mp4", thumbnail_key="thumbs/shared.jpg")
    assert _and_queued_deletions(django_capture_on_commit_callbacks, lambda: _admin_of(dataset, alice).delete_data([str(row.data_hash)])) == 1
    assert not default_storage.exists("items/own.mp4")
    assert default_storage.exists("thumbs/shared.jpg")


def test_deleting_rows_of_a_plain_dataset_deletes_only_the_links(alice, django_capture_on_commit_callbacks):
    plain = DatasetFactory(backing_folder=None)
    row = DataRowFactory(dataset=plain, storage_key=_stored("items/kept.mp4"))
    assert _and_queued_deletions(django_capture_on_commit_callbacks, lambda: _admin_of(plain, alice).delete_data([str(row.data_hash)])) == 1
    assert not m.DataRow.objects.exists()
    assert m.StorageItem.objects.filter(pk=row.item_id).exists()
    assert default_storage.exists("items/kept.mp4")


# ---- deleting datasets ---------------------------------------------------------------------------


def test_deleting_a_mirror_dataset_deletes_its_items_files_and_empty_folder(alice, django_capture_on_commit_callbacks):
    dataset = DatasetFactory()
    folder_id = dataset.backing_folder_id
    DataRowFactory(dataset=dataset, storage_key=_stored("items/one.mp4"))
    _and_queued_deletions(django_capture_on_commit_callbacks, lambda: _admin_of(dataset, alice).delete())
    assert not m.Dataset.objects.exists() and not m.StorageItem.objects.exists()
    assert not m.StorageFolder.objects.filter(pk=folder_id).exists()
    assert not default_storage.exists("items/one.mp4")


def test_deleting_a_mirror_dataset_keeps_an_item_another_dataset_links_and_its_folder(
    alice, django_capture_on_commit_callbacks
):
    mirror, plain = DatasetFactory(), DatasetFactory(backing_folder=None)
    folder_id = mirror.backing_folder_id
    shared = DataRowFactory(dataset=mirror, storage_key=_stored("items/shared.mp4"))
    gone = DataRowFactory(dataset=mirror, storage_key=_stored("items/gone.mp4"))
    DataRowFactory(dataset=plain, item=shared.item)
    _and_queued_deletions(django_capture_on_commit_callbacks, lambda: _admin_of(mirror, alice).delete())
    assert list(m.StorageItem.objects.values_list("pk", flat=True)) == [shared.item_id]
    assert not m.StorageItem.objects.filter(pk=gone.item_id).exists()
    folder = m.StorageFolder.objects.get(pk=folder_id)  # kept, as an ordinary folder
    assert not hasattr(folder, "mirrored_dataset") or folder.mirrored_dataset is None
    assert default_storage.exists("items/shared.mp4") and not default_storage.exists("items/gone.mp4")
    assert _admin_of(plain, alice).list_data_rows()[0].backing_item_uuid == str(shared.item.item_uuid)


def test_deleting_a_mirror_dataset_keeps_a_folder_that_has_subfolders(alice, django_capture_on_commit_callbacks):
    dataset = DatasetFactory()
    StorageFolderFactory(parent=dataset.backing_folder)
    _and_queued_deletions(django_capture_on_commit_callbacks, lambda: _admin_of(dataset, alice).delete())
    assert m.StorageFolder.objects.filter(pk=dataset.backing_folder_id).exists()


def test_deleting_a_plain_dataset_keeps_the_items_it_linked(alice, django_capture_on_commit_callbacks):
    plain = DatasetFactory(backing_folder=None)
    row = DataRowFactory(dataset=plain, storage_key=_stored("items/linked.mp4"))
    _and_queued_deletions(django_capture_on_commit_callbacks, lambda: _admin_of(plain, alice).delete())
    assert m.StorageItem.objects.filter(pk=row.item_id).exists()
    assert default_storage.exists("items/linked.mp4")
