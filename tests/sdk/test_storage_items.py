"""Storage items through the SDK layer (protocol §2): reads, listings, summaries, children,
updates, deletes and moves, with the folder rows of the policy table deciding who may."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client

from datasets_app import models as m
from datasets_app.sdk import storage_item_changes as changes
from datasets_app.sdk import storage_items as items
from datasets_app.sdk.exceptions import AuthorisationError, InvalidArgumentError
from datasets_app.sdk.policy import Principal
from tests.factories import (
    CloudIntegrationFactory,
    DataRowFactory,
    DataRowMemberFactory,
    DatasetFactory,
    DatasetMembershipFactory,
    StorageFolderFactory,
    StorageItemFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def me(user) -> Principal:
    return Principal(user=user)


@pytest.fixture
def owner():
    return UserFactory(email="owner@example.com")


@pytest.fixture
def folder(owner):
    return StorageFolderFactory(owner=owner, name="cars")


def stored_item(folder, name="drive.mp4", data=b"\x00video bytes", **fields) -> m.StorageItem:
    item = StorageItemFactory(folder=folder, name=name, owner=folder.owner, **fields)
    assert default_storage.save(item.storage_key, ContentFile(data)) == item.storage_key
    return item


# ---- get_storage_item(s) -----------------------------------------------------------------------


def test_get_storage_item_every_field_and_a_signed_url_that_downloads(folder, owner):
    item = stored_item(folder, client_metadata={"weather": "rain"}, frame_count=100)
    DataRowFactory(dataset=DatasetFactory(backing_folder=None), item=item)
    DataRowFactory(dataset=DatasetFactory(backing_folder=None), item=item)

    plain = items.get_storage_item(me(owner), str(item.item_uuid))
    signed = items.get_storage_item(me(owner), item.item_uuid, sign_url=True, base_url="http://testserver/")

    assert plain.uuid == item.item_uuid and plain.parent == folder.folder_uuid
    assert (plain.item_type, plain.name, plain.owner) == ("video", "drive.mp4", "owner@example.com")
    assert plain.client_metadata == {"weather": "rain"}
    assert (plain.backed_data_units_count, plain.storage_location, plain.integration_hash) == (2, "encord", None)
    assert plain.url == item.storage_key and plain.signed_url is None
    assert (plain.file_size, plain.mime_type, plain.width, plain.height, plain.fps, plain.duration) == (
        1234, "video/mp4", 640, 480, 25.0, 4.0,
    )
    assert plain.frame_count == 100
    assert signed.signed_url.startswith("http://testserver/media/signed/")
    response = Client().get(signed.signed_url.removeprefix("http://testserver"))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"\x00video bytes"


def test_item_of_an_integration_names_its_provider_and_signs_without_secrets(folder, owner):
    s3 = CloudIntegrationFactory(owner=owner, provider=m.IntegrationProvider.S3)
    minio = CloudIntegrationFactory(owner=owner, provider=m.IntegrationProvider.S3, config={"endpoint_url": "http://x"})
    gcs = CloudIntegrationFactory(owner=owner, provider=m.IntegrationProvider.GCS)
    azure = CloudIntegrationFactory(owner=owner, provider=m.IntegrationProvider.AZURE)
    made = {
        name: StorageItemFactory(folder=folder, storage_key="", url=f"https://example.com/{name}.mp4", integration=i)
        for name, i in {"s3": s3, "s3Compatible": minio, "gcp": gcs, "azure": azure}.items()
    }
    for location, item in made.items():
        info = items.get_storage_item(me(owner), item.item_uuid)
        assert info.storage_location == location
        assert info.integration_hash == item.integration.integration_uuid
        assert info.url == item.url


@pytest.mark.parametrize(
    "data_type, optimised, wire",
    [
        (m.DataType.IMAGE, None, "image"),
        (m.DataType.IMG_GROUP, False, "imageGroup"),
        (m.DataType.IMG_GROUP, None, "imageGroup"),
        (m.DataType.IMG_GROUP, True, "imageSequence"),
        (m.DataType.DICOM, None, "dicomSeries"),
    ],
)
def test_item_types_on_the_wire(folder, owner, data_type, optimised, wire):
    item = StorageItemFactory(folder=folder, item_type=data_type, is_optimised_image_group=optimised)
    assert items.get_storage_item(me(owner), item.item_uuid).item_type == wire


def test_composite_items_have_no_signed_url(folder, owner):
    group = StorageItemFactory(folder=folder, item_type=m.DataType.IMG_GROUP, storage_key="")
    assert items.get_storage_item(me(owner), group.item_uuid, sign_url=True).signed_url is None


def test_missing_and_invisible_items_are_one_answer(folder):
    item = StorageItemFactory(folder=folder)
    stranger = UserFactory()
    missing = uuid.uuid4()
    with pytest.raises(AuthorisationError) as hidden:
        items.get_storage_item(me(stranger), item.item_uuid)
    with pytest.raises(AuthorisationError) as gone:
        items.get_storage_item(me(stranger), missing)
    assert str(hidden.value).replace(str(item.item_uuid), "X") == str(gone.value).replace(str(missing), "X")
    assert "does not exist or you do not have access to it" in str(gone.value)


def test_members_of_mirrored_datasets_and_org_admins_see_items(folder):
    dataset = DatasetFactory(backing_folder=folder)
    user = DatasetMembershipFactory(dataset=dataset, role=m.DatasetUserRole.USER).user
    item = StorageItemFactory(folder=folder)
    assert items.get_storage_item(me(user), item.item_uuid).uuid == item.item_uuid
    assert items.get_storage_item(me(UserFactory(is_org_admin=True)), item.item_uuid).uuid == item.item_uuid


def test_get_storage_items_keeps_request_order_and_refuses_any_unknown(folder, owner):
    made = [StorageItemFactory(folder=folder, name=f"{i}.mp4") for i in range(4)]
    wanted = [made[2].item_uuid, made[0].item_uuid, made[3].item_uuid]
    assert [i.uuid for i in items.get_storage_items(me(owner), wanted)] == wanted
    missing = uuid.uuid4()
    hidden = StorageItemFactory()
    with pytest.raises(AuthorisationError) as err:
        items.get_storage_items(me(owner), [made[1].item_uuid, missing, hidden.item_uuid])
    assert str(missing) in str(err.value) and str(hidden.item_uuid) in str(err.value)
    assert str(made[1].item_uuid) not in str(err.value)


def test_get_storage_items_queries_do_not_grow_with_the_count(folder, owner, django_assert_max_num_queries):
    few = [StorageItemFactory(folder=folder).item_uuid for _ in range(3)]
    many = few + [StorageItemFactory(folder=folder).item_uuid for _ in range(27)]
    with django_assert_max_num_queries(6) as few_queries:
        items.get_storage_items(me(owner), few, sign_urls=True)
    with django_assert_max_num_queries(len(few_queries.captured_queries)):
        items.get_storage_items(me(owner), many, sign_urls=True)


def test_children_resolve_by_their_uuid(folder, owner):
    group = StorageItemFactory(folder=folder, item_type=m.DataType.IMG_GROUP, storage_key="")
    frame = DataRowMemberFactory(item=group, data_sequence=0, title="0.jpg", mime_type="image/jpeg")
    info = items.get_storage_item(me(owner), frame.image_hash)
    assert (info.uuid, info.item_type, info.name, info.parent) == (frame.image_hash, "image", "0.jpg", folder.folder_uuid)
    assert [i.uuid for i in items.get_storage_items(me(owner), [frame.image_hash, group.item_uuid])] == [
        frame.image_hash, group.item_uuid,
    ]


# ---- list_items / find_items / find_storage_items ------------------------------------------------


def query(**kw) -> items.ItemQuery:
    return items.ItemQuery(**kw)


def test_list_items_search_types_order_and_desc(folder, owner):
    a = StorageItemFactory(folder=folder, name="Alpha.mp4")
    b = StorageItemFactory(folder=folder, name="beta 100%.jpg", item_type=m.DataType.IMAGE)
    c = StorageItemFactory(folder=folder, name="gamma", item_type=m.DataType.IMG_GROUP, is_optimised_image_group=True)
    d = StorageItemFactory(folder=folder, name="delta", item_type=m.DataType.DICOM)
    StorageItemFactory(folder=StorageFolderFactory(parent=folder, owner=owner), name="alpha deeper")

    def names(**kw):
        return [i.name for i in items.list_items(me(owner), folder.folder_uuid, query(**kw)).results]

    assert names() == ["Alpha.mp4", "beta 100%.jpg", "delta", "gamma"]
    assert names(search="ALPHA") == ["Alpha.mp4"]
    assert names(search="100%") == ["beta 100%.jpg"]
    assert names(search="%") == ["beta 100%.jpg"]
    assert names(item_types=("image", "dicomSeries")) == ["beta 100%.jpg", "delta"]
    assert names(item_types=("imageSequence",)) == ["gamma"]
    assert names(item_types=("imageGroup",)) == []
    assert names(item_types=("audio",)) == []
    assert names(search="alpha", recursive=True) == ["Alpha.mp4", "alpha deeper"]
    for i, item in enumerate([d, b, a, c]):
        m.StorageItem.objects.filter(pk=item.pk).update(created_at=f"2024-01-0{i + 1}T00:00:00Z")
    assert names(order="createdAt") == ["delta", "beta 100%.jpg", "Alpha.mp4", "gamma"]
    assert names(order="createdAt", desc=True) == ["gamma", "Alpha.mp4", "beta 100%.jpg", "delta"]
    with pytest.raises(InvalidArgumentError, match="itemTypes"):
        names(item_types=("movie",))
    with pytest.raises(InvalidArgumentError, match="order"):
        names(order="size")


def test_list_items_is_in_dataset(folder, owner):
    linked = StorageItemFactory(folder=folder, name="linked")
    StorageItemFactory(folder=folder, name="loose")
    DataRowFactory(dataset=DatasetFactory(backing_folder=None), item=linked)

    def names(flag):
        return [i.name for i in items.list_items(me(owner), folder.folder_uuid, query(is_in_dataset=flag)).results]

    assert (names(True), names(False), names(None)) == (["linked"], ["loose"], ["linked", "loose"])


@pytest.mark.parametrize("order", ["name", "createdAt"])
@pytest.mark.parametrize("desc", [False, True])
def test_list_items_pages_cover_everything_once(folder, owner, order, desc):
    for i in range(7):
        StorageItemFactory(folder=folder, name=f"same-{i % 2}")  # ties: the id breaks them
    seen, token, pages = [], None, 0
    while True:
        page = items.list_items(
            me(owner), folder.folder_uuid, query(order=order, desc=desc, page_size=3, page_token=token)
        )
        assert len(page.results) <= 3
        seen += [i.uuid for i in page.results]
        pages += 1
        token = page.next_page_token
        if token is None:
            break
    assert pages == 3 and len(seen) == len(set(seen)) == 7
    everything = items.list_items(me(owner), folder.folder_uuid, query(order=order, desc=desc)).results
    assert [i.uuid for i in everything] == seen


def test_list_items_bad_token_and_page_size(folder, owner):
    with pytest.raises(InvalidArgumentError, match="pageToken"):
        items.list_items(me(owner), folder.folder_uuid, query(page_token="not a token"))
    with pytest.raises(InvalidArgumentError, match="pageSize"):
        items.list_items(me(owner), folder.folder_uuid, query(page_size=1001))
    # made-up tokens a fuzzer found: a pk past 64 bits, a bool pk, a naive time, a NUL
    for value, pk, order in [("a", 2**70, "name"), ("a", True, "name"), ("2024-01-01T00:00:00", 1, "createdAt"), ("\x00", 1, "name")]:
        with pytest.raises(InvalidArgumentError, match="pageToken"):
            items.list_items(me(owner), folder.folder_uuid, query(order=order, page_token=items.encode_token(value, pk)))


def test_list_items_of_an_invisible_folder_is_refused(folder):
    with pytest.raises(AuthorisationError, match="does not exist or you do not have access"):
        items.list_items(me(UserFactory()), folder.folder_uuid, query())


def test_list_items_query_count_is_flat(folder, owner, django_assert_max_num_queries):
    def fill(n):
        for _ in range(n):
            DataRowFactory(dataset=DatasetFactory(backing_folder=None), item=StorageItemFactory(folder=folder, owner=owner))

    fill(3)
    with django_assert_max_num_queries(8) as small:
        items.list_items(me(owner), folder.folder_uuid, query(sign_urls=True))
    fill(27)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(items.list_items(me(owner), folder.folder_uuid, query(sign_urls=True)).results) == 30


def test_find_storage_items_searches_every_visible_folder(owner, folder):
    sub = StorageFolderFactory(parent=folder, owner=UserFactory())
    shared = StorageFolderFactory(owner=UserFactory())
    m.FolderMembership.objects.create(folder=shared, user=owner, role=1)
    dataset = DatasetFactory()
    DatasetMembershipFactory(dataset=dataset, user=owner)
    StorageItemFactory(folder=folder, name="car 1")
    StorageItemFactory(folder=sub, name="car 2")
    StorageItemFactory(folder=shared, name="car 3")
    StorageItemFactory(folder=dataset.backing_folder, name="car 4")
    StorageItemFactory(name="car 5 hidden")

    def names(principal, include_org_access=False):
        found = items.find_storage_items(principal, query(search="car"), include_org_access=include_org_access)
        return [i.name for i in found.results]

    assert names(me(owner)) == ["car 1", "car 2", "car 3", "car 4"]
    admin = UserFactory(is_org_admin=True)
    assert names(me(admin)) == []
    assert names(me(admin), include_org_access=True) == ["car 1", "car 2", "car 3", "car 4", "car 5 hidden"]
    with pytest.raises(AuthorisationError):
        names(me(owner), include_org_access=True)


# ---- summary and children ------------------------------------------------------------------------


def test_item_summary_counts_every_dataset_and_lists_the_visible_ones(folder, owner):
    item = StorageItemFactory(folder=folder)
    mine = DatasetFactory(backing_folder=None, title="mine")
    DatasetMembershipFactory(dataset=mine, user=owner)
    rows = [DataRowFactory(dataset=mine, item=item), DataRowFactory(dataset=mine, item=item)]
    DataRowFactory(dataset=DatasetFactory(backing_folder=None), item=item)

    summary = items.get_item_summary(me(owner), folder.folder_uuid, item.item_uuid)

    assert (summary.used_in_datasets, summary.frame_in_groups, summary.accessible_group_items) == (2, 0, [])
    [use] = summary.accessible_datasets
    assert (use.dataset_hash, use.title, use.backing_folder_uuid) == (mine.dataset_hash, "mine", None)
    assert sorted(use.data_hashes) == sorted(r.data_hash for r in rows)
    assert use.data_units_created_at == min(r.created_at for r in rows)
    with pytest.raises(InvalidArgumentError, match="not in folder"):
        items.get_item_summary(me(owner), StorageFolderFactory(owner=owner).folder_uuid, item.item_uuid)


def test_child_items_in_sequence_order(folder, owner):
    series = StorageItemFactory(folder=folder, item_type=m.DataType.DICOM, storage_key="")
    for seq in (2, 0, 1):
        key = f"dicom/{seq}.dcm"
        default_storage.save(key, ContentFile(b"dcm"))
        DataRowMemberFactory(item=series, data_sequence=seq, title=f"{seq}.dcm", storage_key=key)
    children = items.get_child_items(me(owner), folder.folder_uuid, series.item_uuid, sign_urls=True)
    assert [c.name for c in children] == ["0.dcm", "1.dcm", "2.dcm"]
    assert {c.item_type for c in children} == {"dicomFile"} and {c.parent for c in children} == {folder.folder_uuid}
    assert all(c.signed_url and c.client_metadata == {} for c in children)
    assert items.get_child_items(me(owner), folder.folder_uuid, series.item_uuid)[0].signed_url is None


# ---- update ------------------------------------------------------------------------------------


def test_update_item_renames_and_replaces_metadata_seen_by_every_dataset(folder, owner):
    item = StorageItemFactory(folder=folder, client_metadata={"old": 1})
    rows = [DataRowFactory(dataset=DatasetFactory(backing_folder=None), item=item) for _ in range(2)]
    patch = changes.parse_item_patch({"name": " new.mp4 ", "description": "ignored", "clientMetadata": {"k": 2}})
    info = changes.update_item(me(owner), folder.folder_uuid, item.item_uuid, patch)
    assert (info.name, info.client_metadata, info.backed_data_units_count) == ("new.mp4", {"k": 2}, 2)
    for row in rows:
        row = m.DataRow.objects.get(pk=row.pk)
        assert (row.title, row.client_metadata) == ("new.mp4", {"k": 2})


@pytest.mark.parametrize(
    "body, match",
    [
        ({"timeseriesSettings": None}, "time-series"),
        ({"sceneLayout": {}}, "scene"),
        ({"clientMetadata": [1]}, "clientMetadata"),
        ({"name": ""}, "name"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_update_item_refuses(body, match):
    with pytest.raises(InvalidArgumentError, match=match):
        changes.parse_item_patch(body)


def test_update_items_in_bulk_all_or_nothing(folder, owner):
    a, b = StorageItemFactory(folder=folder, name="a"), StorageItemFactory(folder=folder, name="b")
    done = changes.update_items(
        me(owner),
        {str(a.item_uuid): changes.parse_item_patch({"name": "a2"}), str(b.item_uuid): changes.parse_item_patch({"clientMetadata": {"z": 1}})},
    )
    assert [(i.name, i.client_metadata) for i in done] == [("a2", {}), ("b", {"z": 1})]
    hidden = StorageItemFactory()
    with pytest.raises(AuthorisationError):
        changes.update_items(me(owner), {str(a.item_uuid): changes.parse_item_patch({"name": "a3"}), str(hidden.item_uuid): changes.parse_item_patch({"name": "x"})})
    assert m.StorageItem.objects.get(pk=a.pk).name == "a2"


def test_folder_user_may_update_but_not_delete_or_move(folder):
    user = UserFactory()
    m.FolderMembership.objects.create(folder=folder, user=user, role=1)
    item = StorageItemFactory(folder=folder)
    changes.update_item(me(user), folder.folder_uuid, item.item_uuid, changes.parse_item_patch({"name": "ok"}))
    with pytest.raises(AuthorisationError, match="does not allow"):
        changes.delete_items(me(user), folder.folder_uuid, [item.item_uuid])
    with pytest.raises(AuthorisationError, match="does not allow"):
        changes.move_items(me(user), folder.folder_uuid, [item.item_uuid], StorageFolderFactory(owner=user).folder_uuid)


# ---- delete --------------------------------------------------------------------------------------


def test_delete_items_removes_them_and_queues_their_hosted_files_and_a_retry_succeeds(
    folder, owner, django_capture_on_commit_callbacks
):
    item = stored_item(folder, thumbnail_key="thumbs/drive.jpg")
    group = StorageItemFactory(folder=folder, item_type=m.DataType.IMG_GROUP, storage_key="")
    DataRowMemberFactory(item=group, data_row=None, data_sequence=0, storage_key="frames/0.jpg")
    external = StorageItemFactory(folder=folder, storage_key="", url="s3://bucket/keep.mp4")
    # what the task queued on commit is given (tests/tasks runs that task on a real worker)
    assert changes.item_files([item, group, external]) == sorted([item.storage_key, "thumbs/drive.jpg", "frames/0.jpg"])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = changes.delete_items(me(owner), folder.folder_uuid, [item.item_uuid, group.item_uuid, external.item_uuid])
    assert (result.removed_items_count, result.removed_folders_count) == (3, 0) and len(callbacks) == 1
    assert not m.StorageItem.objects.filter(folder=folder).exists()
    assert not m.DataRowMember.objects.filter(item_id=group.pk).exists()
    again = changes.delete_items(me(owner), folder.folder_uuid, [item.item_uuid])
    assert again.removed_items_count == 0


def test_delete_refuses_items_used_by_other_datasets_and_not_in_the_folder(folder, owner):
    used = StorageItemFactory(folder=folder)
    other = DatasetFactory(backing_folder=None)
    DataRowFactory(dataset=other, item=used)
    # a dataset the caller may not open is counted, never named (no title, no hash)
    with pytest.raises(InvalidArgumentError, match="1 dataset you cannot open") as refused:
        changes.delete_items(me(owner), folder.folder_uuid, [used.item_uuid])
    assert str(other.dataset_hash) not in str(refused.value) and other.title not in str(refused.value)
    # one they may open is named by its title
    DatasetMembershipFactory(dataset=other, user=owner)
    with pytest.raises(InvalidArgumentError, match=repr(other.title)):
        changes.delete_items(me(owner), folder.folder_uuid, [used.item_uuid])
    elsewhere = StorageItemFactory(folder=StorageFolderFactory(owner=owner))
    with pytest.raises(InvalidArgumentError, match="not in folder"):
        changes.delete_items(me(owner), folder.folder_uuid, [elsewhere.item_uuid])
    # an item in a folder the caller cannot open reads as gone: nothing said about it, nothing done
    hidden = StorageItemFactory(folder=StorageFolderFactory())
    assert changes.delete_items(me(owner), folder.folder_uuid, [hidden.item_uuid]).removed_items_count == 0
    assert m.StorageItem.objects.filter(pk__in=[used.pk, elsewhere.pk, hidden.pk]).count() == 3


def test_delete_in_a_mirror_folder_removes_the_row_too(owner):
    dataset = DatasetFactory(backing_folder=StorageFolderFactory(owner=owner))
    row = DataRowFactory(dataset=dataset)
    changes.delete_items(me(owner), dataset.backing_folder.folder_uuid, [row.item.item_uuid])
    assert not m.DataRow.objects.filter(pk=row.pk).exists()
    assert not m.StorageItem.objects.filter(pk=row.item_id).exists()


def test_delete_keeps_a_file_another_item_still_uses(folder, owner):
    item = stored_item(folder)
    StorageItemFactory(folder=folder, storage_key=item.storage_key)
    assert changes.item_files([item]) == []


# ---- move ----------------------------------------------------------------------------------------


def test_move_items_between_plain_folders_and_a_retry_succeeds(folder, owner):
    target = StorageFolderFactory(owner=owner)
    item = StorageItemFactory(folder=folder)
    assert changes.move_items(me(owner), folder.folder_uuid, [item.item_uuid], target.folder_uuid) == 1
    assert m.StorageItem.objects.get(pk=item.pk).folder == target
    assert changes.move_items(me(owner), folder.folder_uuid, [item.item_uuid], target.folder_uuid) == 0
    with pytest.raises(InvalidArgumentError, match="not in folder"):
        changes.move_items(me(owner), folder.folder_uuid, [StorageItemFactory(folder=StorageFolderFactory(owner=owner)).item_uuid], target.folder_uuid)


def test_move_into_a_folder_the_caller_cannot_write_is_refused(folder, owner):
    item = StorageItemFactory(folder=folder)
    with pytest.raises(AuthorisationError):
        changes.move_items(me(owner), folder.folder_uuid, [item.item_uuid], StorageFolderFactory().folder_uuid)


def test_move_out_of_and_into_mirrors_needs_the_flag_and_moves_the_rows(owner):
    source = DatasetFactory(backing_folder=StorageFolderFactory(owner=owner))
    target = DatasetFactory(backing_folder=StorageFolderFactory(owner=owner))
    row = DataRowFactory(dataset=source)
    item = row.item
    src, dst = source.backing_folder.folder_uuid, target.backing_folder.folder_uuid
    with pytest.raises(InvalidArgumentError, match="allow_mirror_dataset_changes"):
        changes.move_items(me(owner), src, [item.item_uuid], dst)
    plain = StorageFolderFactory(owner=owner)
    loose = StorageItemFactory(folder=plain)
    with pytest.raises(InvalidArgumentError, match="allow_mirror_dataset_changes"):
        changes.move_items(me(owner), plain.folder_uuid, [loose.item_uuid], dst)

    assert changes.move_items(me(owner), src, [item.item_uuid], dst, allow_synced_dataset_move=True) == 1
    assert not m.DataRow.objects.filter(dataset=source).exists()
    assert list(m.DataRow.objects.filter(dataset=target).values_list("item_id", flat=True)) == [item.pk]
    changes.move_items(me(owner), src, [item.item_uuid], dst, allow_synced_dataset_move=True)
    assert m.DataRow.objects.filter(dataset=target).count() == 1


def test_data_groups_are_refused(folder, owner):
    with pytest.raises(InvalidArgumentError, match="Data groups are not supported"):
        changes.create_data_groups(me(owner), folder.folder_uuid)
