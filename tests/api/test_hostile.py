"""Hostile and malformed input: a clean typed error each, and nothing changed in the database."""

from __future__ import annotations

import json
import uuid

import pytest

from datasets_app import models as m
from datasets_app.sdk import accounts
from tests.factories import DataRowFactory, DatasetFactory, DatasetMembershipFactory

from .conftest import error_code

pytestmark = pytest.mark.django_db


def db_state():
    return (
        sorted(m.Dataset.objects.values_list("title", "description")),
        sorted(m.DataRow.objects.values_list("item__name", flat=True)),
        sorted(m.DatasetMembership.objects.values_list("dataset_id", "user_id", "role")),
        m.DatasetAPIKey.objects.count(),
    )


@pytest.fixture
def world(dataset, ds_admin):
    row = DataRowFactory(dataset=dataset, title="keep.mp4")
    return {"dataset": dataset, "row": row, "other": DatasetFactory(), "before": None}


@pytest.fixture
def admin_raw(wire_client, ds_admin):
    return wire_client(ds_admin)


def assert_unchanged(before):
    assert db_state() == before, "a refused request changed the database"


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"",
        b"[1, 2]",
        b'"dataset"',
        b"\xff\xfe\x00",
        b'{"query_type": 5, "query_method": "GET"}',
        b'{"query_type": "dataset", "query_method": null}',
        b'{"query_type": "dataset", "query_method": "GET", "values": "x"}',
    ],
    ids=["broken", "empty", "list", "string", "binary", "type-int", "method-null", "values-string"],
)
def test_malformed_envelopes_are_invalid_arguments(admin_raw, world, body):
    before = db_state()
    response = admin_raw.post_raw("/public", body, resource_id=str(world["dataset"].dataset_hash))
    assert response.status_code == 200 and error_code(response.json()) == "INVALID_ARGUMENTS_ERROR"
    assert_unchanged(before)


@pytest.mark.parametrize("endpoint", ["public", "user"])
def test_unknown_query_type_is_method_not_allowed(admin_raw, world, endpoint):
    envelope = admin_raw.v1(
        "dropdatabase",
        "DELETE",
        None,
        None,
        resource_id=str(world["dataset"].dataset_hash),
        endpoint=endpoint,
    )
    assert error_code(envelope) == "METHOD_NOT_ALLOWED_ERROR"
    # A dataset operation on the user endpoint is unknown there too.
    assert (
        error_code(admin_raw.v1("video", "DELETE", [], None, endpoint="user")) == "METHOD_NOT_ALLOWED_ERROR"
    )


def wrong_type_calls(ds: str, row: str):
    return [
        ("dataset", "GET", None, ["not", "an", "object"]),
        ("dataset", "GET", None, {"dataset_access_settings": {"fetch_rows": "yes"}}),
        ("datarows", "GET", None, {"data_types": "VIDEO"}),
        ("datarows", "GET", None, {"data_types": ["SPREADSHEET"]}),
        ("datarows", "GET", None, {"created_before": 12345}),
        ("datarows", "GET", None, {"created_after": "yesterday"}),
        ("datarow", "GET", 42, None),
        ("datarow", "POST", row, {"client_metadata": ["a", "list"]}),
        ("datarow", "POST", row, {"data_title": 7}),
        ("datarow", "POST", row, {"data_title": "x", "dataset_hash": ds}),
        ("video", "DELETE", 5, None),
        ("video", "DELETE", [None], None),
        ("video", "POST", ds, {"video_hash": row, "title": "x"}),
        ("video", "POST", ds, [{"video_hash": row, "title": ["x"]}]),
        ("video", "POST", ds, [{"video_hash": row, "title": "ok"}, {"video_hash": row, "title": ""}]),
        ("datasetusers", "POST", ds, {"user_emails": ["a@b.c"], "user_role": "1"}),
        ("datasetusers", "POST", ds, {"user_emails": "a@b.c", "user_role": 1}),
        ("datasetusers", "POST", ds, {"user_emails": ["a@b.c"], "user_role": 7}),
        ("datasetusers", "POST", ds, {"user_emails": ["a@b.c"], "user_role": True}),
    ]


