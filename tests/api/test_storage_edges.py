"""The wire on the storage model (issue 13): backing_folder_uuid is the backing folder's uuid or
null, backing_item_uuid the linked item's uuid; creating a dataset makes its folder unless told
not to; uploads need a folder to put items in."""

from __future__ import annotations

import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from datasets_app import models as m
from datasets_app.sdk.policy import Principal
from datasets_app.sdk.uploads import issue_upload_urls
from tests.factories import DataRowFactory, DatasetFactory, DatasetMembershipFactory

from .conftest import error_code
from .test_shapes_and_queries import count_queries

pytestmark = pytest.mark.django_db


def _folder(folder_uuid) -> m.StorageFolder:
    return m.StorageFolder.objects.get(folder_uuid=folder_uuid)


def test_v1_create_dataset_makes_a_top_level_folder_named_after_it(wire_client, ds_admin):
    created = wire_client(ds_admin).v1(
        "dataset", "POST", None, {"title": "Night", "type": 0, "description": ""}, endpoint="user"
    )["response"]
    folder = _folder(created["backing_folder_uuid"])
    assert (folder.name, folder.parent_id, folder.owner) == ("Night", None, ds_admin)
    assert m.Dataset.objects.get(dataset_hash=created["dataset_hash"]).backing_folder == folder


def test_v1_create_dataset_without_a_backing_folder_sends_null(wire_client, ds_admin):
    before = m.StorageFolder.objects.count()
    created = wire_client(ds_admin).v1(
        "dataset", "POST", None, {"title": "Plain", "type": 0, "create_backing_folder": False}, endpoint="user"
    )["response"]
    assert created["backing_folder_uuid"] is None
    assert m.Dataset.objects.get(dataset_hash=created["dataset_hash"]).backing_folder is None
    assert m.StorageFolder.objects.count() == before


@pytest.mark.parametrize("make_folder", [True, False])
def test_v2_create_dataset_backing_folder_is_real_or_null(wire_client, ds_admin, make_folder):
    response = wire_client(ds_admin, bearer=True).v2(
        "POST", "/v2/public/datasets", {"title": "Cars", "createBackingFolder": make_folder}
    )
    body = response.json()
    ds = m.Dataset.objects.get(dataset_hash=body["dataset_uuid"])
    if make_folder:
        assert ds.backing_folder == _folder(body["backing_folder_uuid"]) and ds.backing_folder.name == "Cars"
    else:
        assert body["backing_folder_uuid"] is None and ds.backing_folder is None


def test_dataset_listings_send_the_folders_uuid_or_null_in_constant_queries(wire_client, ds_admin, dataset):
    plain = DatasetFactory(backing_folder=None, title="plain")
    DatasetMembershipFactory(dataset=plain, user=ds_admin, role=m.DatasetUserRole.ADMIN)
    client = wire_client(ds_admin)

    def listed():
        return {e["dataset"]["dataset_hash"]: e["dataset"]["backing_folder_uuid"] for e in client.v1(
            "datasetwithuserrole", "GET", None, {"filter": {}}, endpoint="user")["response"]}

    assert listed() == {str(dataset.dataset_hash): str(dataset.backing_folder.folder_uuid), str(plain.dataset_hash): None}
    v2 = {e["dataset_uuid"]: e["backing_folder_uuid"]
          for e in wire_client(ds_admin, bearer=True).v2("GET", "/v2/public/datasets/list").json()["result"]}
    assert v2 == {str(dataset.dataset_hash): str(dataset.backing_folder.folder_uuid), str(plain.dataset_hash): None}
    small = count_queries(listed)
    for ds in DatasetFactory.create_batch(10):
        DatasetMembershipFactory(dataset=ds, user=ds_admin, role=m.DatasetUserRole.USER)
    assert count_queries(listed) == small


def test_rows_on_the_wire_carry_their_items_uuid(wire_client, ds_admin, dataset):
    row = DataRowFactory(dataset=dataset)
    other = DataRowFactory(dataset=DatasetFactory(), item=row.item)
    body = wire_client(ds_admin).v1(
        "dataset", "GET", None, {"dataset_access_settings": {"fetch_rows": True}}, resource_id=str(dataset.dataset_hash)
    )["response"]
    assert body["backing_folder_uuid"] == str(dataset.backing_folder.folder_uuid)
    [wire_row] = body["data_rows"]
    assert wire_row["backing_item_uuid"] == str(row.item.item_uuid) == str(other.item.item_uuid)
    assert wire_row["data_hash"] == str(row.data_hash) != str(other.data_hash)


def test_upload_into_a_plain_dataset_is_refused_at_job_start(wire_client, ds_admin):
    plain = DatasetFactory(backing_folder=None)
    DatasetMembershipFactory(dataset=plain, user=ds_admin, role=m.DatasetUserRole.ADMIN)
    (slot,) = issue_upload_urls(Principal(user=ds_admin), 1, "image")
    # the PUT, done: a real image in place and its slot marked uploaded
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buf, "PNG")
    default_storage.save(slot.object_key, ContentFile(buf.getvalue()))
    m.UploadSlot.objects.filter(object_key=slot.object_key).update(uploaded_at=timezone.now())
    answer = wire_client(ds_admin).v1(
        "datasetdatalongpolling", "POST", str(plain.dataset_hash),
        {"dataItems": {"images": [{"objectUrl": slot.object_key, "title": "a.jpg"}]}, "ignoreErrors": False},
        resource_id=str(plain.dataset_hash),
    )
    assert error_code(answer) == "INVALID_ARGUMENTS_ERROR"
    assert "This dataset has no backing folder" in str(answer)
    assert not m.DataJob.objects.filter(dataset=plain).exists()
