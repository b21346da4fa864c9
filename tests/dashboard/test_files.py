"""The Files area's pages: folders, items, the metadata filter, add to dataset, moves, deletes,
sharing and the schema editor, for owners, folder USERs, org admins and strangers."""

from __future__ import annotations

import pytest
from django.urls import reverse

from datasets_app import models as m
from datasets_app.models.metadata import ORGANISATION_ID
from tests.factories import (
    DataRowFactory,
    DatasetFactory,
    DatasetMembershipFactory,
    StorageFolderFactory,
    StorageItemFactory,
    UserFactory,
)

from .conftest import HX

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return UserFactory(email="owner@example.com")


@pytest.fixture
def folder(owner):
    return StorageFolderFactory(owner=owner, name="Drives")


@pytest.fixture
def schema():
    m.MetadataSchema.objects.create(
        pk=ORGANISATION_ID,
        document={
            "weather": {"ty": "enum", "values": ["rain", "sun"]},
            "speed": {"ty": "variant", "hint": "number"},
        },
    )


def url(name, *args, **query):
    base = reverse(f"dashboard:{name}", args=args)
    return base if not query else base + "?" + "&".join(f"{k}={v}" for k, v in query.items())


def item(folder, name, **meta):
    return StorageItemFactory(folder=folder, owner=folder.owner, name=name, client_metadata=meta)


def shared_with(folder, role):
    user = UserFactory()
    m.FolderMembership.objects.create(folder=folder, user=user, role=role)
    return user


# ---- browsing ------------------------------------------------------------------------------------


def test_files_nav_link_and_top_level_folders(as_user, owner, folder):
    other = StorageFolderFactory(owner=UserFactory(), name="Not mine")
    page = as_user(owner).get(url("files")).content.decode()
    assert 'href="/files"' in page and "Drives" in page and other.name not in page


def test_folder_page_breadcrumbs_subfolders_items_and_metadata_columns(as_user, owner, folder, schema):
    sub = StorageFolderFactory(owner=owner, parent=folder, name="Night")
    deeper = StorageFolderFactory(owner=owner, parent=sub, name="Rainy")
    item(deeper, "clip.mp4", weather="rain", speed=12)

    page = as_user(owner).get(url("folder", deeper.folder_uuid)).content.decode()

    crumbs = page[page.index('class="crumbs"') :].split("</nav>")[0]
    assert crumbs.index(">Files<") < crumbs.index(">Drives<") < crumbs.index(">Night<") < crumbs.index(">Rainy<")
    assert "clip.mp4" in page and ">weather<" in page and ">12<" in page
    top = as_user(owner).get(url("folder", folder.folder_uuid)).content.decode()
    assert "Night" in top and "clip.mp4" not in top


def test_folder_page_columns_are_chosen_in_the_url(as_user, owner, folder, schema):
    item(folder, "a.mp4", weather="sun", speed=3)
    page = as_user(owner).get(url("folder", folder.folder_uuid, col="speed")).content.decode()
    assert ">speed<" in page and 'meta-col">weather<' not in page


def test_folder_page_a_stranger_gets_404(as_user, folder):
    assert as_user(UserFactory()).get(url("folder", folder.folder_uuid)).status_code == 404


def test_folder_items_keyset_pages_and_htmx_partial(as_user, owner, folder):
    for n in range(55):
        item(folder, f"f{n:02}.jpg")
    client = as_user(owner)
    first = client.get(url("folder", folder.folder_uuid)).content.decode()
    assert "f49.jpg" in first and "f50.jpg" not in first and "Next →" in first
    token = first.split("?after=")[1].split('"')[0].replace("&amp;", "&")
    second = client.get(url("folder", folder.folder_uuid) + "?after=" + token, **HX)
    body = second.content.decode()
    assert body.startswith('<section id="folder-items"') and "f50.jpg" in body and "f49.jpg" not in body


def test_metadata_filter_in_the_url_and_recursively(as_user, owner, folder, schema):
    sub = StorageFolderFactory(owner=owner, parent=folder, name="Sub")
    item(folder, "wet.mp4", weather="rain", speed=15)
    item(folder, "dry.mp4", weather="sun", speed=15)
    item(sub, "deep-wet.mp4", weather="rain", speed=30)
    client = as_user(owner)

    page = client.get(url("folder", folder.folder_uuid) + "?meta=weather:eq:rain&meta=speed:between:10,20")
    body = page.content.decode()
    assert "wet.mp4" in body and "dry.mp4" not in body and "deep-wet.mp4" not in body
    deep = client.get(url("folder", folder.folder_uuid) + "?meta=weather:eq:rain&recursive=1").content.decode()
    assert "deep-wet.mp4" in deep and "dry.mp4" not in deep


