"""Dataset.data_rows_page: keyset pagination over (created_at, id), the same cost at any depth."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from datasets_app import models as m
from datasets_app.sdk import UserClient
from datasets_app.sdk.exceptions import InvalidArgumentError, ResourceNotFoundError
from tests.factories import DatasetFactory, DatasetMembershipFactory, UserFactory


@pytest.fixture
def reader(db):
    ds = DatasetFactory()
    user = DatasetMembershipFactory(dataset=ds, role=m.DatasetUserRole.USER).user
    return UserClient.for_user(user).get_dataset(str(ds.dataset_hash))


def _rows(ds, n, *, same_time=False):
    start = timezone.now() - dt.timedelta(days=1)
    items = m.StorageItem.objects.bulk_create(
        [m.StorageItem(folder=ds.backing_folder, name=f"r{i:03d}.jpg", item_type="IMAGE") for i in range(n)]
    )
    m.DataRow.objects.bulk_create([m.DataRow(dataset=ds, item=item) for item in items])
    # several rows share a created_at: the id breaks ties, so no row is skipped or repeated
    for i, pk in enumerate(m.DataRow.objects.filter(dataset=ds).order_by("id").values_list("pk", flat=True)):
        m.DataRow.objects.filter(pk=pk).update(created_at=start + dt.timedelta(seconds=0 if same_time else i // 3))


def test_pages_cover_every_row_once_in_order(reader):
    _rows(reader.model, 25)
    seen, cursor, pages = [], None, 0
    while True:
        rows, cursor = reader.data_rows_page(after=cursor, limit=10)
        seen += [r.title for r in rows]
        pages += 1
        if cursor is None:
            break
    assert pages == 3 and seen == [f"r{i:03d}.jpg" for i in range(25)]


def test_pages_work_when_every_row_has_the_same_time(reader):
    _rows(reader.model, 7, same_time=True)
    first, cursor = reader.data_rows_page(limit=4)
    second, end = reader.data_rows_page(after=cursor, limit=4)
    assert len(first) == 4 and len(second) == 3 and end is None
    assert {r.pk for r in first}.isdisjoint({r.pk for r in second})


def test_a_page_costs_two_queries_at_any_depth(reader, django_assert_num_queries):
    _rows(reader.model, 30)
    _, cursor = reader.data_rows_page(limit=25)
    with django_assert_num_queries(2):
        rows, _ = reader.data_rows_page(after=cursor, limit=5)
    assert len(rows) == 5


def test_bad_cursor_and_limit_are_refused(reader):
    with pytest.raises(InvalidArgumentError, match="cursor"):
        reader.data_rows_page(after="not-a-cursor")
    with pytest.raises(InvalidArgumentError, match="limit"):
        reader.data_rows_page(limit=0)


def test_pages_check_read_access(reader, db):
    stranger = UserFactory()
    with pytest.raises(ResourceNotFoundError):
        UserClient.for_user(stranger).get_dataset(reader.dataset_hash).data_rows_page()
