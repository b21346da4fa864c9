"""v1 `datasetlinkitems` POST on the wire (storage §4.5): rows in DP §7.1's format, errors by code."""

from __future__ import annotations

import uuid

import pytest

from datasets_app import models as m
from tests.api.conftest import error_code
from tests.factories import DatasetFactory, StorageFolderFactory, StorageItemFactory, UserFactory

ROW_KEYS = {
    "data_hash", "data_title", "data_type", "created_at", "last_edited_at", "width", "height", "file_link",
    "file_size", "file_type", "storage_location", "frames_per_second", "duration", "client_metadata",
    "signed_url", "is_optimised_image_group", "backing_item_uuid", "images_data",
}


@pytest.fixture
def setup(db):
    alice = UserFactory()
    folder = StorageFolderFactory(owner=alice)
    items = [StorageItemFactory(folder=folder, name=f"i{n}") for n in range(2)]
    plain = DatasetFactory(backing_folder=None)
    m.DatasetMembership.objects.create(dataset=plain, user=alice, role=m.DatasetUserRole.ADMIN)
    return alice, items, plain


def link(client, dataset, uuids, mode="SKIP"):
    payload = {"item_uuids": [str(u) for u in uuids], "duplicates_behavior": mode}
    return client.v1("datasetlinkitems", "POST", str(dataset.dataset_hash), payload, resource_id=str(dataset.dataset_hash))


def test_link_items_answers_rows_and_refuses_by_code(wire_client, setup):
    alice, items, plain = setup
    client = wire_client(alice)
    answer = link(client, plain, [i.item_uuid for i in items])
    assert answer["status"] == 200
    rows = answer["response"]
    assert [set(r) for r in rows] == [ROW_KEYS, ROW_KEYS]
    assert [(r["backing_item_uuid"], r["data_title"]) for r in rows] == [(str(i.item_uuid), i.name) for i in items]
    assert error_code(link(client, plain, [items[0].item_uuid], "FAIL")) == "RESOURCE_EXISTS_ERROR"
    assert error_code(link(client, plain, [uuid.uuid4()])) == "AUTHORISATION_ERROR"
    assert error_code(link(client, plain, [items[0].item_uuid], "SOMETIMES")) == "INVALID_ARGUMENTS_ERROR"
    mirror = DatasetFactory()
    m.DatasetMembership.objects.create(dataset=mirror, user=alice, role=m.DatasetUserRole.ADMIN)
    assert error_code(link(client, mirror, [items[0].item_uuid])) == "INVALID_ARGUMENTS_ERROR"
    assert m.DataRow.objects.filter(dataset=plain).count() == 2
