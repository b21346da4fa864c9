"""The organisation overview's figures (datasets_app/sdk/overview.py): storage by dataset, items
added per day, jobs failed in the last week, videos at risk. Organisation admins only
(Op.SEE_ORGANISATION); every figure is aggregated in the database in a fixed number of queries."""

from __future__ import annotations

import datetime as dt

import pytest

from datasets_app import models as m
from datasets_app.sdk import overview
from datasets_app.sdk.exceptions import AuthorisationError
from datasets_app.sdk.policy import Principal
from tests.factories import (
    DataJobFactory,
    DataJobUnitFactory,
    DataRowFactory,
    DatasetFactory,
    ReEncodeTaskFactory,
    ReEncodeVideoFactory,
    StorageItemFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2025, 3, 20, 15, 0, tzinfo=dt.timezone.utc)
TODAY = NOW.date()
# Queries organisation_overview makes, whatever the data size.
QUERY_BUDGET = 8


def figures(user, now=NOW) -> overview.Overview:
    return overview.organisation_overview(Principal(user=user), now=now)


def at(created: dt.datetime, *objs) -> None:
    """Back-date rows (created_at is auto_now_add, so set it with an UPDATE)."""
    for obj in objs:
        type(obj).objects.filter(pk=obj.pk).update(created_at=created)


def days_ago(n: int) -> dt.datetime:
    return NOW - dt.timedelta(days=n)


# ---- who may ----------------------------------------------------------------------------------------


def test_org_admin_gets_the_overview(org_admin):
    assert isinstance(figures(org_admin), overview.Overview)


@pytest.mark.parametrize("persona", ["ds_admin", "ds_user", "stranger"])
def test_anyone_but_an_org_admin_is_refused(request, persona):
    with pytest.raises(AuthorisationError):
        figures(request.getfixturevalue(persona))


def test_a_deactivated_org_admin_is_refused(db):
    with pytest.raises(AuthorisationError):
        figures(UserFactory(is_org_admin=True, is_active=False))


def test_a_dataset_api_key_is_refused(read_key):
    with pytest.raises(AuthorisationError):
        overview.organisation_overview(Principal(api_key=read_key.model), now=NOW)


# ---- storage --------------------------------------------------------------------------------------------


def test_an_item_two_datasets_link_counts_in_each_dataset_and_once_in_the_total(org_admin):
    a = DatasetFactory(title="Alpha")
    b = DatasetFactory(title="Beta")
    shared = DataRowFactory(dataset=a, file_size=200).item
    DataRowFactory(dataset=a, file_size=100)
    DataRowFactory(dataset=b, item=shared)
    # A dataset linking the same item twice still counts it once.
    DataRowFactory(dataset=b, item=shared)
    DataRowFactory(dataset=b, file_size=50, url="https://bucket.example/x.mp4", storage_key="")

    got = figures(org_admin)

    assert [(d.title, d.bytes, d.items) for d in got.storage] == [("Alpha", 300, 2), ("Beta", 250, 2)]
    assert got.storage[0].dataset_hash == str(a.dataset_hash)
    assert got.linked_bytes == 550
    # Hosted: the files we store (not the cloud one), each item once.
    assert (got.hosted_bytes, got.hosted_items) == (300, 2)
    assert (got.files_bytes, got.files_items) == (350, 3)
    assert got.other is None


def test_storage_shows_the_top_ten_and_the_rest_as_other(org_admin):
    for size in range(1, 13):
        DataRowFactory(dataset=DatasetFactory(title=f"D{size:02d}"), file_size=size)
    DatasetFactory(title="Empty")

    got = figures(org_admin)

    assert [d.title for d in got.storage] == [f"D{s:02d}" for s in range(12, 2, -1)]
    assert got.other == overview.OtherDatasets(datasets=2, bytes=3, items=2)
    assert got.linked_bytes == sum(range(1, 13))
    assert got.largest_bytes == 12


def test_items_of_unknown_size_count_as_items_with_no_bytes(org_admin):
    ds = DatasetFactory(title="Sizes")
    DataRowFactory(dataset=ds, file_size=None)
    DataRowFactory(dataset=ds, file_size=10)
    got = figures(org_admin)
    assert [(d.bytes, d.items) for d in got.storage] == [(10, 2)]


# ---- items per day --------------------------------------------------------------------------------------


def test_items_added_per_day_cover_the_last_thirty_days_with_zeros(org_admin):
    folder = DatasetFactory().backing_folder
    today = [StorageItemFactory(folder=folder) for _ in range(3)]
    at(days_ago(0), *today)
    at(days_ago(1) - dt.timedelta(hours=20), StorageItemFactory(folder=folder))  # two days back: 19:00
    at(days_ago(29), StorageItemFactory(folder=folder), StorageItemFactory(folder=folder))
    at(days_ago(30), StorageItemFactory(folder=folder))  # too old

    per_day = figures(org_admin).items_per_day

    assert len(per_day) == 30
    assert per_day[0].day == TODAY - dt.timedelta(days=29)
    assert per_day[-1].day == TODAY
    counts = {d.day: d.count for d in per_day}
    assert counts[TODAY] == 3
    assert counts[TODAY - dt.timedelta(days=2)] == 1
    assert counts[TODAY - dt.timedelta(days=29)] == 2
    assert sum(counts.values()) == 6


