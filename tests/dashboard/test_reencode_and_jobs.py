"""Re-encode pages (confirm, task page polled until DONE), the frame-sync panel, and the jobs page."""

from __future__ import annotations

import pytest
from django.core.files import File
from django.core.files.storage import default_storage
from django.urls import reverse

from datasets_app import models as m
from datasets_app.sdk import UserClient
from datasets_app.tasks import reencode_videos_task
from tests.factories import (
    DataJobFactory,
    DataJobUnitFactory,
    DataRowFactory,
    ReEncodeTaskFactory,
    ReEncodeVideoFactory,
)
from tests.media.test_video import make_video, vfr_pts

from .conftest import HX

pytestmark = pytest.mark.django_db


@pytest.fixture
def vfr_row(dataset, tmp_path):
    path = make_video(tmp_path / "vfr.mp4", pts=vfr_pts(24))
    row = DataRowFactory(dataset=dataset, title="vfr.mp4")
    with open(path, "rb") as fh:
        default_storage.save(row.storage_key, File(fh, name="vfr.mp4"))
    from datasets_app.sdk import reencode_jobs

    reencode_jobs.probe_row(row)  # as the import's worker does: the page itself never probes
    return row


def test_video_page_shows_verdict_reasons_and_plot(as_user, dataset, ds_user, vfr_row):
    page = as_user(ds_user).get(reverse("dashboard:data-row", args=[dataset.dataset_hash, vfr_row.data_hash]))
    body = page.content.decode()
    assert page.status_code == 200
    assert 'id="frame-sync"' in body and "at risk" in body
    assert "<polyline points=" in body and "Re-encode this video" in body


def test_reencode_confirm_start_and_poll_until_done(
    as_user, dataset, ds_user, vfr_row, django_capture_on_commit_callbacks
):
    image = DataRowFactory(dataset=dataset, data_type="IMAGE", title="pic.png")
    c = as_user(ds_user)
    start = reverse("dashboard:reencode-start", args=[dataset.dataset_hash])
    confirm = c.get(start, {"data_hash": [str(vfr_row.data_hash), str(image.data_hash)]})
    body = confirm.content.decode()
    assert (
        confirm.status_code == 200 and "vfr.mp4" in body and "pic.png" not in body and "not a video" in body
    )
    with django_capture_on_commit_callbacks(execute=False):
        started = c.post(start, {"data_hash": [str(vfr_row.data_hash)]})
    assert started.status_code == 302
    task = m.ReEncodeTask.objects.get()
    assert started["Location"] == reverse("dashboard:reencode-task", args=[dataset.dataset_hash, task.pk])
    polling = c.get(started["Location"], **HX).content.decode()
    assert polling.lstrip().startswith(f'<section class="card job-status" id="task-{task.pk}"')
    assert 'hx-trigger="every 2s"' in polling and "Working" in polling
    reencode_videos_task(task.pk)
    done = c.get(started["Location"], **HX)
    text = done.content.decode()
    assert "hx-trigger" not in text and 'data-status="DONE"' in text and "Watch" in text
    assert done["Vary"] and "HX-Request" in done["Vary"]
    full = c.get(started["Location"]).content.decode()
    assert "<html" in full and "Re-encode task #" in full


def test_reencode_pages_are_404_for_strangers(as_user, dataset, stranger, vfr_row, ds_admin):
    c = as_user(stranger)
    assert (
        c.get(
            reverse("dashboard:reencode-start", args=[dataset.dataset_hash]),
            {"data_hash": [str(vfr_row.data_hash)]},
        ).status_code
        == 404
    )
    task_id = (
        UserClient.for_user(ds_admin)
        .get_dataset(str(dataset.dataset_hash))
        .re_encode_data([str(vfr_row.data_hash)])
    )
    assert c.get(reverse("dashboard:reencode-task", args=[dataset.dataset_hash, task_id])).status_code == 404
    assert (
        as_user(ds_admin)
        .get(reverse("dashboard:reencode-task", args=[dataset.dataset_hash, 999999]))
        .status_code
        == 404
    )


