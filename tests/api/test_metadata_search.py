"""Our metadata search on the wire: GET /v2/public/storage/folders/<f>/items/search?meta=... and
GET /v2/public/datasets/<d>/data-rows/search?meta=... (signed like every v2 route)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from datasets_app import models as m
from tests.factories import DataRowFactory, DatasetFactory, StorageFolderFactory, StorageItemFactory, UserFactory

SCHEMA = {"speed": {"ty": "variant", "hint": "number"}, "weather": {"ty": "enum", "values": ["rain", "sun"]}}


@pytest.fixture
def owner(db):
    return UserFactory()


@pytest.fixture
def folder(owner):
    m.MetadataSchema.objects.create(pk=1, document=SCHEMA)
    folder = StorageFolderFactory(owner=owner)
    for i in range(7):
        StorageItemFactory(
            folder=folder, name=f"i{i}", client_metadata={"speed": i * 10, "weather": "rain" if i % 2 else "sun"}
        )
    return folder


def search(client, folder_uuid, *meta, **params):
    query = urlencode([("meta", c) for c in meta] + list(params.items()))
    return client.v2("GET", f"/v2/public/storage/folders/{folder_uuid}/items/search?{query}")


def test_search_pages_through_matching_items(wire_client, owner, folder):
    client = wire_client(owner, bearer=True)
    names, token = [], None
    while True:
        extra = {"pageSize": 2} | ({"pageToken": token} if token else {})
        body = search(client, folder.folder_uuid, "weather:eq:rain", "speed:between:10,50", **extra).json()
        assert len(body["results"]) <= 2
        names += [r["name"] for r in body["results"]]
        token = body["next_page_token"]
        if token is None:
            break
    assert names == ["i1", "i3", "i5"]
    first = search(client, folder.folder_uuid, "speed:eq:30").json()["results"][0]
    assert first["client_metadata"] == {"speed": 30, "weather": "rain"}
    assert first["item_type"] == "video" and first["parent"] == str(folder.folder_uuid)


def test_bad_condition_is_a_400_naming_it(wire_client, owner, folder):
    answer = search(wire_client(owner, bearer=True), folder.folder_uuid, "speed:gt:fast")
    assert answer.status_code == 400
    assert answer.json()["message"] == "Metadata condition 'speed:gt:fast': 'fast' is not a number."
    answer = search(wire_client(owner, bearer=True), folder.folder_uuid, "weather:eq:snow")
    assert answer.status_code == 400 and "'snow' is not a value of enum 'weather'" in answer.json()["message"]
    answer = search(wire_client(owner, bearer=True), folder.folder_uuid, "speed:exists", pageSize=5000)
    assert answer.status_code == 400 and "pageSize" in answer.json()["message"]
    # "²" is a digit to str.isdigit() but not to int(): still a 400, never a 500.
    answer = search(wire_client(owner, bearer=True), folder.folder_uuid, "speed:exists", pageSize="\u00b2")
    assert answer.status_code == 400 and "pageSize" in answer.json()["message"]


def test_items_of_folders_the_caller_cannot_see_never_appear(wire_client, owner, folder):
    stranger = UserFactory()
    answer = search(wire_client(stranger, bearer=True), folder.folder_uuid, "speed:exists")
    assert answer.status_code == 403
    assert answer.json()["message"] == f"Folder {folder.folder_uuid} does not exist or you do not have access to it"
    # another folder's items with matching metadata stay out of this folder's results
    StorageItemFactory(folder=StorageFolderFactory(owner=stranger), name="theirs", client_metadata={"speed": 30})
    body = search(wire_client(owner, bearer=True), folder.folder_uuid, "speed:eq:30").json()
    assert [r["name"] for r in body["results"]] == ["i3"]


def test_dataset_rows_search_reads_the_items_metadata(wire_client, owner, folder):
    dataset = DatasetFactory()
    member = UserFactory()
    m.DatasetMembership.objects.create(dataset=dataset, user=member, role=m.DatasetUserRole.USER)
    rows = {i.name: DataRowFactory(dataset=dataset, item=i) for i in folder.items.all()}
    client = wire_client(member, bearer=True)
    body = client.v2("GET", f"/v2/public/datasets/{dataset.dataset_hash}/data-rows/search?meta=speed:ge:50").json()
    assert [r["data_hash"] for r in body["results"]] == [str(rows["i5"].data_hash), str(rows["i6"].data_hash)]
    assert body["results"][0]["backing_item_uuid"] == str(rows["i5"].item.item_uuid)
    answer = wire_client(UserFactory(), bearer=True).v2(
        "GET", f"/v2/public/datasets/{dataset.dataset_hash}/data-rows/search?meta=speed:ge:50"
    )
    assert answer.status_code == 404


def test_search_answers_in_constant_queries(wire_client, owner, folder, django_assert_num_queries):
    client = wire_client(owner, bearer=True)
    search(client, folder.folder_uuid, "speed:exists", pageSize=2)  # warm the token lookup
    with django_assert_num_queries(4) as small:
        assert len(search(client, folder.folder_uuid, "speed:exists", pageSize=2).json()["results"]) == 2
    with django_assert_num_queries(len(small.captured_queries)):
        assert len(search(client, folder.folder_uuid, "speed:exists", pageSize=7).json()["results"]) == 7