def test_filter_builder_folds_a_new_condition_into_the_url(as_user, owner, folder, schema):
    answer = as_user(owner).get(url("folder", folder.folder_uuid) + "?meta=weather:eq:rain&mk=speed&mo=gt&mv=10")
    assert answer.status_code == 302
    assert answer["Location"].endswith("?meta=weather%3Aeq%3Arain&meta=speed%3Agt%3A10")


def test_bad_filter_is_shown_next_to_the_filter(as_user, owner, folder, schema):
    item(folder, "x.mp4", weather="rain")
    page = as_user(owner).get(url("folder", folder.folder_uuid) + "?meta=weather:eq:hail")
    body = page.content.decode()
    assert page.status_code == 200 and 'id="filter-error"' in body and "hail" in body and "x.mp4" not in body


# ---- create, edit --------------------------------------------------------------------------------


def test_create_folder_and_subfolder(as_user, owner):
    client = as_user(owner)
    made = client.post(url("folder-create"), {"name": "Cars"})
    top = m.StorageFolder.objects.get(name="Cars")
    assert made["Location"] == url("folder", top.folder_uuid) and top.owner == owner
    client.post(url("subfolder-create", top.folder_uuid), {"name": "Trucks"})
    assert m.StorageFolder.objects.get(name="Trucks").parent == top


def test_folder_user_may_create_subfolders_and_edit_but_not_delete_or_share(as_user, folder):
    user = shared_with(folder, m.DatasetUserRole.USER)
    client = as_user(user)
    client.post(url("subfolder-create", folder.folder_uuid), {"name": "Mine"})
    assert m.StorageFolder.objects.filter(parent=folder, name="Mine").exists()
    edited = client.post(url("folder-edit", folder.folder_uuid), {"name": "Drives 2", "metadata": '{"site": "B"}'})
    assert edited.status_code == 302
    folder.refresh_from_db()
    assert folder.name == "Drives 2" and folder.client_metadata == {"site": "B"}
    for name in ("folder-delete", "folder-share", "folder-move"):
        assert client.get(url(name, folder.folder_uuid)).status_code == 404
        assert client.post(url(name, folder.folder_uuid), {"email": "x@example.com", "role": 1}).status_code == 404
    assert m.StorageFolder.objects.filter(pk=folder.pk).exists()


def test_edit_folder_refuses_bad_metadata_next_to_the_field(as_user, owner, folder):
    page = as_user(owner).post(url("folder-edit", folder.folder_uuid), {"name": "X", "metadata": "[1]"})
    assert page.status_code == 200 and "JSON object" in page.content.decode()


def test_edit_item_renames_it_in_every_dataset(as_user, owner, folder):
    clip = item(folder, "old.mp4")
    row = DataRowFactory(dataset=DatasetFactory(backing_folder=None), item=clip)
    as_user(owner).post(url("item-edit", folder.folder_uuid, clip.item_uuid), {"name": "new.mp4", "metadata": '{"a": 1}'})
    row.refresh_from_db()
    assert row.title == "new.mp4" and row.item.client_metadata == {"a": 1}



def test_edit_item_under_another_folder_is_not_found(as_user, owner, folder):
    """The item edit page opens an item only under its own folder (the form's POST already
    refused the mismatch; the page showed the item under any folder the caller could open)."""
    clip = item(folder, "a.mp4")
    other = StorageFolderFactory(owner=owner)
    assert as_user(owner).get(url("item-edit", other.folder_uuid, clip.item_uuid)).status_code == 404
    assert as_user(owner).get(url("item-edit", folder.folder_uuid, clip.item_uuid)).status_code == 200

# ---- add to dataset ------------------------------------------------------------------------------


