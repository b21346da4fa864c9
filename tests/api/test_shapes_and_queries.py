"""Response shapes (§7.1, A.5 exact key sets), constant query counts, and the SDK-layer methods
added for the API (iter_data_rows, get_data_row options, Dataset.get_cloud_integrations)."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from datasets_app import models as m
from datasets_app.api.schemas import DATA_ROW_KEYS
from datasets_app.sdk import Dataset, Principal, UserClient
from datasets_app.sdk.exceptions import OperationNotAllowed
from tests.factories import CloudIntegrationFactory, DataRowFactory, DataRowMemberFactory

pytestmark = pytest.mark.django_db

GET_DATASET = (
    "dataset",
    "GET",
    None,
    {"dataset_access_settings": {"fetch_client_metadata": True, "fetch_rows": True}},
)
LIST_ROWS = (
    "datarows",
    "GET",
    None,
    {
        "title_eq": None,
        "title_like": "item%",
        "created_before": None,
        "created_after": None,
        "data_types": ["VIDEO"],
        "data_hashes": None,
        "dataset_access_settings": {"fetch_client_metadata": False, "fetch_rows": True},
    },
)


def count_queries(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


@pytest.mark.parametrize("call", [GET_DATASET, LIST_ROWS], ids=["dataset-GET", "datarows-GET"])
def test_row_listings_take_the_same_queries_for_3_and_30_rows(wire_client, ds_admin, dataset, call):
    client = wire_client(ds_admin)
    ds = str(dataset.dataset_hash)
    client.v1(*call, resource_id=ds)  # warm: last_used_at of the key is written at most once a minute
    DataRowFactory.create_batch(3, dataset=dataset)
    small = count_queries(lambda: client.v1(*call, resource_id=ds))
    DataRowFactory.create_batch(27, dataset=dataset)
    envelope = {}
    large = count_queries(lambda: envelope.update(client.v1(*call, resource_id=ds)))
    assert small == large <= 4
    rows = envelope["response"] if call is LIST_ROWS else envelope["response"]["data_rows"]
    assert len(rows) == 30


def test_dataset_object_and_rows_have_exact_keys(wire_client, ds_admin, dataset):
    DataRowFactory(dataset=dataset, client_metadata={"a": 1})
    envelope = wire_client(ds_admin).v1(*GET_DATASET, resource_id=str(dataset.dataset_hash))
    body = envelope["response"]
    assert set(body) == {
        "dataset_hash",
        "title",
        "description",
        "dataset_type",
        "backing_folder_uuid",
        "data_rows",
    }
    assert body["dataset_type"] == "CORD_STORAGE"
    [row] = body["data_rows"]
    assert set(row) == set(DATA_ROW_KEYS)
    assert row["storage_location"] == 0 and row["data_type"] == "VIDEO" and row["client_metadata"] == {"a": 1}
    assert len(row["created_at"]) == 19 and row["created_at"][10] == " "  # "YYYY-MM-DD HH:MM:SS" UTC
    without = wire_client(ds_admin).v1(
        "dataset",
        "GET",
        None,
        {"dataset_access_settings": {"fetch_rows": False}},
        resource_id=str(dataset.dataset_hash),
    )
    assert "data_rows" not in without["response"]


def test_sdk_0145_user_level_shapes_are_exact(wire_client, ds_admin, dataset):
    client = wire_client(ds_admin)
    created = client.v1(
        "dataset",
        "POST",
        None,
        {"title": "t", "type": 4, "create_backing_folder": False, "description": "d\u00e9"},
        endpoint="user",
    )["response"]
    assert (
        set(created) == {"title", "type", "dataset_hash", "user_hash", "backing_folder_uuid"}
        and created["type"] == 4
    )
    listed = client.v1(
        "datasetwithuserrole",
        "GET",
        None,
        {"filter": {"title_eq": "t"}, "enable_storage_api": True},
        endpoint="user",
    )["response"]
    [entry] = listed
    assert set(entry) == {"user_role", "dataset"} and entry["user_role"] == 0
    assert set(entry["dataset"]) == {
        "dataset_hash",
        "user_hash",
        "title",
        "description",
        "type",
        "created_at",
        "last_edited_at",
        "backing_folder_uuid",
    }
    assert entry["dataset"]["description"] == "d\u00e9" and entry["dataset"]["type"] == 4
    key = client.v1(
        "datasetapikey",
        "POST",
        None,
        {"dataset_hash": str(dataset.dataset_hash).upper(), "title": "k", "scopes": '["dataset.read"]'},
        endpoint="user",
    )["response"]
    assert set(key) == {"resource_hash", "api_key", "title", "key_hash", "scopes"} and key["scopes"] == [
        "dataset.read"
    ]
    assert ":" not in key["api_key"] and not key["api_key"].startswith("Bearer ")
    meta = wire_client(api_key=key["api_key"]).v1("apikeymeta", "GET", resource_id=str(dataset.dataset_hash))
    assert meta == {"status": 200, "response": {"title": "k", "resource_type": "dataset"}}


def test_iter_data_rows_checks_read_before_iterating(dataset, write_key):
    ds = Dataset(dataset, Principal(api_key=write_key.model))
    with pytest.raises(OperationNotAllowed):
        ds.iter_data_rows()  # raises at the call, not at the first row


def test_get_data_row_options(dataset, ds_admin):
    row = DataRowFactory(dataset=dataset, data_type=m.DataType.IMG_GROUP, client_metadata={"k": 1})
    for seq in (1, 0):
        DataRowMemberFactory(
            data_row=row,
            data_sequence=seq,
            title=f"{seq}.png",
            storage_key=f"s/{seq}.png",
            mime_type="image/png",
            width=3,
            height=2,
        )
    ds = UserClient(ds_admin).get_dataset(str(dataset.dataset_hash))
    plain = ds.get_data_row(str(row.data_hash))
    assert plain.images_data is None and plain.client_metadata is None and plain.signed_url is None
    full = ds.get_data_row(str(row.data_hash), images_data=True, client_metadata=True, signed_url=True)
    assert [(i.title, i.data_sequence, i.file_link) for i in full.images_data] == [
        ("0.png", 0, "s/0.png"),
        ("1.png", 1, "s/1.png"),
    ]
    assert full.client_metadata == {"k": 1}


def test_dataset_cloud_integrations_for_keys_are_their_creators(
    dataset, ds_admin, read_key, write_key, stranger
):
    CloudIntegrationFactory(title="admin's", provider="s3", owner=ds_admin)
    CloudIntegrationFactory(title="someone else's", provider="s3", owner=stranger)
    # Only a key that may import lists them (issue 11, item 3: READ keys used to).
    ds = Dataset(dataset, Principal(api_key=write_key.model))
    assert [i.title for i in ds.get_cloud_integrations()] == ["admin's"]
    with pytest.raises(OperationNotAllowed):
        Dataset(dataset, Principal(api_key=read_key.model)).get_cloud_integrations()


def test_dataset_rows_are_streamed_not_buffered(wire_client, ds_admin, dataset):
    from django.test import Client

    DataRowFactory.create_batch(3, dataset=dataset)
    raw = wire_client(ds_admin)
    raw.django_client = Client()
    body = b'{"query_type": "dataset", "query_method": "GET", "values": {"uid": null, "payload": null}}'
    response = raw.django_client.generic(
        "POST",
        "/public",
        data=body,
        content_type="application/json",
        headers={"Authorization": raw.authorization(body), "ResourceID": str(dataset.dataset_hash)},
    )
    assert response.streaming
    chunks = list(response.streaming_content)
    assert len(chunks) > 3  # head, rows batch, closers: written piece by piece
    assert len(json.loads(b"".join(chunks))["response"]["data_rows"]) == 3
