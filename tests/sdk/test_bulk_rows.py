"""Acting on every row a filter matches (issue 14, sdk/bulk_rows.py): delete by filter in chunks,
re-encode the matching videos, link into another dataset (a mirror refused, saying why), export as
CSV and JSON, and the confirm summary by kind."""

from __future__ import annotations

import csv
import io
import json

import pytest

from datasets_app import models as m
from datasets_app.sdk import UserClient, bulk_rows, dataset_stats
from datasets_app.sdk.bulk_rows import RowFilter
from datasets_app.sdk.exceptions import AuthorisationError, InvalidArgumentError
from tests.factories import DataRowFactory, DatasetFactory, DatasetMembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return UserFactory(email="admin@example.com")


@pytest.fixture
def mirror(admin):
    ds = DatasetFactory(title="Mirror")
    DatasetMembershipFactory(dataset=ds, user=admin, role=m.DatasetUserRole.ADMIN)
    return ds


def opened(user, ds):
    return UserClient.for_user(user).get_dataset(str(ds.dataset_hash))


def many_rows(ds, n, *, prefix, item_type="VIDEO", size=10):
    """n items in the dataset's folder and the rows linking them, in two bulk inserts."""
    items = m.StorageItem.objects.bulk_create(
        [m.StorageItem(folder=ds.backing_folder, name=f"{prefix}-{i}", item_type=item_type, file_size=size) for i in range(n)]
    )
    m.DataRow.objects.bulk_create([m.DataRow(dataset=ds, item=i) for i in items])


def test_delete_by_filter_removes_2000_matching_rows_and_their_items_and_keeps_the_rest(admin, mirror):
    many_rows(mirror, 2000, prefix="drop")
    many_rows(mirror, 10, prefix="keep", item_type="IMAGE")
    dataset_stats.reconcile([mirror.pk])
    ds = opened(admin, mirror)
    assert bulk_rows.delete_matching(ds, RowFilter(q="drop")) == 2000
    assert m.DataRow.objects.filter(dataset=mirror).count() == 10
    assert m.StorageItem.objects.filter(folder=mirror.backing_folder).count() == 10  # a mirror's items go too
    figures = dataset_stats.figures_for([mirror.pk])[mirror.pk]
    assert (figures.videos, figures.images, figures.total_bytes) == (0, 10, 100)
    assert figures == dataset_stats.recount(mirror.pk)


def test_delete_by_filter_needs_delete_data(mirror):
    user = UserFactory()
    DatasetMembershipFactory(dataset=mirror, user=user, role=m.DatasetUserRole.USER)
    many_rows(mirror, 3, prefix="x")
    with pytest.raises(AuthorisationError):
        bulk_rows.delete_matching(opened(user, mirror), RowFilter())
    assert m.DataRow.objects.filter(dataset=mirror).count() == 3


def test_summary_counts_by_kind_from_counters_or_a_group_by(admin, mirror):
    many_rows(mirror, 12, prefix="cat", item_type="VIDEO", size=3)
    many_rows(mirror, 4, prefix="dog", item_type="IMAGE", size=1)
    dataset_stats.reconcile([mirror.pk])
    ds = opened(admin, mirror)
    everything = bulk_rows.summary(ds, RowFilter())
    assert everything.kinds() == [("videos", 12), ("images", 4)] and everything.total_bytes == 40
    assert bulk_rows.summary(ds, RowFilter(data_type="IMAGE")).kinds() == [("images", 4)]
    cats = bulk_rows.summary(ds, RowFilter(q="cat-1"))  # cat-1, cat-10, cat-11
    assert cats.kinds() == [("videos", 3)] and cats.total_bytes == 9


def test_reencode_matching_queues_only_the_matching_videos(admin, mirror, django_capture_on_commit_callbacks):
    many_rows(mirror, 5, prefix="clip", item_type="VIDEO")
    many_rows(mirror, 3, prefix="clip-still", item_type="IMAGE")
    with django_capture_on_commit_callbacks(execute=False):
        [task_id] = bulk_rows.reencode_matching(opened(admin, mirror), RowFilter(q="clip"))
    assert m.ReEncodeVideo.objects.filter(task_id=task_id).count() == 5


def test_link_matching_adds_the_items_to_a_plain_dataset_and_refuses_a_mirror_saying_why(admin, mirror):
    many_rows(mirror, 6, prefix="car")
    plain = DatasetFactory(backing_folder=None, title="Training")
    DatasetMembershipFactory(dataset=plain, user=admin, role=m.DatasetUserRole.ADMIN)
    other_mirror = DatasetFactory(title="Other")
    DatasetMembershipFactory(dataset=other_mirror, user=admin, role=m.DatasetUserRole.ADMIN)
    m.FolderMembership.objects.create(folder=mirror.backing_folder, user=admin, role=0)
    ds = opened(admin, mirror)
    assert bulk_rows.link_matching(ds, RowFilter(q="car-"), str(plain.dataset_hash)) == 6
    assert set(m.DataRow.objects.filter(dataset=plain).values_list("item_id", flat=True)) == set(
        m.DataRow.objects.filter(dataset=mirror).values_list("item_id", flat=True)
    )
    assert dataset_stats.figures_for([plain.pk])[plain.pk].videos == 6
    with pytest.raises(InvalidArgumentError, match="mirrors a folder"):
        bulk_rows.link_matching(ds, RowFilter(), str(other_mirror.dataset_hash))


def test_export_streams_csv_and_json_of_the_matching_rows(admin, mirror):
    row = DataRowFactory(dataset=mirror, title="a, \"quoted\" name", file_size=7, data_type="IMAGE")
    m.StorageItem.objects.filter(pk=row.item_id).update(client_metadata={"camera": "front", "n": 2})
    DataRowFactory(dataset=mirror, title="other")
    ds = opened(admin, mirror)
    lines = bulk_rows.export_rows(ds, RowFilter(q="quoted"), "csv")
    assert not isinstance(lines, (list, str))  # a generator, consumed as the response streams
    [header, only] = list(csv.reader(io.StringIO("".join(lines))))
    assert header == list(bulk_rows.EXPORT_FIELDS)
    assert only[:5] == [str(row.data_hash), 'a, "quoted" name', "IMAGE", "7", str(row.item.item_uuid)]
    assert only[5] == str(mirror.backing_folder.folder_uuid) and json.loads(only[6]) == {"camera": "front", "n": 2}
    records = json.loads("".join(bulk_rows.export_rows(ds, RowFilter(), "json")))
    assert [r["title"] for r in records] == ['a, "quoted" name', "other"]
    assert records[0]["client_metadata"] == {"camera": "front", "n": 2} and records[0]["size"] == 7
    with pytest.raises(InvalidArgumentError):
        bulk_rows.export_rows(ds, RowFilter(), "xml")