@pytest.mark.parametrize("index", range(len(wrong_type_calls("", ""))))
def test_wrong_types_are_invalid_arguments(admin_raw, world, index):
    ds, row = str(world["dataset"].dataset_hash), str(world["row"].data_hash)
    before = db_state()
    envelope = admin_raw.v1(*wrong_type_calls(ds, row)[index], resource_id=ds)
    assert error_code(envelope) == "INVALID_ARGUMENTS_ERROR", envelope
    assert isinstance(envelope["payload"], str) and envelope["payload"]
    assert_unchanged(before)


def test_user_endpoint_wrong_types(admin_raw, world):
    before = db_state()
    ds = str(world["dataset"].dataset_hash)
    calls = [
        ("dataset", "POST", None, {"title": "t", "type": "AWS"}),
        ("dataset", "POST", None, {"title": "t", "type": 9}),
        ("dataset", "POST", None, None),
        ("datasetwithuserrole", "GET", None, {"filter": {"title_like": 5}}),
        ("datasetwithuserrole", "GET", None, {"filter": {"drop": "x"}}),
        ("datasetapikey", "POST", None, {"dataset_hash": ds, "title": "k", "scopes": ["dataset.admin"]}),
        ("datasetapikey", "POST", None, {"dataset_hash": ds, "title": "k", "scopes": []}),
        ("datasetapikey", "POST", None, {"dataset_hash": "nope", "title": "k", "scopes": ["dataset.read"]}),
        ("datasetapikey", "GET", None, {"dataset_hash": 3}),
    ]
    for call in calls:
        assert error_code(admin_raw.v1(*call, endpoint="user")) == "INVALID_ARGUMENTS_ERROR", call
    assert_unchanged(before)


def test_ten_megabyte_bodies_are_413(admin_raw, world, wire_client, ds_admin):
    before = db_state()
    big = json.dumps(
        {
            "query_type": "dataset",
            "query_method": "POST",
            "values": {"uid": None, "payload": {"title": "x" * (10 * 1024 * 1024)}},
        }
    ).encode()
    for path in ("/public", "/public/user"):
        response = admin_raw.post_raw(path, big, resource_id=str(world["dataset"].dataset_hash))
        assert response.status_code == 413 and response.json()["response"] == ["PAYLOAD_TOO_LARGE"]
    response = wire_client(ds_admin, bearer=True).request(
        "POST",
        "/v2/public/datasets",
        big,
        {"Authorization": f"Bearer {accounts.issue_bearer_token(ds_admin)}"},
    )
    assert response.status_code == 413 and "limit" in response.json()["message"]
    assert_unchanged(before)


def test_hundred_thousand_character_titles_are_refused(admin_raw, world, wire_client, ds_admin):
    before = db_state()
    ds, row, title = str(world["dataset"].dataset_hash), str(world["row"].data_hash), "t" * 100_000
    assert (
        error_code(admin_raw.v1("datarow", "POST", row, {"data_title": title}, resource_id=ds))
        == "INVALID_ARGUMENTS_ERROR"
    )
    assert (
        error_code(admin_raw.v1("video", "POST", ds, [{"video_hash": row, "title": title}], resource_id=ds))
        == "INVALID_ARGUMENTS_ERROR"
    )
    assert (
        error_code(admin_raw.v1("dataset", "POST", None, {"title": title, "type": 0}, endpoint="user"))
        == "INVALID_ARGUMENTS_ERROR"
    )
    assert (
        error_code(
            admin_raw.v1(
                "datasetapikey",
                "POST",
                None,
                {"dataset_hash": ds, "title": title, "scopes": ["dataset.read"]},
                endpoint="user",
            )
        )
        == "INVALID_ARGUMENTS_ERROR"
    )
    response = wire_client(ds_admin, bearer=True).v2("POST", "/v2/public/datasets", {"title": title})
    assert response.status_code == 400 and "limit is 1024" in response.json()["message"]
    assert_unchanged(before)