def test_reencode_without_selection_is_a_message(as_user, dataset, ds_user):
    response = as_user(ds_user).get(
        reverse("dashboard:reencode-start", args=[dataset.dataset_hash]), follow=True
    )
    assert "Select at least one data item." in response.content.decode()


def _jobs(dataset, user, n):
    for i in range(n):
        DataJobFactory(dataset=dataset, created_by=user, units_total=1)
        ReEncodeTaskFactory(dataset=dataset, created_by=user)


@pytest.mark.parametrize("count", [2, 15])
def test_jobs_page_lists_uploads_and_reencodes_in_constant_queries(
    as_user, dataset, ds_user, count, django_assert_max_num_queries
):
    _jobs(dataset, ds_user, count)
    c = as_user(ds_user)
    # 7: one to decide whether the viewer sees others' jobs (the "Whose" filter), then as before
    with django_assert_max_num_queries(7):
        response = c.get(reverse("dashboard:jobs"))
    body = response.content.decode()
    assert body.count("Re-encode #") == count and body.count("Upload ") >= count
    assert 'hx-trigger="every 2s"' in body  # some job is still running


def test_jobs_page_only_shows_own_jobs_and_is_empty_state_otherwise(as_user, dataset, ds_user, ds_admin):
    _jobs(dataset, ds_admin, 1)
    body = as_user(ds_user).get(reverse("dashboard:jobs")).content.decode()
    assert "No jobs yet." in body and "hx-trigger" not in body


def test_data_job_of_someone_else_is_404(as_user, dataset, ds_user, ds_admin):
    job = DataJobFactory(dataset=dataset, created_by=ds_admin, units_total=1)
    assert (
        as_user(ds_user)
        .get(reverse("dashboard:data-job", args=[dataset.dataset_hash, job.process_hash]))
        .status_code
        == 404
    )


@pytest.mark.parametrize("count", [1, 12])
def test_reencode_task_page_queries_are_constant(
    as_user, dataset, ds_user, tmp_path, count, django_assert_max_num_queries
):
    rows = DataRowFactory.create_batch(count, dataset=dataset)
    task = ReEncodeTaskFactory(dataset=dataset, created_by=ds_user)
    for r in rows:
        ReEncodeVideoFactory(task=task, data_row=r)
    c = as_user(ds_user)
    url = reverse("dashboard:reencode-task", args=[dataset.dataset_hash, task.pk])
    with django_assert_max_num_queries(7):
        response = c.get(url)
    assert response.content.decode().count('class="status-SUBMITTED"') == count


@pytest.mark.parametrize("count", [1, 12])
def test_data_job_page_queries_are_constant(as_user, dataset, ds_user, count, django_assert_max_num_queries):
    job = DataJobFactory(dataset=dataset, created_by=ds_user, units_total=count, status="DONE")
    for i in range(count):
        DataJobUnitFactory(job=job, index=i, status="ERROR", error=f"broken {i}", action_description="Uploading image")
    c = as_user(ds_user)
    with django_assert_max_num_queries(7):
        response = c.get(reverse("dashboard:data-job", args=[dataset.dataset_hash, job.process_hash]))
    assert response.content.decode().count("broken ") == count


def test_reencode_task_shows_frames_while_encoding(as_user, dataset, ds_user):
    """A video at 528 of 900 frames reads "Encoding, 528 / 900 frames", not "Submitted"."""
    task = ReEncodeTaskFactory(dataset=dataset, created_by=ds_user)
    ReEncodeVideoFactory(task=task, data_row=DataRowFactory(dataset=dataset, title="busy.mp4"),
                         frames_done=528, frames_total=900)
    ReEncodeVideoFactory(task=task, data_row=DataRowFactory(dataset=dataset, title="next.mp4"))
    url = reverse("dashboard:reencode-task", args=[dataset.dataset_hash, task.pk])
    text = as_user(ds_user).get(url, **HX).content.decode()
    assert "Encoding, 528 / 900 frames" in text and "Waiting to start" in text
    assert "Submitted" not in text
    assert "0 of 2 videos done" in text  # the task's line under its bar