# ---- failed jobs -----------------------------------------------------------------------------------------


def _data_job(status, *, unit_statuses=(), created):
    job = DataJobFactory(status=status)
    for s in unit_statuses:
        DataJobUnitFactory(job=job, status=s)
    at(created, job)
    return job


def _reencode(status, *, video_statuses=(), created):
    task = ReEncodeTaskFactory(status=status)
    for s in video_statuses:
        ReEncodeVideoFactory(task=task, status=s)
    at(created, task)
    return task


def test_jobs_failed_last_week_per_day_count_errors_and_done_with_failures(org_admin):
    E, D = "ERROR", "DONE"
    _data_job(E, created=days_ago(0))
    _data_job(D, unit_statuses=[D, E, E], created=days_ago(0))  # done, some failed: one job
    _data_job(D, unit_statuses=[D, D], created=days_ago(0))  # clean: not counted
    _data_job("PENDING", unit_statuses=[E], created=days_ago(0))  # still running: not yet
    _data_job(E, created=days_ago(6))
    _data_job(E, created=days_ago(7))  # a week ago is outside the last seven days
    _reencode(E, created=days_ago(2))
    _reencode(D, video_statuses=[D, E], created=days_ago(2))
    _reencode(D, video_statuses=[D], created=days_ago(2))
    _reencode("SUBMITTED", created=days_ago(2))

    got = figures(org_admin)

    assert [d.day for d in got.failed_jobs] == [TODAY - dt.timedelta(days=n) for n in range(6, -1, -1)]
    by_day = {d.day: (d.errors, d.with_failures) for d in got.failed_jobs}
    assert by_day[TODAY] == (1, 1)
    assert by_day[TODAY - dt.timedelta(days=2)] == (1, 1)
    assert by_day[TODAY - dt.timedelta(days=6)] == (1, 0)
    assert (got.failed_errors, got.failed_with_failures) == (3, 2)
    assert got.failed_jobs[-1].total == 2


# ---- videos at risk --------------------------------------------------------------------------------------


def test_videos_are_counted_by_verdict_and_the_datasets_holding_risky_ones_listed(org_admin):
    a = DatasetFactory(title="Clips")
    b = DatasetFactory(title="More clips")
    risky = DataRowFactory(dataset=a, media_info={"verdict": "at risk", "reasons": ["VFR"]}).item
    DataRowFactory(dataset=b, item=risky)
    DataRowFactory(dataset=a, media_info={"verdict": "at risk"})
    DataRowFactory(dataset=a, media_info={"verdict": "unknown"})
    DataRowFactory(dataset=b, media_info={"verdict": "ok"})
    DataRowFactory(dataset=b, media_info={})  # not checked yet
    DataRowFactory(dataset=b, data_type=m.DataType.IMAGE, media_info={"verdict": "at risk"})  # not a video

    got = figures(org_admin)

    assert {v.verdict: v.count for v in got.verdicts} == {
        "at risk": 2,
        "unknown": 1,
        "not checked": 1,
        "ok": 1,
    }
    assert got.videos_at_risk == 3
    assert [(d.title, d.videos) for d in got.at_risk_datasets] == [("Clips", 3), ("More clips", 1)]
    assert got.at_risk_datasets[0].dataset_hash == str(a.dataset_hash)


# ---- empty, and the query budget -------------------------------------------------------------------------


def test_an_empty_organisation_has_nothing_yet(org_admin):
    got = figures(org_admin)
    assert got.is_empty
    assert got.storage == [] and got.other is None and got.at_risk_datasets == []
    assert got.linked_bytes == got.hosted_bytes == got.files_items == 0
    assert len(got.items_per_day) == 30 and not any(d.count for d in got.items_per_day)
    assert len(got.failed_jobs) == 7 and not any(d.total for d in got.failed_jobs)
    assert got.largest_day_count == 0 and got.largest_failed_day == 0


def _organisation(n: int) -> None:
    for i in range(n):
        ds = DatasetFactory()
        row = DataRowFactory(dataset=ds, file_size=i + 1, media_info={"verdict": "at risk"})
        DataRowFactory(dataset=ds, file_size=5)
        _data_job("ERROR", created=days_ago(i % 7))
        _reencode("DONE", video_statuses=["ERROR"], created=days_ago(i % 7))
        if i % 2:
            DataRowFactory(dataset=DatasetFactory(), item=row.item)


@pytest.mark.parametrize("size", [3, 30])
def test_the_overview_takes_a_fixed_number_of_queries(org_admin, django_assert_max_num_queries, size):
    _organisation(size)
    with django_assert_max_num_queries(QUERY_BUDGET):
        got = figures(org_admin)
    assert got.failed_errors == size
    assert got.videos_at_risk == size
