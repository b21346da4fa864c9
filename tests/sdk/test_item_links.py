"""link_items: a dataset links storage items (rows are links), decided by WRITE_DATA on the dataset
and READ_FILES on every item's folder, all or nothing, in bulk."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest
from django.db import connection

from datasets_app import models as m
from datasets_app.sdk.exceptions import (
    AuthorisationError,
    InvalidArgumentError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from datasets_app.sdk.item_links import CHUNK, link_items, link_items_matching
from datasets_app.sdk.policy import Principal
from tests.factories import (
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


@pytest.fixture
def plain(owner):
    """A plain (not mirror) dataset the owner administers."""
    ds = DatasetFactory(backing_folder=None, title="Training")
    DatasetMembershipFactory(dataset=ds, user=owner, role=m.DatasetUserRole.ADMIN)
    return ds


def items_in(folder, n, **fields):
    return [
        StorageItemFactory(folder=folder, owner=folder.owner, name=f"f{i}.mp4", **fields) for i in range(n)
    ]


def test_link_items_makes_one_row_per_distinct_item_in_request_order(owner, folder, plain):
    a, b, c = items_in(folder, 3)
    asked = [str(c.item_uuid), str(a.item_uuid), str(c.item_uuid).upper(), str(b.item_uuid)]

    rows = link_items(me(owner), str(plain.dataset_hash), asked)

    assert [r.item_id for r in rows] == [c.pk, a.pk, b.pk]
    assert all(r.pk and r.dataset_id == plain.pk for r in rows)
    stored = m.DataRow.objects.filter(dataset=plain)
    assert stored.count() == 3
    # The row reads its item: title and metadata are the item's.
    assert rows[0].title == c.name


def test_link_items_skip_returns_the_existing_row_for_an_already_linked_item(owner, folder, plain):
    a, b = items_in(folder, 2)
    [first] = link_items(me(owner), plain.dataset_hash, [a.item_uuid])

    rows = link_items(me(owner), plain.dataset_hash, [a.item_uuid, b.item_uuid], duplicates="SKIP")

    assert rows[0].pk == first.pk and rows[0].data_hash == first.data_hash
    assert rows[1].item_id == b.pk
    assert m.DataRow.objects.filter(dataset=plain).count() == 2


def test_link_items_fail_refuses_naming_the_item_and_links_nothing(owner, folder, plain):
    a, b = items_in(folder, 2)
    link_items(me(owner), plain.dataset_hash, [a.item_uuid])

    with pytest.raises(ResourceExistsError) as refused:
        link_items(me(owner), plain.dataset_hash, [b.item_uuid, a.item_uuid], duplicates="FAIL")

    assert str(a.item_uuid) in refused.value.message and a.name in refused.value.message
    assert m.DataRow.objects.filter(dataset=plain, item=b).count() == 0


def test_link_items_duplicate_makes_another_row(owner, folder, plain):
    [a] = items_in(folder, 1)
    [first] = link_items(me(owner), plain.dataset_hash, [a.item_uuid])

    [second] = link_items(me(owner), plain.dataset_hash, [a.item_uuid], duplicates="DUPLICATE")

    assert second.pk != first.pk and second.data_hash != first.data_hash
    assert m.DataRow.objects.filter(dataset=plain, item=a).count() == 2


def test_link_items_refuses_an_unknown_duplicates_mode(owner, folder, plain):
    [a] = items_in(folder, 1)
    with pytest.raises(InvalidArgumentError):
        link_items(me(owner), plain.dataset_hash, [a.item_uuid], duplicates="MERGE")


def test_link_items_refuses_a_mirror_dataset(owner, folder):
    mirror = DatasetFactory()
    DatasetMembershipFactory(dataset=mirror, user=owner, role=m.DatasetUserRole.ADMIN)
    [a] = items_in(folder, 1)

    with pytest.raises(InvalidArgumentError) as refused:
        link_items(me(owner), mirror.dataset_hash, [a.item_uuid])

    assert "mirror" in refused.value.message.lower()
    assert not m.DataRow.objects.filter(dataset=mirror).exists()


def test_link_items_refuses_child_items(owner, folder, plain):
    group = StorageItemFactory(folder=folder, owner=owner, item_type=m.DataType.IMG_GROUP, storage_key="")
    frame = DataRowMemberFactory(data_row=None, item=group, title="0.png")

    with pytest.raises(InvalidArgumentError) as refused:
        link_items(me(owner), plain.dataset_hash, [group.item_uuid, frame.image_hash])

    assert str(frame.image_hash) in refused.value.message
    assert not m.DataRow.objects.filter(dataset=plain).exists()


def test_link_items_a_dataset_user_may_link_but_an_api_key_reaches_no_item(folder, plain):
    reader = DatasetMembershipFactory(dataset=plain, role=m.DatasetUserRole.USER).user
    m.FolderMembership.objects.create(folder=folder, user=reader, role=m.DatasetUserRole.USER)
    [a, b] = items_in(folder, 2)
    key = m.DatasetAPIKey.objects.create(
        dataset=plain, title="k", can_read=True, can_write=True, secret_digest="d" * 64
    )

    [row] = link_items(me(reader), plain.dataset_hash, [a.item_uuid])
    assert row.item_id == a.pk
    with pytest.raises(AuthorisationError):
        link_items(Principal(api_key=key), plain.dataset_hash, [b.item_uuid])
    assert not m.DataRow.objects.filter(item=b).exists()


def test_link_items_a_stranger_to_the_dataset_hears_it_does_not_exist(folder, plain):
    stranger = UserFactory()
    m.FolderMembership.objects.create(folder=folder, user=stranger, role=m.DatasetUserRole.USER)
    [a] = items_in(folder, 1)

    with pytest.raises(ResourceNotFoundError):
        link_items(me(stranger), plain.dataset_hash, [a.item_uuid])


def test_link_items_is_all_or_nothing_over_folders_the_caller_cannot_read(owner, folder, plain):
    mine = items_in(folder, 2)
    hidden = StorageItemFactory(folder=StorageFolderFactory(owner=UserFactory()), name="secret.mp4")

    with pytest.raises(AuthorisationError) as refused:
        link_items(me(owner), plain.dataset_hash, [mine[0].item_uuid, hidden.item_uuid, mine[1].item_uuid])

    assert str(hidden.item_uuid) in refused.value.message
    assert not m.DataRow.objects.filter(dataset=plain).exists()


def test_link_items_unknown_item_is_the_same_answer_as_a_hidden_one(owner, plain):
    ghost = uuid.uuid4()
    with pytest.raises(AuthorisationError) as refused:
        link_items(me(owner), plain.dataset_hash, [ghost])
    assert str(ghost) in refused.value.message


def test_link_items_a_folder_user_may_link_what_they_read(folder, plain):
    reader = DatasetMembershipFactory(dataset=plain, role=m.DatasetUserRole.ADMIN).user
    m.FolderMembership.objects.create(folder=folder, user=reader, role=m.DatasetUserRole.USER)
    [a] = items_in(folder, 1)

    [row] = link_items(me(reader), plain.dataset_hash, [a.item_uuid])

    assert row.item_id == a.pk


def test_link_items_an_item_linked_elsewhere_is_linked_here_too(owner, folder, plain):
    mirror = DatasetFactory(backing_folder=folder)
    row = DataRowFactory(dataset=mirror)

    [linked] = link_items(me(owner), plain.dataset_hash, [row.item.item_uuid])

    assert linked.item_id == row.item_id and linked.dataset_id == plain.pk
    assert m.DataRow.objects.filter(item=row.item).count() == 2


def test_link_items_refuses_an_empty_request(owner, plain):
    with pytest.raises(InvalidArgumentError):
        link_items(me(owner), plain.dataset_hash, [])


def test_link_items_links_10k_items_in_bulk_with_few_queries(owner, folder, plain):
    n = 10_000
    m.StorageItem.objects.bulk_create(
        [
            m.StorageItem(folder=folder, owner=owner, name=f"x{i}.jpg", item_type=m.DataType.IMAGE)
            for i in range(n)
        ],
        batch_size=2000,
    )
    wanted = list(
        m.StorageItem.objects.filter(folder=folder).order_by("-id").values_list("item_uuid", flat=True)
    )

    started = time.perf_counter()
    queries: list[str] = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        rows = link_items(me(owner), plain.dataset_hash, wanted)
    took = time.perf_counter() - started

    inserts = [q for q in queries if q.startswith("INSERT")]
    print(
        f"\nlink_items on {connection.vendor}: {n} items in {took:.2f} s ({n / took:,.0f} rows/s, {len(queries)} queries)"
    )
    # Bulk: the INSERTs batch (the backend caps a batch by its bound parameters), reads go by 5,000.
    assert len(inserts) <= n / 100
    assert len(queries) - len(inserts) <= 20
    assert len(rows) == n and m.DataRow.objects.filter(dataset=plain).count() == n
    assert [r.item.item_uuid for r in rows[:3]] == wanted[:3]
    assert took < 30


def test_link_items_queries_do_not_grow_with_the_number_of_items(owner, folder, plain):
    def queries_to_link(n):
        made = m.StorageItem.objects.bulk_create(
            [
                m.StorageItem(folder=folder, owner=owner, name=f"q{n}-{i}.jpg", item_type=m.DataType.IMAGE)
                for i in range(n)
            ]
        )
        ds = DatasetFactory(backing_folder=None)
        DatasetMembershipFactory(dataset=ds, user=owner, role=m.DatasetUserRole.ADMIN)
        seen: list[str] = []
        with connection.execute_wrapper(lambda execute, sql, *rest: seen.append(sql) or execute(sql, *rest)):
            rows = link_items(me(owner), ds.dataset_hash, [i.item_uuid for i in made])
        assert len(rows) == n
        return len(seen)

    # Across the read-back CHUNK: the count is the same for 30 items and for 2 chunks' worth.
    assert queries_to_link(30) == queries_to_link(2 * CHUNK + 7)


def test_link_items_answer_reads_its_rows_as_used(owner, folder, plain, django_assert_num_queries):
    made = items_in(folder, 3)
    rows = link_items(me(owner), plain.dataset_hash, [i.item_uuid for i in reversed(made)])

    with django_assert_num_queries(0):
        assert len(rows) == 3
    with django_assert_num_queries(1):
        assert [r.title for r in rows] == ["f2.mp4", "f1.mp4", "f0.mp4"]
    with django_assert_num_queries(1):
        assert rows[1].item.item_uuid == made[1].item_uuid
    with django_assert_num_queries(1):
        assert [r.item.name for r in rows[1:]] == ["f1.mp4", "f0.mp4"]


def test_link_items_makes_version_4_data_hashes_stored_as_django_stores_a_uuid(owner, folder, plain):
    made = items_in(folder, 50)
    rows = list(link_items(me(owner), plain.dataset_hash, [i.item_uuid for i in made]))

    hashes = [r.data_hash for r in rows]
    assert len(set(hashes)) == 50
    assert all(h.version == 4 and h.variant == uuid.RFC_4122 for h in hashes)
    # Found by the ORM's own lookup, so the stored text is the backend's UUID format.
    assert m.DataRow.objects.get(data_hash=hashes[7]).pk == rows[7].pk


def test_link_items_skip_answers_the_oldest_row_duplicate_the_new_one(owner, folder, plain):
    a, b = items_in(folder, 2)
    [first] = link_items(me(owner), plain.dataset_hash, [a.item_uuid])
    [second] = link_items(me(owner), plain.dataset_hash, [a.item_uuid], duplicates="DUPLICATE")

    skipped = link_items(me(owner), plain.dataset_hash, [b.item_uuid, a.item_uuid], duplicates="SKIP")
    [third] = link_items(me(owner), plain.dataset_hash, [a.item_uuid], duplicates="DUPLICATE")

    assert skipped[1].pk == first.pk and skipped[0].item_id == b.pk
    assert len({first.pk, second.pk, third.pk}) == 3
    assert m.DataRow.objects.filter(dataset=plain, item=a).count() == 3


def test_link_items_links_normally_after_a_refused_call(owner, folder, plain):
    [a] = items_in(folder, 1)
    with pytest.raises(AuthorisationError):
        link_items(me(owner), plain.dataset_hash, [a.item_uuid, uuid.uuid4()])

    [row] = link_items(me(owner), plain.dataset_hash, [a.item_uuid])

    assert row.item_id == a.pk and m.DataRow.objects.filter(dataset=plain).count() == 1


def test_link_items_matching_links_a_queryset_oldest_first(owner, folder, plain):
    made = items_in(folder, 4)
    m.StorageItem.objects.filter(pk=made[0].pk).update(
        created_at=made[3].created_at + dt.timedelta(seconds=1)
    )
    link_items(me(owner), plain.dataset_hash, [made[2].item_uuid])

    rows = link_items_matching(
        me(owner),
        plain.dataset_hash,
        m.StorageItem.objects.filter(folder=folder).exclude(pk=made[1].pk),
        at_most=10,
    )

    assert [r.item_id for r in rows] == [made[2].pk, made[3].pk, made[0].pk]
    assert m.DataRow.objects.filter(dataset=plain).count() == 3


def test_link_items_matching_is_all_or_nothing_over_the_folders_of_the_items(owner, folder, plain):
    items_in(folder, 2)
    StorageItemFactory(folder=StorageFolderFactory(owner=UserFactory()), name="secret.mp4")

    with pytest.raises(AuthorisationError) as refused:
        link_items_matching(me(owner), plain.dataset_hash, m.StorageItem.objects.all(), at_most=10)

    assert "secret" not in refused.value.message
    assert not m.DataRow.objects.filter(dataset=plain).exists()


def test_link_items_matching_refuses_none_or_too_many_and_fail_mode(owner, folder, plain):
    items_in(folder, 3)
    mine = m.StorageItem.objects.filter(folder=folder)

    with pytest.raises(InvalidArgumentError):
        link_items_matching(me(owner), plain.dataset_hash, mine.filter(name="nothing"), at_most=10)
    with pytest.raises(InvalidArgumentError) as too_many:
        link_items_matching(me(owner), plain.dataset_hash, mine, at_most=2)
    assert "more than 2" in too_many.value.message
    assert not m.DataRow.objects.filter(dataset=plain).exists()

    assert len(link_items_matching(me(owner), plain.dataset_hash, mine, at_most=3)) == 3
    with pytest.raises(ResourceExistsError):
        link_items_matching(me(owner), plain.dataset_hash, mine, duplicates="FAIL", at_most=3)
    assert (
        len(link_items_matching(me(owner), plain.dataset_hash, mine, duplicates="DUPLICATE", at_most=3)) == 3
    )
    assert m.DataRow.objects.filter(dataset=plain).count() == 6
