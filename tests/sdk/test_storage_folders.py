"""Folders of the Files tree through the SDK layer (sdk/storage_folders.py): create, get, list and
search, summary, update, move, delete and share, with who may do each (folder_access/policy)."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from datasets_app import models as m
from datasets_app.sdk import folder_settings
from datasets_app.sdk import storage_folders as sf
from datasets_app.sdk import storage_item_changes as changes
from datasets_app.sdk.exceptions import AuthorisationError, InvalidArgumentError
from datasets_app.sdk.folder_access import MAX_FOLDER_DEPTH
from datasets_app.sdk.folder_tree import Listing
from datasets_app.sdk.policy import Principal
from tests.factories import (
    DataRowFactory,
    DatasetFactory,
    DatasetMembershipFactory,
    StorageFolderFactory,
    StorageItemFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def who(user) -> Principal:
    return Principal(user=user)


@pytest.fixture
def alice():
    return UserFactory(email="alice@example.com")


@pytest.fixture
def bob():
    return UserFactory(email="bob@example.com")


def share(folder, user, role=1):
    m.FolderMembership.objects.create(folder=folder, user=user, role=role)


def names(page) -> list[str]:
    return [f.name for f in page.results]


# ---- create -------------------------------------------------------------------------------------


def test_create_top_level_folder_makes_caller_its_admin_owner(alice):
    made = sf.create_storage_folder(who(alice), "projects", client_metadata='{"site": "north", "n": 1}')
    row = m.StorageFolder.objects.get(folder_uuid=made.uuid)
    assert (row.owner, row.parent, row.description, row.client_metadata) == (
        alice, None, "", {"site": "north", "n": 1}
    )
    assert (made.user_role, made.owner, made.parent_uuid, made.path_to_root) == ("admin", alice.email, None, ())
    assert made.client_metadata == {"site": "north", "n": 1} and made.synced_dataset_hash is None


def test_create_without_metadata_stores_none(alice):
    made = sf.create_storage_folder(who(alice), "plain", description="d")
    assert made.client_metadata is None and made.description == "d"


@pytest.mark.parametrize("bad", ["[1, 2]", "not json", "7", '"text"', '{"a": "\\u0000"}', '{"\\ud800": 1}'])
def test_create_refuses_metadata_that_is_not_a_json_object(alice, bad):
    with pytest.raises(InvalidArgumentError, match="client_metadata"):
        sf.create_storage_folder(who(alice), "x", client_metadata=bad)
    assert not m.StorageFolder.objects.exists()


@pytest.mark.parametrize("bad", ["", "   ", None, 5, "a\x01b", "n" * 1025])
def test_create_refuses_bad_names(alice, bad):
    with pytest.raises(InvalidArgumentError):
        sf.create_storage_folder(who(alice), bad)


def test_sibling_folders_may_share_a_name(alice):
    # The server's choice (protocol §1.1): names are labels, the UUID is the identity, as with
    # dataset titles (mirror folders carry their dataset's title, and titles repeat).
    parent = sf.create_storage_folder(who(alice), "p")
    a = sf.create_storage_folder(who(alice), "same", parent_folder=parent.uuid)
    b = sf.create_storage_folder(who(alice), "same", parent_folder=parent.uuid)
    assert a.uuid != b.uuid
    assert m.StorageFolder.objects.filter(parent__folder_uuid=parent.uuid, name="same").count() == 2


def test_subfolder_needs_write_files_on_parent(alice, bob):
    parent = StorageFolderFactory(owner=alice)
    with pytest.raises(AuthorisationError, match="does not exist or you do not have access"):
        sf.create_storage_folder(who(bob), "sub", parent_folder=parent.folder_uuid)
    share(parent, bob, role=1)
    sub = sf.create_storage_folder(who(bob), "sub", parent_folder=parent.folder_uuid)
    assert sub.parent_uuid == parent.folder_uuid and sub.user_role == "admin"
    assert m.StorageFolder.objects.get(folder_uuid=sub.uuid).owner == bob


def test_missing_parent_reads_as_forbidden(alice):
    missing = uuid.uuid4()
    with pytest.raises(AuthorisationError, match=f"Folder {missing} does not exist or you do not have access"):
        sf.create_storage_folder(who(alice), "sub", parent_folder=missing)


def test_inactive_account_cannot_create_top_level_folders():
    ghost = UserFactory(is_active=False)
    with pytest.raises(AuthorisationError):
        sf.create_storage_folder(who(ghost), "x")


def test_create_refuses_cloud_synced_folders(alice):
    with pytest.raises(InvalidArgumentError, match="Cloud-synced folders are not supported by this server yet"):
        sf.create_storage_folder(
            who(alice), "cs", cloud_synced_folder_params={"integrationUuid": str(uuid.uuid4()), "remoteUrl": "s3://b/"}
        )


def test_create_refuses_a_tree_deeper_than_the_limit(alice):
    parent = None
    for i in range(MAX_FOLDER_DEPTH):
        parent = StorageFolderFactory(owner=alice, parent=parent, name=f"l{i}")
    with pytest.raises(InvalidArgumentError, match="deeper"):
        sf.create_storage_folder(who(alice), "too deep", parent_folder=parent.folder_uuid)


# ---- get ----------------------------------------------------------------------------------------


def test_get_gives_path_to_root_nearest_first_and_mirror_hash(alice):
    ds = DatasetFactory(title="mirror")
    top = StorageFolderFactory(owner=alice, name="top")
    mid = StorageFolderFactory(owner=alice, name="mid", parent=top)
    leaf = StorageFolderFactory(owner=alice, name="leaf", parent=mid)
    got = sf.get_storage_folder(who(alice), leaf.folder_uuid)
    assert [p.name for p in got.path_to_root] == ["mid", "top"]
    assert got.path_to_root[0].parent_uuid == top.folder_uuid and got.path_to_root[1].parent_uuid is None
    mirror = sf.get_storage_folder(who(UserFactory(is_org_admin=True)), ds.backing_folder.folder_uuid)
    assert mirror.synced_dataset_hash == ds.dataset_hash and mirror.user_role == "admin"


def test_path_to_root_stops_at_folders_the_caller_cannot_open(alice, bob):
    top = StorageFolderFactory(owner=alice, name="secret top")
    mid = StorageFolderFactory(owner=alice, name="shared", parent=top)
    leaf = StorageFolderFactory(owner=alice, name="leaf", parent=mid)
    share(mid, bob)
    got = sf.get_storage_folder(who(bob), leaf.folder_uuid)
    assert [p.name for p in got.path_to_root] == ["shared"] and got.user_role == "user"
    assert sf.get_storage_folder(who(bob), mid.folder_uuid).parent_uuid == top.folder_uuid


def test_member_of_mirrored_dataset_reaches_its_folder_with_the_dataset_role(bob):
    ds = DatasetFactory()
    DatasetMembershipFactory(dataset=ds, user=bob, role=m.DatasetUserRole.ADMIN)
    assert sf.get_storage_folder(who(bob), ds.backing_folder.folder_uuid).user_role == "admin"


def test_get_refuses_strangers_as_if_missing(alice, bob):
    folder = StorageFolderFactory(owner=alice)
    with pytest.raises(AuthorisationError) as err:
        sf.get_storage_folder(who(bob), folder.folder_uuid)
    assert str(err.value) == f"Folder {folder.folder_uuid} does not exist or you do not have access to it"


# ---- list and search ----------------------------------------------------------------------------


def test_list_gives_callers_top_level_folders_and_shared_subfolders(alice, bob):
    mine = StorageFolderFactory(owner=bob, name="b-own")
    StorageFolderFactory(owner=bob, name="b-child", parent=mine)
    alices = StorageFolderFactory(owner=alice, name="a-top")
    shared = StorageFolderFactory(owner=alice, name="a-shared", parent=alices)
    StorageFolderFactory(owner=alice, name="a-other")
    share(shared, bob)
    assert names(sf.list_storage_folders(who(bob))) == ["a-shared", "b-own"]


def test_org_access_lists_every_top_level_folder_for_org_admins_only(alice, bob):
    StorageFolderFactory(owner=alice, name="a")
    StorageFolderFactory(owner=bob, name="b")
    admin = UserFactory(is_org_admin=True)
    assert names(sf.list_storage_folders(who(admin))) == []
    page = sf.list_storage_folders(who(admin), org_access=True)
    assert names(page) == ["a", "b"] and {f.user_role for f in page.results} == {"admin"}
    with pytest.raises(AuthorisationError, match="organisation admin"):
        sf.list_storage_folders(who(bob), org_access=True)


def test_find_searches_every_reachable_folder_case_insensitively_and_literally(alice, bob):
    top = StorageFolderFactory(owner=alice, name="Night Drives")
    StorageFolderFactory(owner=alice, name="night 100%", parent=top)
    StorageFolderFactory(owner=alice, name="nightly", parent=top)
    StorageFolderFactory(owner=bob, name="night of bob")
    assert sorted(names(sf.find_storage_folders(who(alice), search="NIGHT"))) == ["Night Drives", "night 100%", "nightly"]
    assert names(sf.find_storage_folders(who(alice), search="0%")) == ["night 100%"]
    assert names(sf.find_storage_folders(who(alice), search="_")) == []


def test_dataset_synced_filter(alice):
    ds = DatasetFactory(title="mirror one")
    DatasetMembershipFactory(dataset=ds, user=alice, role=m.DatasetUserRole.ADMIN)
    StorageFolderFactory(owner=alice, name="plain one")
    assert names(sf.find_storage_folders(who(alice), dataset_synced=True)) == ["mirror one"]
    assert names(sf.find_storage_folders(who(alice), dataset_synced=False)) == ["plain one"]


def test_subfolders_direct_or_recursive(alice, bob):
    top = StorageFolderFactory(owner=alice, name="top")
    a = StorageFolderFactory(owner=alice, name="a", parent=top)
    StorageFolderFactory(owner=alice, name="a1", parent=a)
    StorageFolderFactory(owner=alice, name="b", parent=top)
    assert names(sf.list_subfolders(who(alice), top.folder_uuid)) == ["a", "b"]
    assert names(sf.list_subfolders(who(alice), top.folder_uuid, recursive=True)) == ["a", "a1", "b"]
    assert names(sf.list_subfolders(who(alice), top.folder_uuid, recursive=True, search="1")) == ["a1"]
    with pytest.raises(AuthorisationError):
        sf.list_subfolders(who(bob), top.folder_uuid)


@pytest.mark.parametrize("order,desc", [("name", False), ("name", True), ("createdAt", False), ("createdAt", True)])
def test_pages_cover_every_folder_once_in_order(alice, order, desc):
    top = StorageFolderFactory(owner=alice)
    for n in ["e", "b", "d", "a", "c", "b"]:
        StorageFolderFactory(owner=alice, parent=top, name=n)
    seen, token = [], None
    for _ in range(10):
        page = sf.list_subfolders(
            who(alice), top.folder_uuid, listing=Listing(order=order, desc=desc, page_size=2, page_token=token)
        )
        assert len(page.results) <= 2
        seen += page.results
        token = page.next_page_token
        if token is None:
            break
    assert len(seen) == 6 and len({f.uuid for f in seen}) == 6
    keys = [(f.name if order == "name" else f.created_at) for f in seen]
    assert keys == sorted(keys, reverse=desc)


def test_listing_refuses_foreign_tokens_and_bad_arguments(alice):
    top = StorageFolderFactory(owner=alice)
    with pytest.raises(InvalidArgumentError, match="pageToken"):
        sf.list_subfolders(who(alice), top.folder_uuid, listing=Listing(page_token="garbage!"))
    forged = base64.urlsafe_b64encode(json.dumps({"o": "name", "d": False, "v": "a", "i": 2**70}).encode()).decode()
    with pytest.raises(InvalidArgumentError, match="pageToken"):
        sf.list_subfolders(who(alice), top.folder_uuid, listing=Listing(page_token=forged))
    with pytest.raises(InvalidArgumentError, match="order"):
        Listing(order="size")
    with pytest.raises(InvalidArgumentError, match="pageSize"):
        Listing(page_size=1001)


@pytest.mark.parametrize("count", [3, 30])
def test_listing_costs_the_same_queries_for_3_and_30_folders(alice, bob, count, django_assert_num_queries):
    top = StorageFolderFactory(owner=alice, name="top")
    mid = StorageFolderFactory(owner=alice, name="mid", parent=top)
    share(mid, bob)
    DatasetFactory(backing_folder=StorageFolderFactory(owner=alice, parent=mid, name="mirror"))
    for i in range(count):
        StorageFolderFactory(owner=alice, parent=mid, name=f"f{i:03d}")
    # 4 to open the folder (require_folder walks its 2 levels), 1 page, 3 to describe it
    with django_assert_num_queries(8):
        page = sf.list_subfolders(who(bob), mid.folder_uuid, listing=Listing(page_size=1000))
    assert len(page.results) == count + 1
    assert all([p.name for p in f.path_to_root] == ["mid"] for f in page.results)


# ---- summary ------------------------------------------------------------------------------------


def test_summary_counts_direct_children_by_type(alice):
    top = StorageFolderFactory(owner=alice)
    StorageFolderFactory(owner=alice, parent=top)
    deeper = StorageFolderFactory(owner=alice, parent=StorageFolderFactory(owner=alice, parent=top))
    StorageItemFactory(folder=deeper)
    StorageItemFactory(folder=top, file_size=100)
    StorageItemFactory(folder=top, item_type=m.DataType.IMAGE, file_size=10)
    group = StorageItemFactory(folder=top, item_type=m.DataType.IMG_GROUP, file_size=None, is_optimised_image_group=False)
    for i in range(2):
        m.DataRowMember.objects.create(item=group, data_sequence=i, title=f"{i}.jpg", file_size=5)
    StorageItemFactory(folder=top, item_type=m.DataType.IMG_GROUP, file_size=7, is_optimised_image_group=True)
    StorageItemFactory(folder=top, item_type=m.DataType.DICOM, file_size=3)
    s = sf.get_folder_summary(who(alice), top.folder_uuid)
    assert (s.files, s.folders, s.videos, s.images, s.image_groups, s.image_sequences, s.dicom_series) == (
        5, 2, 1, 1, 1, 1, 1
    )
    assert (s.dicom_files, s.upload_jobs, s.total_size) == (0, 0, 130)


# ---- update -------------------------------------------------------------------------------------


def test_update_replaces_metadata_and_keeps_what_is_not_given(alice, bob):
    folder = StorageFolderFactory(owner=alice, name="old", description="keep", client_metadata={"a": 1})
    share(folder, bob, role=1)
    got = sf.update_storage_folder(who(bob), folder.folder_uuid, name="new", client_metadata={"b": None})
    folder.refresh_from_db()
    assert (folder.name, folder.description, folder.client_metadata) == ("new", "keep", {"b": None})
    assert got.name == "new" and got.client_metadata == {"b": None}
    with pytest.raises(InvalidArgumentError, match="client_metadata"):
        sf.update_storage_folder(who(alice), folder.folder_uuid, client_metadata=[1])
    with pytest.raises(AuthorisationError):
        sf.update_storage_folder(who(UserFactory()), folder.folder_uuid, name="x")


def test_bulk_update_is_all_or_nothing(alice, bob):
    a = StorageFolderFactory(owner=alice, name="a")
    b = StorageFolderFactory(owner=bob, name="b")
    with pytest.raises(AuthorisationError):
        sf.update_storage_folders(who(alice), {a.folder_uuid: {"name": "a2"}, b.folder_uuid: {"name": "b2"}})
    a.refresh_from_db()
    assert a.name == "a"
    with pytest.raises(InvalidArgumentError):
        sf.update_storage_folders(who(alice), {a.folder_uuid: {"name": ""}})
    got = sf.update_storage_folders(who(alice), {str(a.folder_uuid): {"description": "d", "client_metadata": {"q": 1}}})
    a.refresh_from_db()
    assert [f.uuid for f in got] == [a.folder_uuid] and (a.description, a.client_metadata) == ("d", {"q": 1})


# ---- move ---------------------------------------------------------------------------------------


def test_move_into_another_folder_and_back_to_top_level(alice):
    a = StorageFolderFactory(owner=alice, name="a")
    b = StorageFolderFactory(owner=alice, name="b")
    sf.move_storage_folders(who(alice), [a.folder_uuid], b.folder_uuid)
    sf.move_storage_folders(who(alice), [a.folder_uuid], b.folder_uuid)  # repeated: still fine
    a.refresh_from_db()
    assert a.parent == b
    sf.move_storage_folders(who(alice), [a.folder_uuid], None)
    a.refresh_from_db()
    assert a.parent is None


def test_move_refuses_own_subtree(alice):
    a = StorageFolderFactory(owner=alice)
    child = StorageFolderFactory(owner=alice, parent=a)
    for target in (a, child):
        with pytest.raises(InvalidArgumentError, match="into itself or its own subfolders"):
            sf.move_storage_folders(who(alice), [a.folder_uuid], target.folder_uuid)


def test_move_needs_manage_on_folder_and_write_on_target(alice, bob):
    a = StorageFolderFactory(owner=alice)
    target = StorageFolderFactory(owner=alice)
    share(a, bob, role=1)
    share(target, bob, role=1)
    with pytest.raises(AuthorisationError, match="does not allow"):
        sf.move_storage_folders(who(bob), [a.folder_uuid], target.folder_uuid)
    own = StorageFolderFactory(owner=bob)
    sf.move_storage_folders(who(bob), [own.folder_uuid], target.folder_uuid)
    with pytest.raises(AuthorisationError, match="does not exist"):
        sf.move_storage_folders(who(bob), [own.folder_uuid], StorageFolderFactory(owner=alice).folder_uuid)


def test_move_refuses_a_tree_deeper_than_the_limit(alice):
    deep = None
    for i in range(MAX_FOLDER_DEPTH - 1):
        deep = StorageFolderFactory(owner=alice, parent=deep, name=f"l{i}")
    a = StorageFolderFactory(owner=alice)
    StorageFolderFactory(owner=alice, parent=a)
    with pytest.raises(InvalidArgumentError, match="deeper"):
        sf.move_storage_folders(who(alice), [a.folder_uuid], deep.folder_uuid)


# ---- delete -------------------------------------------------------------------------------------


def test_delete_removes_subtree_items_and_queues_their_files(alice, django_capture_on_commit_callbacks):
    top = StorageFolderFactory(owner=alice)
    sub = StorageFolderFactory(owner=alice, parent=top)
    share(sub, UserFactory())
    item = StorageItemFactory(folder=sub, thumbnail_key="thumbnails/t.jpg")
    group = StorageItemFactory(folder=top, item_type=m.DataType.IMG_GROUP, storage_key="")
    m.DataRowMember.objects.create(item=group, data_sequence=0, title="0.jpg", storage_key="g/0.jpg", thumbnail_key="g/0t.jpg")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        gone = sf.delete_storage_folder(who(alice), top.folder_uuid)
    assert (gone.folders, gone.items) == (2, 2)
    assert sorted(gone.file_keys) == sorted([item.storage_key, "thumbnails/t.jpg", "g/0.jpg", "g/0t.jpg"])
    assert len(callbacks) == 1
    assert not m.StorageFolder.objects.exists() and not m.StorageItem.objects.exists()
    assert not m.FolderMembership.objects.exists() and not m.DataRowMember.objects.exists()


def test_delete_keeps_files_an_item_outside_the_subtree_still_uses(alice):
    top = StorageFolderFactory(owner=alice)
    inside = StorageItemFactory(folder=StorageFolderFactory(owner=alice, parent=top), thumbnail_key="thumbnails/in.jpg")
    group = StorageItemFactory(folder=top, item_type=m.DataType.IMG_GROUP, storage_key="")
    m.DataRowMember.objects.create(item=group, data_sequence=0, title="0.jpg", storage_key="g/0.jpg", thumbnail_key="g/0t.jpg")
    m.DataRowMember.objects.create(item=group, data_sequence=1, title="1.jpg", storage_key="g/1.jpg")
    elsewhere = StorageFolderFactory(owner=alice)
    # Outside: an item on the same original, another whose thumbnail is a frame's file, and a
    # group whose frame shares the first item's thumbnail.
    StorageItemFactory(folder=elsewhere, storage_key=inside.storage_key)
    StorageItemFactory(folder=elsewhere, storage_key="", url="s3://b/x.jpg", thumbnail_key="g/0.jpg")
    other_group = StorageItemFactory(folder=elsewhere, item_type=m.DataType.IMG_GROUP, storage_key="")
    m.DataRowMember.objects.create(item=other_group, data_sequence=0, title="0.jpg", storage_key="thumbnails/in.jpg")
    gone = sf.delete_storage_folder(who(alice), top.folder_uuid)
    assert sorted(gone.file_keys) == ["g/0t.jpg", "g/1.jpg"]
    assert m.StorageItem.objects.filter(folder=elsewhere).count() == 3


def test_item_delete_keeps_a_thumbnail_or_frame_file_another_item_uses(alice):
    # The same rule as folder delete (hosted_files.unshared_files), through item deletion's entry.
    folder = StorageFolderFactory(owner=alice)
    item = StorageItemFactory(folder=folder, thumbnail_key="thumbnails/t.jpg")
    group = StorageItemFactory(folder=StorageFolderFactory(owner=alice), item_type=m.DataType.IMG_GROUP, storage_key="")
    m.DataRowMember.objects.create(item=group, data_sequence=0, title="0.jpg", storage_key="thumbnails/t.jpg")
    assert changes.item_files([item]) == [item.storage_key]


def test_delete_needs_manage_files(alice, bob):
    folder = StorageFolderFactory(owner=alice)
    share(folder, bob, role=1)
    with pytest.raises(AuthorisationError, match="does not allow"):
        sf.delete_storage_folder(who(bob), folder.folder_uuid)
    assert m.StorageFolder.objects.filter(pk=folder.pk).exists()


def test_delete_refuses_while_an_item_backs_a_data_row(alice):
    plain = DatasetFactory(title="Linked here", backing_folder=None)
    top = StorageFolderFactory(owner=alice)
    item = StorageItemFactory(folder=StorageFolderFactory(owner=alice, parent=top), name="cam.mp4")
    DataRowFactory(dataset=plain, item=item)
    # the dataset is counted, not named, to someone who may not open it
    with pytest.raises(InvalidArgumentError, match="cam.mp4.*1 dataset you cannot open") as refused:
        sf.delete_storage_folder(who(alice), top.folder_uuid)
    assert "Linked here" not in str(refused.value)
    DatasetMembershipFactory(dataset=plain, user=alice)
    with pytest.raises(InvalidArgumentError, match="cam.mp4.*Linked here"):
        sf.delete_storage_folder(who(alice), top.folder_uuid)
    assert m.StorageItem.objects.filter(pk=item.pk).exists()


def test_delete_refuses_a_mirror_folder_naming_its_dataset(alice):
    ds = DatasetFactory(title="Traffic")
    ds.backing_folder.owner = alice
    ds.backing_folder.save()
    with pytest.raises(InvalidArgumentError, match="backs dataset Traffic .*delete the dataset"):
        sf.delete_storage_folder(who(alice), ds.backing_folder.folder_uuid)
    top = StorageFolderFactory(owner=alice)
    ds.backing_folder.parent = top
    ds.backing_folder.save()
    with pytest.raises(InvalidArgumentError, match="backs dataset Traffic"):
        sf.delete_storage_folder(who(alice), top.folder_uuid)


# ---- sharing, groups, config --------------------------------------------------------------------


def test_share_and_unshare_a_folder(alice, bob):
    folder = StorageFolderFactory(owner=alice)
    sub = StorageFolderFactory(owner=alice, parent=folder)
    sf.add_folder_members(who(alice), folder.folder_uuid, [bob.email], m.DatasetUserRole.USER)
    assert sf.get_storage_folder(who(bob), sub.folder_uuid).user_role == "user"
    sf.add_folder_members(who(alice), folder.folder_uuid, [bob.email], m.DatasetUserRole.ADMIN)
    assert [(s.email, s.role) for s in sf.list_folder_members(who(alice), folder.folder_uuid)] == [
        (bob.email, m.DatasetUserRole.ADMIN)
    ]
    m.FolderMembership.objects.filter(user=bob).update(role=m.DatasetUserRole.USER)
    with pytest.raises(AuthorisationError, match="does not allow"):
        sf.add_folder_members(who(bob), sub.folder_uuid, ["x@example.com"], m.DatasetUserRole.USER)
    sf.remove_folder_members(who(alice), folder.folder_uuid, [bob.email, "nobody@example.com"])
    with pytest.raises(AuthorisationError):
        sf.get_storage_folder(who(bob), sub.folder_uuid)


def test_sharing_with_unknown_address_is_named_only_to_org_admins(alice):
    folder = StorageFolderFactory(owner=alice)
    sf.add_folder_members(who(alice), folder.folder_uuid, ["nobody@example.com"], 1)
    assert not m.FolderMembership.objects.exists()
    with pytest.raises(InvalidArgumentError, match="nobody@example.com"):
        sf.add_folder_members(who(UserFactory(is_org_admin=True)), folder.folder_uuid, ["nobody@example.com"], 1)


def test_groups_and_cloud_sync_answers(alice, bob):
    folder = StorageFolderFactory(owner=alice)
    assert folder_settings.list_folder_groups(who(alice), folder.folder_uuid) == []
    group = uuid.uuid4()
    with pytest.raises(InvalidArgumentError, match=f"Group {group} does not exist"):
        folder_settings.add_folder_groups(who(alice), folder.folder_uuid, [group])
    folder_settings.remove_folder_groups(who(alice), folder.folder_uuid, [group])
    with pytest.raises(InvalidArgumentError, match="not a cloud-synced folder"):
        folder_settings.start_cloud_sync(who(alice), folder.folder_uuid)
    with pytest.raises(InvalidArgumentError, match="not a cloud-synced folder"):
        folder_settings.get_cloud_sync_result(who(alice), folder.folder_uuid, uuid.uuid4())
    assert folder_settings.get_folder_config(who(alice), folder.folder_uuid) == {"metadata_ingestion": None}
    with pytest.raises(InvalidArgumentError, match="[Mm]etadata ingestion"):
        folder_settings.set_folder_config(who(alice), folder.folder_uuid, {"metadataIngestion": None})
    for call in (folder_settings.list_folder_groups, folder_settings.get_folder_config, folder_settings.start_cloud_sync):
        with pytest.raises(AuthorisationError, match="does not exist"):
            call(who(bob), folder.folder_uuid)


def test_metadata_is_json_of_an_object_on_create(alice):
    made = sf.create_storage_folder(who(alice), "m", client_metadata=json.dumps({"\u00e9": "\u00fc"}))
    assert made.client_metadata == {"\u00e9": "\u00fc"}