def test_add_selected_items_to_a_dataset(as_user, owner, folder):
    a, b, _c = item(folder, "a.mp4"), item(folder, "b.mp4"), item(folder, "c.mp4")
    plain = DatasetFactory(backing_folder=None, title="Training")
    DatasetMembershipFactory(dataset=plain, user=owner, role=m.DatasetUserRole.USER)
    mirror = DatasetFactory(title="Mirror")
    DatasetMembershipFactory(dataset=mirror, user=owner, role=m.DatasetUserRole.ADMIN)
    client = as_user(owner)

    confirm = client.get(url("items-link", folder.folder_uuid) + f"?item={a.item_uuid}&item={b.item_uuid}")
    body = confirm.content.decode()
    assert "2 selected items" in body and "Training" in body and "Mirror" not in body
    done = client.post(
        url("items-link", folder.folder_uuid),
        {"item": [a.item_uuid, b.item_uuid], "dataset": plain.dataset_hash, "duplicates": "SKIP"},
    )
    assert done["Location"] == url("dataset-detail", plain.dataset_hash)
    assert set(m.DataRow.objects.filter(dataset=plain).values_list("item__name", flat=True)) == {"a.mp4", "b.mp4"}


def test_add_all_matching_the_filter_and_fail_mode_explains(as_user, owner, folder, schema):
    wet = item(folder, "wet.mp4", weather="rain")
    item(folder, "dry.mp4", weather="sun")
    plain = DatasetFactory(backing_folder=None, title="Rainy")
    DatasetMembershipFactory(dataset=plain, user=owner, role=m.DatasetUserRole.ADMIN)
    client = as_user(owner)
    form = {"all": "1", "meta": "weather:eq:rain", "dataset": plain.dataset_hash, "duplicates": "FAIL"}

    assert client.post(url("items-link", folder.folder_uuid), form).status_code == 302
    assert list(m.DataRow.objects.filter(dataset=plain).values_list("item_id", flat=True)) == [wet.pk]
    again = client.post(url("items-link", folder.folder_uuid), form)
    assert again.status_code == 200 and "already links" in again.content.decode()


# ---- move, delete, share -------------------------------------------------------------------------


def test_move_folder_and_items(as_user, owner, folder):
    target = StorageFolderFactory(owner=owner, name="Archive")
    clip = item(folder, "a.mp4")
    sub = StorageFolderFactory(owner=owner, parent=folder, name="Sub")
    client = as_user(owner)
    page = client.get(url("folder-move", folder.folder_uuid)).content.decode()
    assert "Archive" in page and ">Drives / Sub<" not in page  # not into itself
    client.post(url("items-move", folder.folder_uuid), {"item": [clip.item_uuid], "target": target.folder_uuid})
    clip.refresh_from_db()
    assert clip.folder == target
    client.post(url("folder-move", sub.folder_uuid), {"target": target.folder_uuid})
    sub.refresh_from_db()
    assert sub.parent == target


def test_delete_folder_confirm_says_what_goes_then_deletes(as_user, owner, folder):
    sub = StorageFolderFactory(owner=owner, parent=folder, name="Sub")
    item(folder, "a.mp4")
    item(sub, "b.mp4")
    client = as_user(owner)
    page = client.get(url("folder-delete", folder.folder_uuid)).content.decode()
    assert "1 subfolder" in page and "2 items" in page
    assert client.post(url("folder-delete", folder.folder_uuid))["Location"] == url("files")
    assert not m.StorageFolder.objects.filter(pk__in=[folder.pk, sub.pk]).exists()


def test_delete_folder_refused_explains_which_dataset(as_user, owner, folder):
    clip = item(folder, "a.mp4")
    training = DatasetFactory(backing_folder=None, title="Training")
    DataRowFactory(dataset=training, item=clip)
    DatasetMembershipFactory(dataset=training, user=owner)  # (a dataset they may not open is only counted)
    client = as_user(owner)
    page = client.get(url("folder-delete", folder.folder_uuid)).content.decode()
    assert 'id="delete-refusal"' in page and "Training" in page
    client.post(url("folder-delete", folder.folder_uuid))
    assert m.StorageFolder.objects.filter(pk=folder.pk).exists()


def test_delete_items_in_a_mirror_says_the_dataset_loses_rows(as_user, owner):
    mirror = DatasetFactory(title="Mirrored")
    mirror.backing_folder.owner = owner
    mirror.backing_folder.save()
    row = DataRowFactory(dataset=mirror, title="m.mp4")
    client = as_user(owner)
    where = mirror.backing_folder.folder_uuid
    page = client.get(url("items-delete", where) + f"?item={row.item.item_uuid}").content.decode()
    assert "Mirrored" in page and "loses 1 data row" in page
    client.post(url("items-delete", where), {"item": [row.item.item_uuid]})
    assert not m.StorageItem.objects.filter(pk=row.item_id).exists()


