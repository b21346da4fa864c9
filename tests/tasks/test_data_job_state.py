"""Data-job state without a worker (enqueueing captured on commit): redelivery, ownership, long poll."""

from __future__ import annotations

import uuid

import pytest

from datasets_app import models as m
from datasets_app.sdk import UserClient, jobs
from tests.media.mediagen import make_image


def test_unit_finished_by_another_delivery_is_skipped(
    tmp_path, dataset, ds, django_capture_on_commit_callbacks
):
    # no worker: enqueueing is captured, and the job runs here, twice, interleaved
    files = [make_image(tmp_path / f"{i}.jpg", color=(i * 50, 0, 0)) for i in range(3)]
    with django_capture_on_commit_callbacks(execute=False):
        stored = ds._store_local_files(files, "image")
        process_hash = ds.start_data_job({"images": [{"objectUrl": k, "title": n} for k, n in stored]})
    job = m.DataJob.objects.get(process_hash=process_hash)
    first_unit = job.units.get(index=0)
    jobs.process_unit(job, first_unit)  # a first delivery died after unit 0
    jobs.process_unit(job, first_unit)  # the same unit again: a no-op
    assert jobs.run_data_job(job.pk) == "DONE"
    assert jobs.run_data_job(job.pk) == "DONE"
    assert m.DataRow.objects.filter(dataset=dataset).count() == 3
    assert ds.get_data_job(process_hash).units_done_count == 3


def test_job_of_another_user_is_not_found(
    tmp_path, dataset, ds, ds_admin, django_capture_on_commit_callbacks
):
    from datasets_app.sdk.exceptions import ResourceNotFoundError

    with django_capture_on_commit_callbacks(execute=False):
        process_hash = ds.upload_image_start(make_image(tmp_path / "a.jpg"))
    other = UserClient.for_user(ds_admin).get_dataset(str(dataset.dataset_hash))
    with pytest.raises(ResourceNotFoundError):
        other.get_data_job(process_hash)
    with pytest.raises(ResourceNotFoundError):
        ds.get_data_job(str(uuid.uuid4()))


def test_long_poll_returns_at_timeout_while_pending(tmp_path, ds, django_capture_on_commit_callbacks):
    import time

    with django_capture_on_commit_callbacks(execute=False):
        process_hash = ds.upload_image_start(make_image(tmp_path / "a.jpg"))
    t0 = time.monotonic()
    result = ds.wait_data_job(process_hash, 1)
    elapsed = time.monotonic() - t0
    assert result.status == "PENDING" and result.units_pending_count == 1
    assert 0.9 <= elapsed < 1.5
    t0 = time.monotonic()
    assert ds.wait_data_job(process_hash, 0).status == "PENDING"
    assert time.monotonic() - t0 < 0.2


def _start_with(ds, tmp_path, n, django_capture_on_commit_callbacks, django_assert_num_queries, budget):
    files = [make_image(tmp_path / f"{n}-{i}.jpg", color=(i, n, 0)) for i in range(n)]
    with django_capture_on_commit_callbacks(execute=False):
        stored = ds._store_local_files(files, "image")
        with django_assert_num_queries(budget):
            return ds.start_data_job({"images": [{"objectUrl": k, "title": t} for k, t in stored]})


def test_start_data_job_query_count_does_not_grow_with_items(
    tmp_path, ds, django_capture_on_commit_callbacks, django_assert_num_queries
):
    # policy check, slot lock+read, claim, job insert, one bulk unit insert (+ savepoint pair)
    small = _start_with(ds, tmp_path, 3, django_capture_on_commit_callbacks, django_assert_num_queries, 7)
    large = _start_with(ds, tmp_path, 30, django_capture_on_commit_callbacks, django_assert_num_queries, 7)
    assert ds.get_data_job(small).units_pending_count == 3
    assert ds.get_data_job(large).units_pending_count == 30


def test_unit_processing_queries_do_not_grow_with_dataset_size(
    tmp_path, dataset, ds, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    def one_image_job(i):
        with django_capture_on_commit_callbacks(execute=False):
            return ds.upload_image_start(make_image(tmp_path / f"x{i}.jpg", color=(i, 9, 9)))

    # 14: the unit's storage item is one more INSERT than when rows held the media, and the
    # dataset's counters one UPDATE (their row exists from create_dataset on; made here as the
    # factory skips create_dataset).
    m.DatasetStats.objects.get_or_create(dataset=dataset)
    job = m.DataJob.objects.get(process_hash=one_image_job(0))
    with django_assert_max_num_queries(14):
        jobs.run_data_job(job.pk)
    items = m.StorageItem.objects.bulk_create(
        [
            m.StorageItem(folder=dataset.backing_folder, name=f"r{i}", item_type="IMAGE", sha256=f"{i:064x}")
            for i in range(2000)
        ]
    )
    m.DataRow.objects.bulk_create([m.DataRow(dataset=dataset, item=item) for item in items])
    job = m.DataJob.objects.get(process_hash=one_image_job(1))
    with django_assert_max_num_queries(14):
        jobs.run_data_job(job.pk)
    assert m.DataRow.objects.filter(dataset=dataset).count() == 2002


def test_write_only_key_polls_its_own_job_and_read_key_cannot_upload(
    tmp_path, dataset, write_key, read_key, django_capture_on_commit_callbacks
):
    from datasets_app.sdk import Dataset
    from datasets_app.sdk.exceptions import OperationNotAllowed

    writer = Dataset.from_api_key(str(dataset.dataset_hash), write_key.secret)
    with django_capture_on_commit_callbacks(execute=False):
        process_hash = writer.upload_image_start(make_image(tmp_path / "k.jpg"))
    jobs.run_data_job(m.DataJob.objects.get(process_hash=process_hash).pk)
    assert writer.get_data_job(process_hash).status == "DONE"
    reader = Dataset.from_api_key(str(dataset.dataset_hash), read_key.secret)
    with pytest.raises(OperationNotAllowed):
        reader.upload_image_start(make_image(tmp_path / "r.jpg"))
    assert m.UploadSlot.objects.filter(api_key=read_key.model).count() == 0
