"""Metadata search in the SDK layer: every operator, typed by the schema, on the database in
DATABASE_URL (SQLite by default; DATABASE_URL=postgres://postgres@127.0.0.1:5432/datasets_meta
runs the same tests on PostgreSQL)."""

from __future__ import annotations

import pytest
from django.db import connection

from datasets_app import models as m
from datasets_app.sdk.exceptions import AuthorisationError, InvalidArgumentError, ResourceNotFoundError
from datasets_app.sdk.metadata_search import (
    apply_conditions,
    parse_conditions,
    search_dataset_rows,
    search_folder_items,
)
from datasets_app.sdk.policy import Principal
from tests.factories import DataRowFactory, DatasetFactory, StorageFolderFactory, StorageItemFactory, UserFactory

SCHEMA = {
    "speed": {"ty": "variant", "hint": "number"},
    "taken": {"ty": "variant", "hint": "datetime"},
    "note": {"ty": "variant", "hint": "text"},
    "camera": {"ty": "variant", "hint": "varchar"},
    "night": {"ty": "variant", "hint": "boolean"},
    "weather": {"ty": "enum", "values": ["fog", "rain", "sun"]},
    "clip": {"ty": "embedding", "size": 4, "api": None},
    "gone": {"ty": "tombstone", "deleted_ty": {"ty": "variant", "hint": "number"}},
}

METADATA = {
    "a": {"speed": 5, "taken": "2024-01-01T10:00:00+00:00", "note": "Rainy Road", "camera": "cam-1",
          "night": True, "weather": "rain", "clip": [0, 1, 2, 3]},
    "b": {"speed": 12.5, "taken": "2024-02-01T10:00:00+00:00", "note": "sunny", "camera": "cam-2",
          "night": False, "weather": "sun"},
    "c": {"speed": 20, "taken": "2024-03-01T10:00:00+00:00", "note": "foggy 100% road_", "camera": "cam-1",
          "weather": "fog"},
    # wrong JSON types never match a typed condition (and never break a cast)
    "d": {"speed": "fast", "taken": 17, "note": 3, "night": 1, "weather": "rain!"},
    "e": {},
    "f": {"speed": 10, "camera": None},
}


@pytest.fixture
def owner(db):
    return UserFactory()


@pytest.fixture
def folder(owner):
    m.MetadataSchema.objects.create(pk=1, document=SCHEMA)
    folder = StorageFolderFactory(owner=owner)
    for name, meta in METADATA.items():
        StorageItemFactory(folder=folder, name=name, client_metadata=meta)
    return folder