def test_resource_id_disagreeing_with_uid_is_refused(admin_raw, world, ds_admin):
    ds, other = str(world["dataset"].dataset_hash), str(world["other"].dataset_hash)
    DatasetMembershipFactory(dataset=world["other"], user=ds_admin, role=m.DatasetUserRole.ADMIN)
    before = db_state()
    row = str(world["row"].data_hash)
    for call in [
        ("video", "POST", other, [{"video_hash": row, "title": "x"}]),
        ("datasetusers", "POST", other, {"user_emails": [ds_admin.email], "user_role": 1}),
    ]:
        envelope = admin_raw.v1(*call, resource_id=ds)
        assert (
            error_code(envelope) == "INVALID_ARGUMENTS_ERROR" and "different datasets" in envelope["payload"]
        )
    # A row of dataset A addressed through dataset B's ResourceID is not found there.
    envelope = admin_raw.v1("datarow", "POST", row, {"data_title": "moved"}, resource_id=other)
    assert error_code(envelope) == "RESOURCE_NOT_FOUND_ERROR"
    assert_unchanged(before)


def test_swapped_resource_id_to_an_invisible_dataset_is_not_found(wire_client, ds_user, world):
    before = db_state()
    hidden = str(world["other"].dataset_hash)
    envelope = wire_client(ds_user).v1(
        "video", "DELETE", [str(world["row"].data_hash)], None, resource_id=hidden
    )
    assert error_code(envelope) == "RESOURCE_NOT_FOUND_ERROR"
    assert_unchanged(before)


def test_api_key_with_swapped_resource_id_is_authorisation_error(wire_client, rw_key, world):
    before = db_state()
    envelope = wire_client(api_key=rw_key.secret).v1(
        "video", "DELETE", [str(world["row"].data_hash)], None, resource_id=str(world["other"].dataset_hash)
    )
    assert error_code(envelope) == "AUTHORISATION_ERROR"
    assert_unchanged(before)


def test_upper_case_uuids_are_the_same_ids(admin_raw, world, ds_admin):
    ds, row = str(world["dataset"].dataset_hash), str(world["row"].data_hash)
    envelope = admin_raw.v1(
        "video", "POST", ds.upper(), [{"video_hash": row.upper(), "title": "upper"}], resource_id=ds
    )
    assert envelope == {"status": 200, "response": {"success": True}}
    envelope = admin_raw.v1("datarow", "GET", row.upper(), None, resource_id=ds.upper())
    assert envelope["response"]["data_hash"] == row and envelope["response"]["data_title"] == "upper"


def test_garbage_resource_id_is_invalid_argument(admin_raw, world):
    envelope = admin_raw.v1("dataset", "GET", None, None, resource_id="'; DROP TABLE datasets; --")
    assert error_code(envelope) == "INVALID_ARGUMENTS_ERROR"
    envelope = admin_raw.v1("dataset", "GET", None, None, resource_id="")
    assert error_code(envelope) == "INVALID_ARGUMENTS_ERROR" and "ResourceID" in envelope["payload"]


def test_get_on_v1_and_unknown_v2_routes_answer_json(client):
    response = client.get("/public")
    assert response.status_code == 405 and response.json()["response"] == ["METHOD_NOT_ALLOWED_ERROR"]
    response = client.get("/v2/public/no/such/route")
    assert response.status_code == 404 and "message" in response.json()
    response = client.delete("/v2/public/datasets/list")
    assert response.status_code == 405 and response.headers["Allow"] == "GET"


def test_like_patterns_are_not_sql(admin_raw, world):
    ds = str(world["dataset"].dataset_hash)
    envelope = admin_raw.v1("datarows", "GET", None, {"title_like": "%' OR 1=1 --"}, resource_id=ds)
    assert envelope == {"status": 200, "response": []}
    envelope = admin_raw.v1("datarows", "GET", None, {"title_like": "keep\\_%"}, resource_id=ds)
    assert envelope["status"] == 200


def test_unknown_data_hash_in_refetch_is_not_found(admin_raw, world):
    envelope = admin_raw.v1(
        "datarow", "GET", str(uuid.uuid4()), None, resource_id=str(world["dataset"].dataset_hash)
    )
    assert error_code(envelope) == "RESOURCE_NOT_FOUND_ERROR"