def test_delete_items_linked_elsewhere_is_refused_with_the_reason(as_user, owner, folder):
    clip = item(folder, "a.mp4")
    used = DatasetFactory(backing_folder=None, title="Elsewhere")
    DatasetMembershipFactory(dataset=used, user=owner)
    DataRowFactory(dataset=used, item=clip)
    client = as_user(owner)
    page = client.get(url("items-delete", folder.folder_uuid) + f"?item={clip.item_uuid}").content.decode()
    assert 'id="delete-refusal"' in page and "Elsewhere" in page
    client.post(url("items-delete", folder.folder_uuid), {"item": [clip.item_uuid]})
    assert m.StorageItem.objects.filter(pk=clip.pk).exists()


def test_share_folder_by_email_and_remove(as_user, owner, folder):
    friend = UserFactory(email="friend@example.com")
    client = as_user(owner)
    client.post(url("folder-share", folder.folder_uuid), {"email": "friend@example.com", "role": 0})
    assert m.FolderMembership.objects.get(folder=folder, user=friend).role == 0
    assert "friend@example.com" in client.get(url("folder-share", folder.folder_uuid)).content.decode()
    assert as_user(friend).get(url("folder", folder.folder_uuid)).status_code == 200
    client.post(url("folder-unshare", folder.folder_uuid), {"email": "friend@example.com"})
    assert not m.FolderMembership.objects.filter(folder=folder).exists()


# ---- metadata schema -----------------------------------------------------------------------------


def test_schema_editor_org_admin_adds_deletes_and_restores(as_user, org_admin):
    client = as_user(org_admin)
    client.post(url("metadata-schema"), {"key": "weather", "kind": "enum", "values": "rain, sun"})
    client.post(url("metadata-schema"), {"key": "speed", "kind": "number"})
    document = m.MetadataSchema.objects.get().document
    assert document["weather"] == {"ty": "enum", "values": ["rain", "sun"]}
    assert document["speed"] == {"ty": "variant", "hint": "number"}
    client.post(url("metadata-key-action", "delete"), {"key": "speed"})
    assert m.MetadataSchema.objects.get().document["speed"]["ty"] == "tombstone"
    assert "deleted" in client.get(url("metadata-schema")).content.decode()
    client.post(url("metadata-key-action", "restore"), {"key": "speed"})
    assert m.MetadataSchema.objects.get().document["speed"] == {"ty": "variant", "hint": "number"}


def test_schema_editor_refusals_shown_and_others_only_read(as_user, org_admin, owner, schema):
    refused = as_user(org_admin).post(url("metadata-schema"), {"key": "speed", "kind": "boolean"})
    assert refused.status_code == 200 and "already exists" in refused.content.decode()
    page = as_user(owner).get(url("metadata-schema")).content.decode()
    assert "weather" in page and "Add a key" not in page
    assert as_user(owner).post(url("metadata-schema"), {"key": "x", "kind": "number"}).status_code == 404
    assert "x" not in m.MetadataSchema.objects.get().document


# ---- a dataset's row: where its item lives -------------------------------------------------------


def test_row_page_shows_the_items_folder_and_other_datasets_the_user_may_see(as_user, owner, folder):
    clip = item(StorageFolderFactory(owner=owner, parent=folder, name="Clips"), "a.mp4")
    here = DatasetFactory(backing_folder=None, title="Here")
    seen = DatasetFactory(backing_folder=None, title="Seen too")
    hidden = DatasetFactory(backing_folder=None, title="Secret")
    for ds in (here, seen):
        DatasetMembershipFactory(dataset=ds, user=owner)
    row = DataRowFactory(dataset=here, item=clip)
    DataRowFactory(dataset=seen, item=clip)
    DataRowFactory(dataset=hidden, item=clip)

    page = as_user(owner).get(url("data-row", here.dataset_hash, row.data_hash)).content.decode()
    where = page[page.index('id="item-whereabouts"') :]
    assert where.index(">Drives<") < where.index(">Clips<")
    assert url("folder", clip.folder.folder_uuid) in where
    assert "Seen too" in where and "Secret" not in where and "1 other dataset you cannot open" in where


def test_row_page_item_in_a_folder_the_user_cannot_open(as_user, folder):
    clip = item(folder, "a.mp4")
    here = DatasetFactory(backing_folder=None, title="Here")
    reader = DatasetMembershipFactory(dataset=here).user
    row = DataRowFactory(dataset=here, item=clip)

    page = as_user(reader).get(url("data-row", here.dataset_hash, row.data_hash)).content.decode()
    where = page[page.index('id="item-whereabouts"') :]
    assert "a folder you cannot open" in where and "Drives" not in where
