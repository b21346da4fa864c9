"""Data-job state without a worker (enqueueing captured on commit): redelivery, ownership, long poll."""

from __future__ import annotations

import uuid

import pytest

from datasets_app import models as m
from datasets_app.sdk import UserClient, jobs
from tests.media.mediagen import make_image


@pytest.fixture
def ds(dataset, ds_user):
    return UserClient.for_user(ds_user).get_dataset(str(dataset.dataset_hash))


def test_unit_finished_by_another_delivery_is_skipped(tmp_path, dataset, ds, django_capture_on_commit_callbacks):
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


def test_job_of_another_user_is_not_found(tmp_path, dataset, ds, ds_admin, django_capture_on_commit_callbacks):
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
