"""Retrying the failed items of a data job (sdk/job_retry.py) with a real worker: an item whose
file was bad fails again while it stays bad, lands once its stored object is replaced; a job with
no failed items, a running job and someone who may not are each refused with a clear message."""

from __future__ import annotations

import time

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from datasets_app import models as m
from datasets_app.sdk.exceptions import AuthorisationError, InvalidArgumentError
from datasets_app.sdk.job_listing import clean_job_filters
from datasets_app.sdk.job_retry import retry_data_job
from datasets_app.sdk.policy import Principal
from tests.dashboard.test_upload import png, upload_file
from tests.factories import DataJobFactory, DataJobUnitFactory, DatasetMembershipFactory


def _wait_terminal(job_pk, timeout=60.0) -> m.DataJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = m.DataJob.objects.get(pk=job_pk)
        if job.is_terminal:
            return job
        time.sleep(0.2)
    raise AssertionError("the job did not end in time")


def _upload_job(user, dataset, files) -> m.DataJob:
    c = Client()
    c.force_login(user)
    ids = [upload_file(c, dataset, name, data) for name, data in files]
    finish = c.post(reverse("dashboard:upload-finish", args=[dataset.dataset_hash]), {"mode": "images", "upload_id": ids})
    assert finish.status_code == 201, finish.content
    return _wait_terminal(m.DataJob.objects.get(dataset=dataset).pk)


def test_retry_runs_the_failed_item_again_until_its_cause_is_fixed(data_worker, dataset, ds_user):
    # A PNG cut short: its header passes the upload's content check, the job cannot decode it.
    truncated = png(64, 64)[:60]
    job = _upload_job(ds_user, dataset, [("good.png", png()), ("bad.png", truncated)])
    assert (job.status, m.DataRow.objects.filter(dataset=dataset).count()) == ("DONE", 1)
    bad = m.DataJobUnit.objects.get(job=job, status="ERROR")
    first_error = bad.error
    assert first_error
    me = Principal(user=ds_user)

    # A failed upload's file was removed: retrying it could only fail, so it is refused by name.
    with pytest.raises(InvalidArgumentError, match="the uploaded file of bad.png was removed when it failed"):
        retry_data_job(me, str(dataset.dataset_hash), str(job.process_hash))
    assert m.DataJob.objects.get(pk=job.pk).status == "DONE"

    # Put back, still broken: the item fails again, with its error.
    key = bad.object_urls[0]
    default_storage.save(key, ContentFile(truncated))
    assert retry_data_job(me, str(dataset.dataset_hash), str(job.process_hash)) == 1
    job = _wait_terminal(job.pk)
    bad.refresh_from_db()
    assert (job.status, bad.status, bad.error) == ("DONE", "ERROR", first_error)

    # Fixed (the stored object replaced by a real image): the item lands.
    if default_storage.exists(key):
        default_storage.delete(key)
    default_storage.save(key, ContentFile(png(32, 32)))
    assert retry_data_job(me, str(dataset.dataset_hash), str(job.process_hash)) == 1
    job = _wait_terminal(job.pk)
    bad.refresh_from_db()
    assert (job.status, bad.status, bad.error) == ("DONE", "DONE", "")
    assert m.DataRow.objects.filter(dataset=dataset).count() == 2

    # Nothing failed any more: refused with a clear message, the job untouched.
    with pytest.raises(InvalidArgumentError, match="no failed items to retry"):
        retry_data_job(me, str(dataset.dataset_hash), str(job.process_hash))
    assert m.DataJob.objects.get(pk=job.pk).status == "DONE"


def _failed_job(dataset, user, status="DONE"):
    job = DataJobFactory(dataset=dataset, created_by=user, units_total=2, ignore_errors=True, status=status)
    DataJobUnitFactory(job=job, status="DONE")
    DataJobUnitFactory(job=job, status="ERROR", error="bad.png: not an image")
    return job


def test_who_may_retry_the_starter_dataset_admins_and_org_admins(dataset, ds_user, ds_admin, org_admin, django_capture_on_commit_callbacks):
    other_user = DatasetMembershipFactory(dataset=dataset, role=m.DatasetUserRole.USER).user
    job = _failed_job(dataset, ds_user)
    with pytest.raises(AuthorisationError, match="Only the one who started this job"):
        retry_data_job(Principal(user=other_user), str(dataset.dataset_hash), str(job.process_hash))
    for who in (ds_user, ds_admin, org_admin):
        job = _failed_job(dataset, ds_user)
        with django_capture_on_commit_callbacks() as queued:
            assert retry_data_job(Principal(user=who), str(dataset.dataset_hash), str(job.process_hash)) == 1
        assert len(queued) == 1
        job.refresh_from_db()
        unit = job.units.get(status="PENDING")
        assert (job.status, job.finished_at, unit.error) == ("PENDING", None, "")


def test_a_second_click_and_a_running_job_are_refused(dataset, ds_user, django_capture_on_commit_callbacks):
    job = _failed_job(dataset, ds_user)
    args = (Principal(user=ds_user), str(dataset.dataset_hash), str(job.process_hash))
    with django_capture_on_commit_callbacks() as queued:
        retry_data_job(*args)
        with pytest.raises(InvalidArgumentError, match="still running"):
            retry_data_job(*args)
    assert len(queued) == 1


def test_a_job_that_added_nothing_retries_its_rolled_back_items_too(dataset, ds_user, django_capture_on_commit_callbacks):
    job = DataJobFactory(dataset=dataset, created_by=ds_user, units_total=2, ignore_errors=False, status="ERROR")
    DataJobUnitFactory(job=job, status="CANCELLED", error="Rolled back")
    DataJobUnitFactory(job=job, status="ERROR", error="bad")
    with django_capture_on_commit_callbacks():
        assert retry_data_job(Principal(user=ds_user), str(dataset.dataset_hash), str(job.process_hash)) == 2


@pytest.mark.parametrize(
    "params,message",
    [
        ({"kind": "banana"}, "kind 'banana' is not one of: upload, import, re-encode"),
        ({"status": "nope"}, "status 'nope' is not one of"),
        ({"since": "year"}, "since 'year' is not one of: hour, day, week, all"),
        ({"dataset": "xyz"}, "dataset 'xyz' is not a valid UUID"),
    ],
)
def test_bad_filters_are_named(params, message):
    with pytest.raises(InvalidArgumentError, match=message):
        clean_job_filters(params)
