"""The Jobs page: filters by kind, status, dataset and time kept in the URL (htmx swaps the rows),
a job whose items partly failed reads "Done, N failed" as a warning, and its failed items can be
retried from the list and from the job's page."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from datasets_app import models as m
from tests.factories import DataJobFactory, DataJobUnitFactory, DatasetFactory, DatasetMembershipFactory, ReEncodeTaskFactory

from .conftest import HX


def _failed_job(dataset, user, **kw):
    job = DataJobFactory(dataset=dataset, created_by=user, units_total=2, ignore_errors=True, status="DONE", **kw)
    DataJobUnitFactory(job=job, status="DONE")
    DataJobUnitFactory(job=job, status="ERROR", error="bad.png: not an image")
    return job


@pytest.fixture
def jobs(dataset, ds_user):
    other = DatasetFactory(title="Other set")
    DatasetMembershipFactory(dataset=other, user=ds_user, role=m.DatasetUserRole.USER)
    failed = _failed_job(dataset, ds_user)
    ok = DataJobFactory(dataset=dataset, created_by=ds_user, units_total=1, status="DONE")
    DataJobUnitFactory(job=ok, status="DONE")
    imp = DataJobFactory(dataset=other, created_by=ds_user, units_total=1, kind=m.DataJob.KIND_PRIVATE)
    task = ReEncodeTaskFactory(dataset=other, created_by=ds_user)
    old = DataJobFactory(dataset=dataset, created_by=ds_user, units_total=1, status="ERROR", message="old")
    m.DataJob.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=3))
    return {"failed": failed, "ok": ok, "import": imp, "task": task, "old": old, "other": other}


def _shown(body, job):
    return str(job.process_hash)[:8] in body if isinstance(job, m.DataJob) else f"Re-encode #{job.pk}<" in body


@pytest.mark.parametrize(
    "params,expected",
    [
        ({}, {"failed", "ok", "import", "task", "old"}),
        ({"kind": "upload"}, {"failed", "ok", "old"}),
        ({"kind": "import"}, {"import"}),
        ({"kind": "re-encode"}, {"task"}),
        ({"status": "PENDING"}, {"import", "task"}),
        ({"status": "FAILED_ITEMS"}, {"failed"}),
        ({"status": "ERROR"}, {"old"}),
        ({"since": "day"}, {"failed", "ok", "import", "task"}),
        ({"since": "week", "kind": "upload", "status": "ERROR"}, {"old"}),
    ],
)
def test_filters_narrow_the_list(as_user, ds_user, jobs, params, expected, django_assert_max_num_queries):
    c = as_user(ds_user)
    with django_assert_max_num_queries(8):
        body = c.get(reverse("dashboard:jobs"), params).content.decode()
    shown = {name for name in ("failed", "ok", "import", "task", "old") if _shown(body, jobs[name])}
    assert shown == expected


def test_dataset_filter_lists_the_users_job_datasets_and_keeps_the_choice(as_user, ds_user, dataset, jobs):
    other = jobs["other"]
    body = as_user(ds_user).get(reverse("dashboard:jobs"), {"dataset": str(other.dataset_hash)}).content.decode()
    assert f'<option value="{other.dataset_hash}" selected>Other set</option>' in body
    assert f'<option value="{dataset.dataset_hash}">' in body
    assert _shown(body, jobs["import"]) and _shown(body, jobs["task"]) and not _shown(body, jobs["ok"])


def test_htmx_filter_request_answers_with_the_rows_only_and_pushes_the_url(as_user, ds_user, jobs):
    c = as_user(ds_user)
    page = c.get(reverse("dashboard:jobs")).content.decode()
    assert 'hx-push-url="true"' in page and 'hx-target="#job-rows"' in page
    assert f'<option value="{jobs["other"].dataset_hash}">Other set</option>' in page
    rows = c.get(reverse("dashboard:jobs"), {"kind": "import"}, **HX).content.decode()
    assert rows.startswith('<section id="job-rows"') and "<form class=\"filters\"" not in rows
    # while a job runs the rows poll the filtered URL, not the unfiltered one
    assert 'hx-get="/jobs?kind=import"' in rows


def test_no_match_says_so_with_a_way_back(as_user, ds_user, jobs):
    body = as_user(ds_user).get(reverse("dashboard:jobs"), {"kind": "import", "status": "ERROR"}).content.decode()
    assert "No jobs match these filters." in body and "No jobs yet." not in body


def test_a_bad_filter_is_named_and_all_jobs_are_shown(as_user, ds_user, jobs):
    response = as_user(ds_user).get(reverse("dashboard:jobs"), {"since": "year"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "since &#x27;year&#x27; is not one of: hour, day, week, all" in body and "Showing all jobs instead." in body
    assert _shown(body, jobs["old"])


def test_done_with_failed_items_is_a_warning_badge_in_the_list(as_user, ds_user, jobs):
    body = as_user(ds_user).get(reverse("dashboard:jobs")).content.decode()
    badges = re.findall(r'<span class="([^"]*status-badge[^"]*)"[^>]*>([^<]*)</span>', body)
    assert ("badge status-badge badge-warn", "Done, 1 failed") in badges
    assert ("badge status-badge status-DONE", "Done") in badges  # the job without failures
    assert sum(1 for _, text in badges if text == "Done") == 1


def test_retry_from_the_list_queues_the_job_and_comes_back_to_the_filtered_list(
    as_user, ds_user, dataset, jobs, django_capture_on_commit_callbacks
):
    c = as_user(ds_user)
    body = c.get(reverse("dashboard:jobs"), {"kind": "upload"}).content.decode()
    assert body.count("Retry 1 failed") == 1  # only the job with failed items offers it
    url = reverse("dashboard:data-job", args=[dataset.dataset_hash, jobs["failed"].process_hash])
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = c.post(url, {"retry": "1", "next": "/jobs?kind=upload"}, follow=True)
    assert response.redirect_chain[-1][0] == "/jobs?kind=upload"
    assert "Retrying 1 failed item." in response.content.decode() and len(queued) == 1
    jobs["failed"].refresh_from_db()
    assert jobs["failed"].status == "PENDING"


def test_retry_button_on_the_jobs_page_and_a_job_without_failures_is_refused(as_user, ds_user, dataset, jobs):
    c = as_user(ds_user)
    failed_url = reverse("dashboard:data-job", args=[dataset.dataset_hash, jobs["failed"].process_hash])
    assert "Retry 1 failed item<" in c.get(failed_url).content.decode()
    ok_url = reverse("dashboard:data-job", args=[dataset.dataset_hash, jobs["ok"].process_hash])
    assert "Retry" not in c.get(ok_url).content.decode()
    response = c.post(ok_url, {"retry": "1"}, follow=True)
    assert response.redirect_chain[-1][0] == ok_url
    assert "This job has no failed items to retry." in response.content.decode()


def test_retry_is_refused_to_others_and_next_must_stay_on_this_site(as_user, ds_user, ds_admin, dataset, jobs, django_capture_on_commit_callbacks):
    url = reverse("dashboard:data-job", args=[dataset.dataset_hash, jobs["failed"].process_hash])
    stranger = DatasetMembershipFactory(dataset=dataset, role=m.DatasetUserRole.USER).user
    assert as_user(stranger).post(url, {"retry": "1"}).status_code in (403, 404)
    with django_capture_on_commit_callbacks(execute=False):
        response = as_user(ds_admin).post(url, {"retry": "1", "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == url


def test_no_retry_is_offered_for_an_upload_whose_failed_file_is_gone(as_user, ds_user, dataset):
    job = DataJobFactory(dataset=dataset, created_by=ds_user, units_total=1, ignore_errors=True, status="DONE")
    DataJobUnitFactory(job=job, status="ERROR", error="gone.png: not an image", object_urls=["uploads/gone"])
    c = as_user(ds_user)
    body = c.get(reverse("dashboard:jobs")).content.decode()
    assert "Done, 1 failed" in body and "Retry" not in body
    url = reverse("dashboard:data-job", args=[dataset.dataset_hash, job.process_hash])
    assert "Retry" not in c.get(url).content.decode()
    refused = c.post(url, {"retry": "1"}, follow=True).content.decode()
    assert re.search(r"Nothing to retry: the uploaded file of item \d+ was removed when it failed; upload it again\.", refused)
