"""The data table's sorts (issue 14): every sort, both ways, pages through all rows exactly once in
order (next), back again (previous) and from the end (last), with ties and missing values; the
dataset page takes the sort from the URL."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from datasets_app import models as m
from datasets_app.sdk import dataset_stats
from datasets_app.sdk.data_table import SORTS, Sort, decode_cursor, matching_count, nearby_pages, rows_page, table_queryset
from datasets_app.sdk.exceptions import InvalidArgumentError
from tests.conftest import signed_in
from tests.factories import DataRowFactory, DatasetFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def table():
    """37 rows with many equal titles, types, sizes and durations, some sizes/durations missing."""
    ds = DatasetFactory()
    rnd = random.Random(7)
    base = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    for i in range(37):
        row = DataRowFactory(
            dataset=ds,
            title=rnd.choice(["a", "b", "c"]),
            data_type=rnd.choice(["VIDEO", "IMAGE"]),
            file_size=rnd.choice([None, 5, 10]),
            duration=rnd.choice([None, 1.5, 2.0]),
        )
        # equal creation times too (a bulk insert gives one `now` to many rows)
        m.DataRow.objects.filter(pk=row.pk).update(created_at=base + dt.timedelta(seconds=i // 4))
    return ds


def key_of(sort: Sort, row):
    """The expected order: NULL larger than any value; ties by item, then row."""
    col = SORTS[sort.key][0]
    value = row.created_at if col == "created_at" else getattr(row.item, col.split("__", 1)[1])
    ties = (row.id,) if sort.key == "created" else (row.item_id, row.id)
    return ((value is None, value if value is not None else 0), ties)


def walk_forward(qs, sort, limit):
    seen, page = [], rows_page(qs, sort, limit=limit)
    seen += page.rows
    while page.next_cursor:
        page = rows_page(qs, sort, after=page.next_cursor, limit=limit)
        seen += page.rows
    return seen, page


@pytest.mark.parametrize("key", list(SORTS))
@pytest.mark.parametrize("desc", [False, True])
@pytest.mark.parametrize("plain", [False, True], ids=["mirror", "plain"])
def test_every_sort_pages_through_all_rows_once_in_order_both_ways(table, key, desc, plain):
    sort = Sort(key, desc)
    if plain:  # the same rows in a dataset without a backing folder
        table.backing_folder = None
    qs = table_queryset(table, m.DataRow.objects.filter(dataset=table).select_related("item"))
    expected = sorted(qs, key=lambda r: key_of(sort, r), reverse=desc)
    seen, last_page = walk_forward(qs, sort, limit=5)
    assert [r.pk for r in seen] == [r.pk for r in expected]
    # back from the end, page by page
    back, page = [], rows_page(qs, sort, last=True, limit=5)
    assert [r.pk for r in page.rows] == [r.pk for r in expected[-len(page.rows):]] and page.next_cursor is None
    back = page.rows + back
    while page.prev_cursor:
        page = rows_page(qs, sort, before=page.prev_cursor, limit=5)
        back = page.rows + back
    assert [r.pk for r in back] == [r.pk for r in expected]


def test_a_cursor_of_another_sort_or_garbage_is_refused():
    cursor_of_title = "WyJ0aXRsZSIsImEiLDEsMV0"  # ["title","a",1,1]
    with pytest.raises(InvalidArgumentError):
        decode_cursor(Sort("size"), cursor_of_title)
    with pytest.raises(InvalidArgumentError):
        decode_cursor(Sort("created"), "bm9wZQ")
    assert decode_cursor(Sort("title"), cursor_of_title) == ("a", (1, 1))


def test_sort_parse_falls_back_to_oldest_first():
    assert Sort.parse("-size") == Sort("size", True) and Sort.parse("drop table") == Sort()


def test_counts_come_from_the_counters_unless_a_title_filter_is_capped(table, settings):
    dataset_stats.reconcile([table.pk])
    qs = m.DataRow.objects.filter(dataset=table)
    figures = dataset_stats.figures_for([table.pk])[table.pk]
    assert matching_count(figures, qs, title_like=None, data_types=None).value == 37
    videos = qs.filter(item__item_type="VIDEO").count()
    assert matching_count(figures, qs, title_like=None, data_types=["VIDEO"]).value == videos
    got = matching_count(figures, qs.filter(item__name="a"), title_like="a", data_types=None)
    assert got.exact and got.value == qs.filter(item__name="a").count()


def test_the_dataset_page_sorts_from_the_url_and_says_where_you_are(table, ds_user, dataset):
    dataset_stats.reconcile([table.pk])
    m.DatasetMembership.objects.filter(user=ds_user).update(dataset=table)
    client = signed_in(ds_user)
    url = f"/datasets/{table.dataset_hash}"
    body = client.get(url, {"sort": "-size"}).content.decode()
    assert "1–37 of 37" in body
    assert 'aria-sort="descending"' in body
    first_size = max((r.item.file_size is None, r.item.file_size or 0) for r in m.DataRow.objects.filter(dataset=table).select_related("item"))
    assert first_size[0] is True  # a missing size comes first going down


@pytest.mark.parametrize("key", ["created", "size", "title"])
@pytest.mark.parametrize("desc", [False, True])
def test_nearby_page_cursors_land_where_walking_page_by_page_lands(table, key, desc):
    sort = Sort(key, desc)
    qs = table_queryset(table, m.DataRow.objects.filter(dataset=table).select_related("item"))
    pages = [rows_page(qs, sort, limit=5)]
    while pages[-1].next_cursor:
        pages.append(rows_page(qs, sort, after=pages[-1].next_cursor, limit=5))
    assert len(pages) == 8  # 37 rows
    near = nearby_pages(qs, sort, pages[3], limit=5)
    assert [rows_page(qs, sort, after=c, limit=5).rows for c in near["ahead"]] == [pages[4].rows, pages[5].rows]
    assert [rows_page(qs, sort, before=c, limit=5).rows for c in near["behind"]] == [pages[2].rows, pages[1].rows]
    edge = nearby_pages(qs, sort, pages[6], limit=5)
    assert len(edge["ahead"]) == 1 and rows_page(qs, sort, after=edge["ahead"][0], limit=5).rows == pages[7].rows
    assert nearby_pages(qs, sort, pages[0], limit=5)["behind"] == []


def test_the_page_links_numbered_pages_nearby(ds_user, dataset):
    items = m.StorageItem.objects.bulk_create(
        [m.StorageItem(folder=dataset.backing_folder, name=f"r{i:03d}", item_type="IMAGE", file_size=i) for i in range(450)]
    )
    m.DataRow.objects.bulk_create([m.DataRow(dataset=dataset, item=i) for i in items])
    dataset_stats.reconcile([dataset.pk])
    client = signed_in(ds_user)
    first = client.get(f"/datasets/{dataset.dataset_hash}", {"sort": "size"}).content.decode()
    assert 'aria-current="page">1</span>' in first and 'aria-label="Page 2"' in first and 'aria-label="Page 3"' in first
    import re

    [href] = re.findall(r'href="(\?at=[^"]+)"[^>]*aria-label="Page 3"', first)
    third = client.get(f"/datasets/{dataset.dataset_hash}{href.replace('&amp;', '&')}").content.decode()
    assert "201–300 of 450" in third and "r200" in third and "r300" not in third and "r199" not in third
    assert 'aria-label="Page 1"' in third and 'aria-label="Page 5"' in third and 'aria-current="page">3</span>' in third
