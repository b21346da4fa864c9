"""The dashboard on the storage model (issue 13): rows are links to items; a dataset mirrors its
backing folder. Names and types shown are the item's; a rename writes the item."""

from __future__ import annotations

import pytest
from django.urls import reverse

from datasets_app import models as m
from tests.factories import DataRowFactory, DatasetFactory, StorageItemFactory, UserFactory

from .conftest import HX

pytestmark = pytest.mark.django_db


def url(name, dataset, *args):
    return reverse(f"dashboard:{name}", args=[dataset.dataset_hash, *args])


def test_dashboard_create_makes_a_top_level_backing_folder_owned_by_the_creator(as_user):
    creator = UserFactory()
    response = as_user(creator).post("/datasets/new", {"title": "Harbour", "description": "", "storage_location": "0"})
    ds = m.Dataset.objects.select_related("backing_folder").get(title="Harbour")
    assert response.status_code == 302
    folder = ds.backing_folder
    assert (folder.name, folder.parent_id, folder.owner) == ("Harbour", None, creator)


def test_type_badges_read_the_items_type(as_user, dataset, ds_admin):
    group = DataRowFactory(dataset=dataset, title="frames", data_type=m.DataType.IMG_GROUP)
    DataRowFactory(dataset=dataset, title="clip.mp4")
    c = as_user(ds_admin)
    table = c.get(url("dataset-detail", dataset)).content.decode()
    assert '<span class="badge badge-type">Image group</span>' in table
    assert '<span class="badge badge-type">Video</span>' in table
    page = c.get(url("data-row", dataset, group.data_hash)).content.decode()
    assert '<span class="badge badge-type">Image group</span>' in page
    confirm = c.get(url("data-rows-delete", dataset), {"data_hash": [str(group.data_hash)]}).content.decode()
    assert '<span class="badge badge-type">Image group</span> frames' in confirm


def test_inline_rename_writes_the_item_so_every_linking_dataset_shows_it(as_user, dataset, ds_user):
    row = DataRowFactory(dataset=dataset, title="old.mp4")
    other = DatasetFactory(backing_folder=None)
    linked = DataRowFactory(dataset=other, item=row.item)
    saved = as_user(ds_user).post(url("data-row-rename", dataset, row.data_hash), {"title": "new.mp4"}, **HX)
    assert saved.status_code == 200 and "new.mp4" in saved.content.decode()
    assert m.StorageItem.objects.get(pk=row.item_id).name == "new.mp4"
    linked.refresh_from_db()
    assert linked.title == "new.mp4"


def test_deleting_rows_of_a_mirror_deletes_items_no_other_dataset_links(as_user, dataset, ds_admin):
    alone, shared = DataRowFactory(dataset=dataset), DataRowFactory(dataset=dataset)
    DataRowFactory(dataset=DatasetFactory(backing_folder=None), item=shared.item)
    chosen = [str(alone.data_hash), str(shared.data_hash)]
    assert as_user(ds_admin).post(url("data-rows-delete", dataset), {"data_hash": chosen}).status_code == 302
    assert not m.DataRow.objects.filter(dataset=dataset).exists()
    assert not m.StorageItem.objects.filter(pk=alone.item_id).exists()
    assert m.StorageItem.objects.filter(pk=shared.item_id).exists()


def test_deleting_rows_of_a_plain_dataset_keeps_the_items(as_user, ds_admin):
    plain = DatasetFactory(backing_folder=None)
    m.DatasetMembership.objects.create(dataset=plain, user=ds_admin, role=m.DatasetUserRole.ADMIN)
    row = DataRowFactory(dataset=plain, item=StorageItemFactory())
    assert as_user(ds_admin).post(url("data-rows-delete", plain), {"data_hash": [str(row.data_hash)]}).status_code == 302
    assert not m.DataRow.objects.filter(pk=row.pk).exists()
    assert m.StorageItem.objects.filter(pk=row.item_id).exists()


def test_deleting_a_mirror_dataset_keeps_its_folder_while_another_dataset_links_an_item(as_user, dataset, ds_admin):
    folder = dataset.backing_folder
    alone, shared = DataRowFactory(dataset=dataset), DataRowFactory(dataset=dataset)
    DataRowFactory(dataset=DatasetFactory(backing_folder=None), item=shared.item)
    response = as_user(ds_admin).post(url("dataset-delete", dataset), {"confirm_title": dataset.title})
    assert response.status_code == 302
    assert not m.Dataset.objects.filter(pk=dataset.pk).exists()
    assert not m.StorageItem.objects.filter(pk=alone.item_id).exists()
    assert list(m.StorageItem.objects.filter(folder=folder)) == [shared.item]


def test_deleting_a_mirror_dataset_whose_items_are_its_own_deletes_the_folder(as_user, dataset, ds_admin):
    folder_id = dataset.backing_folder_id
    DataRowFactory.create_batch(2, dataset=dataset)
    as_user(ds_admin).post(url("dataset-delete", dataset), {"confirm_title": dataset.title})
    assert not m.StorageFolder.objects.filter(pk=folder_id).exists()
    assert not m.StorageItem.objects.filter(folder_id=folder_id).exists()
