"""Folders of the Files API (protocol §1, §5 refusals, §8.1 #1-#14, #34-#38) through the real
`encord==0.1.211` SDK against a live server, checked against the database."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from encord.exceptions import AuthorisationError, InvalidArgumentsError, UnknownException
from encord.http.bundle import Bundle
from encord.orm.storage import CloudSyncedFolderParams, FoldersSortBy, StorageUserRole
from encord.utilities.storage.cloud_data_migration import update_storage_item_cloud_info

from datasets_app import models as m
from tests.factories import DatasetFactory, StorageFolderFactory, StorageItemFactory, UserFactory
from tests.waits import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

FOLDER_KEYS = {
    "uuid", "parent", "name", "description", "client_metadata", "owner", "created_at", "last_edited_at",
    "user_role", "synced_dataset_hash", "path_to_root", "folder_type", "integration_hash", "remote_url",
}


@pytest.fixture
def alice(db):
    return UserFactory(email="alice@example.com")


@pytest.fixture
def bob(db):
    return UserFactory(email="bob@example.com")


def test_create_get_and_every_key_on_the_wire(sdk_client, raw_client, alice):
    client = sdk_client(alice)
    top = client.create_storage_folder("projects", "all of them", {"site": "north", "\u00e9": "\u00fc"})
    sub = top.create_subfolder("night-drives")
    row = m.StorageFolder.objects.get(folder_uuid=sub.uuid)
    assert (row.parent.folder_uuid, row.owner, row.description, row.client_metadata) == (top.uuid, alice, "", None)
    got = client.get_storage_folder(sub.uuid)
    assert (got.name, got.description, got.client_metadata, got.parent_uuid) == ("night-drives", "", None, top.uuid)
    assert [(p.uuid, p.name, p.parent_uuid) for p in got.path_to_root] == [(top.uuid, "projects", None)]
    assert got.parent.client_metadata == {"site": "north", "\u00e9": "\u00fc"}
    assert not got.is_cloud_synced
    answer = raw_client(alice, bearer=True).v2("GET", f"/v2/public/storage/folders/{sub.uuid}")
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == FOLDER_KEYS
    assert (body["user_role"], body["owner"], body["synced_dataset_hash"], body["folder_type"]) == (
        "admin", "alice@example.com", None, "generic"
    )
    assert body["path_to_root"] == [
        {"uuid": str(top.uuid), "parent_uuid": None, "name": "projects", "synced_dataset_hash": None}
    ]


def test_create_refusals_and_missing_folders_keep_their_messages(sdk_client, alice, bob):
    client = sdk_client(alice)
    with pytest.raises(InvalidArgumentsError, match="Cloud-synced folders are not supported by this server yet"):
        client.create_storage_folder(
            "cs", cloud_synced_folder_params=CloudSyncedFolderParams(integration_uuid=uuid.uuid4(), remote_url="s3://b/p/")
        )
    secret = client.create_storage_folder("secret")
    with pytest.raises(AuthorisationError, match=f"Folder {secret.uuid} does not exist or you do not have access"):
        sdk_client(bob).get_storage_folder(secret.uuid)
    with pytest.raises(AuthorisationError, match="does not exist or you do not have access"):
        sdk_client(bob).create_storage_folder("in yours", parent_folder=secret.uuid)
    # Names are labels: siblings may repeat one.
    assert secret.create_subfolder("same").uuid != secret.create_subfolder("same").uuid


def test_list_find_and_subfolders_page_through_every_folder(sdk_client, alice, bob):
    client = sdk_client(alice)
    top = client.create_storage_folder("top")
    for name in ["b", "a", "c", "night one", "night 2"]:
        top.create_subfolder(name)
    shared = StorageFolderFactory(owner=bob, name="shared with alice")
    m.FolderMembership.objects.create(folder=shared, user=alice, role=1)
    StorageFolderFactory(owner=bob, name="bob's own")
    assert [f.name for f in client.list_storage_folders(page_size=1)] == ["shared with alice", "top"]
    assert [f.name for f in client.list_storage_folders(order=FoldersSortBy.CREATED_AT, desc=True)] == [
        "shared with alice", "top"
    ]
    assert sorted(f.name for f in client.find_storage_folders(search="NIGHT", page_size=1)) == ["night 2", "night one"]
    assert [f.name for f in top.list_subfolders(page_size=2)] == ["a", "b", "c", "night 2", "night one"]
    shared_sub = StorageFolderFactory(owner=bob, name="deeper", parent=shared)
    assert [f.uuid for f in client.get_storage_folder(shared.folder_uuid).find_subfolders()] == [
        shared_sub.folder_uuid
    ]
    assert [f.name for f in client.find_storage_folders(dataset_synced=True)] == []


def test_org_access_for_org_admins_only(sdk_client, alice, bob):
    StorageFolderFactory(owner=alice, name="a")
    StorageFolderFactory(owner=bob, name="b")
    admin = UserFactory(is_org_admin=True)
    folders = list(sdk_client(admin).list_storage_folders(org_access=True))
    assert [f.name for f in folders] == ["a", "b"]
    with pytest.raises(AuthorisationError, match="organisation admins"):
        list(sdk_client(alice).list_storage_folders(org_access=True))


def test_summary_update_and_bundled_update(sdk_client, alice):
    client = sdk_client(alice)
    folder = client.create_storage_folder("f", client_metadata={"a": 1})
    folder.create_subfolder("sub")
    item_folder = m.StorageFolder.objects.get(folder_uuid=folder.uuid)
    StorageItemFactory(folder=item_folder, file_size=100)
    StorageItemFactory(folder=item_folder, item_type=m.DataType.IMAGE, file_size=20)
    summary = folder.get_summary()
    assert (summary.files, summary.folders, summary.videos, summary.images, summary.total_size) == (2, 1, 1, 1, 120)
    folder.update(name="renamed", client_metadata={"b": None})
    assert (folder.name, folder.client_metadata, folder.description) == ("renamed", {"b": None}, "")
    item_folder.refresh_from_db()
    assert (item_folder.name, item_folder.client_metadata) == ("renamed", {"b": None})
    other = client.create_storage_folder("other")
    with Bundle() as bundle:
        folder.update(description="d1", bundle=bundle)
        other.update(name="o2", client_metadata={"q": 1}, bundle=bundle)
    assert (folder.description, other.name, other.client_metadata) == ("d1", "o2", {"q": 1})
    assert m.StorageFolder.objects.get(folder_uuid=other.uuid).client_metadata == {"q": 1}


def test_move_into_a_folder_to_top_level_and_not_into_own_subtree(sdk_client, alice, bob):
    client = sdk_client(alice)
    a, b = client.create_storage_folder("a"), client.create_storage_folder("b")
    child = a.create_subfolder("child")
    a.move_to_folder(b)
    assert a.parent_uuid == b.uuid and [p.name for p in a.path_to_root] == ["b"]
    with pytest.raises(InvalidArgumentsError, match="into itself or its own subfolders"):
        b.move_to_folder(child.uuid)
    a.move_to_folder(None)
    assert a.parent_uuid is None and m.StorageFolder.objects.get(folder_uuid=a.uuid).parent is None
    m.FolderMembership.objects.create(folder=m.StorageFolder.objects.get(folder_uuid=a.uuid), user=bob, role=1)
    with pytest.raises(AuthorisationError, match="does not allow"):
        sdk_client(bob).get_storage_folder(child.uuid).move_to_folder(None)


def test_delete_removes_the_tree_and_its_hosted_files(sdk_client, alice, data_worker):
    client = sdk_client(alice)
    top = client.create_storage_folder("top")
    sub = top.create_subfolder("sub")
    sub_row = m.StorageFolder.objects.get(folder_uuid=sub.uuid)
    item = StorageItemFactory(folder=sub_row, storage_key="items/x/cam.mp4", thumbnail_key="thumbnails/x.jpg")
    for key in (item.storage_key, item.thumbnail_key):
        default_storage.save(key, ContentFile(b"bytes"))
    top.delete()
    assert not m.StorageFolder.objects.filter(folder_uuid__in=[top.uuid, sub.uuid]).exists()
    assert not m.StorageItem.objects.filter(pk=item.pk).exists()
    wait_for(lambda: not default_storage.exists("items/x/cam.mp4") and not default_storage.exists("thumbnails/x.jpg"))


def test_delete_refuses_mirror_folders_and_linked_items(sdk_client, alice):
    ds = DatasetFactory(title="Traffic")
    m.StorageFolder.objects.filter(pk=ds.backing_folder_id).update(owner=alice)
    mirror = sdk_client(alice).get_storage_folder(ds.backing_folder.folder_uuid)
    assert mirror._orm_folder.synced_dataset_hash == ds.dataset_hash
    with pytest.raises(InvalidArgumentsError, match="backs dataset Traffic .*delete the dataset"):
        mirror.delete()
    assert m.StorageFolder.objects.filter(pk=ds.backing_folder_id).exists()


def test_groups_cloud_sync_config_tags_and_migration_answers(sdk_client, alice):
    client = sdk_client(alice)
    folder = client.create_storage_folder("f")
    assert list(folder.list_groups()) == []
    group = uuid.uuid4()
    with pytest.raises(InvalidArgumentsError, match=f"Group {group} does not exist"):
        folder.add_group(group, StorageUserRole.USER)
    folder.remove_group([group, uuid.uuid4()])
    with pytest.raises(InvalidArgumentsError, match="not a cloud-synced folder"):
        folder.sync_private_data_with_cloud_synced_folder_start()
    with pytest.raises(InvalidArgumentsError, match="not a cloud-synced folder"):
        folder.sync_private_data_with_cloud_synced_folder_get_result(uuid.uuid4(), timeout_seconds=1)
    assert folder.get_folder_config().metadata_ingestion is None
    with pytest.raises(InvalidArgumentsError, match="Metadata ingestion is not supported"):
        folder.enable_metadata_ingestion()
    assert client.list_organisation_tags() == []
    with pytest.raises(UnknownException, match="not supported"):
        update_storage_item_cloud_info(client, uuid.uuid4(), new_url="s3://bucket/x.jpg")