def names(conditions: list[str], folder) -> list[str]:
    qs = apply_conditions(m.StorageItem.objects.filter(folder=folder), parse_conditions(conditions, SCHEMA))
    return sorted(qs.values_list("name", flat=True))


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        (["speed:eq:5"], ["a"]),
        (["speed:eq:12.5"], ["b"]),
        (["speed:eq:10.0"], ["f"]),
        (["speed:ne:5"], ["b", "c", "d", "f"]),
        (["speed:lt:12.5"], ["a", "f"]),
        (["speed:le:12.5"], ["a", "b", "f"]),
        (["speed:gt:10"], ["b", "c"]),
        (["speed:ge:10"], ["b", "c", "f"]),
        (["speed:between:6,20"], ["b", "c", "f"]),
        (["speed:in:5,20"], ["a", "c"]),
        (["speed:exists"], ["a", "b", "c", "d", "f"]),
        (["speed:exists:false"], ["e"]),
        (["taken:gt:2024-01-15"], ["b", "c"]),
        (["taken:lt:2024-02-01T10:00:00+00:00"], ["a"]),
        (["taken:between:2024-01-01,2024-02-28"], ["a", "b"]),
        (["taken:eq:2024-03-01T10:00:00+00:00"], ["c"]),
        (["note:contains:road"], ["a", "c"]),
        (["note:contains:100%"], ["c"]),
        (["note:contains:d_"], ["c"]),
        (["note:eq:sunny"], ["b"]),
        (["camera:eq:cam-1"], ["a", "c"]),
        (["camera:in:cam-2,cam-9"], ["b"]),
        (['camera:in:["cam-1","cam-2"]'], ["a", "b", "c"]),
        (["camera:ne:cam-1"], ["b", "f"]),
        (["night:eq:True"], ["a"]),
        (["night:eq:false"], ["b"]),
        (["night:ne:true"], ["b", "d"]),
        (["weather:eq:rain"], ["a"]),
        (["weather:in:sun,fog"], ["b", "c"]),
        (["weather:ne:rain"], ["b", "c", "d"]),
        (["clip:exists"], ["a"]),
        (["unknown:exists"], []),
        (["speed:gt:4", "camera:eq:cam-1"], ["a", "c"]),
        (["speed:gt:4", "weather:eq:fog", "note:contains:FOG"], ["c"]),
    ],
)
def test_each_operator_matches_by_type(folder, conditions, expected):
    assert names(conditions, folder) == expected


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("speed", "write it as key:op:value"),
        ("speed:like:5", "unknown operator 'like'"),
        ("speed:gt:fast", "'fast' is not a number"),
        ("speed:gt:nan", "not a finite number"),
        ("speed:between:1", "two comma-separated values"),
        ("speed:eq:", "'eq' needs a value"),
        ("taken:gt:yesterday", "not an ISO 8601 date"),
        ("night:eq:maybe", "not a boolean"),
        ("night:gt:1", "operator 'gt' does not apply to boolean key 'night'"),
        ("note:lt:a", "operator 'lt' does not apply to text key 'note'"),
        ("weather:eq:snow", "'snow' is not a value of enum 'weather'"),
        ("clip:eq:1", "does not apply to embedding key 'clip'"),
        ("gone:eq:1", "key 'gone' is not in the organisation's metadata schema"),
        ("mood:eq:happy", "key 'mood' is not in the organisation's metadata schema"),
        ("camera:in:[1,", "must be a JSON array"),
    ],
)
def test_bad_conditions_are_named(condition, message):
    with pytest.raises(InvalidArgumentError) as error:
        parse_conditions([condition], SCHEMA)
    assert message in error.value.message
    assert repr(condition[:200]) in error.value.message


def test_too_many_conditions_are_refused():
    with pytest.raises(InvalidArgumentError, match="At most 20"):
        parse_conditions(["speed:exists"] * 21, SCHEMA)


def test_folder_search_pages_in_creation_order(folder, owner):
    principal = Principal(user=owner)
    seen, token, pages = [], None, 0
    while True:
        items, token = search_folder_items(principal, folder.folder_uuid, ["speed:exists"], page_size=2, page_token=token)
        seen += [i.name for i in items]
        pages += 1
        if token is None:
            break
    assert seen == ["a", "b", "c", "d", "f"] and pages == 3


def test_folder_search_needs_read_on_the_folder(folder):
    stranger = UserFactory()
    with pytest.raises(AuthorisationError, match="does not exist or you do not have access"):
        search_folder_items(Principal(user=stranger), folder.folder_uuid, ["speed:gt:1"])


def test_a_bad_page_token_is_named(folder, owner):
    with pytest.raises(InvalidArgumentError, match="pageToken"):
        search_folder_items(Principal(user=owner), folder.folder_uuid, [], page_token="nonsense")


def test_dataset_rows_filter_through_their_items(folder, owner):
    dataset = DatasetFactory()
    member = UserFactory()
    m.DatasetMembership.objects.create(dataset=dataset, user=member, role=m.DatasetUserRole.USER)
    for item in m.StorageItem.objects.filter(folder=folder, name__in=["a", "b", "c"]):
        DataRowFactory(dataset=dataset, item=item)
    rows, token = search_dataset_rows(Principal(user=member), dataset.dataset_hash, ["camera:eq:cam-1"])
    assert sorted(r.item.name for r in rows) == ["a", "c"] and token is None
    with pytest.raises(ResourceNotFoundError):
        search_dataset_rows(Principal(user=UserFactory()), dataset.dataset_hash, ["camera:eq:cam-1"])


def test_equality_uses_the_gin_index_on_postgresql(folder):
    if connection.vendor != "postgresql":
        pytest.skip("the GIN index exists on PostgreSQL only")
    qs = apply_conditions(m.StorageItem.objects.all(), parse_conditions(["weather:eq:rain"], SCHEMA))
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        plan = qs.explain()
        cursor.execute("RESET enable_seqscan")
    assert "storageitem_meta_gin" in plan
