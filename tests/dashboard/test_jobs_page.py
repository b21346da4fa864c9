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
from tests.factories import (
    DataJobFactory,
    DataJobUnitFactory,
    DatasetFactory,
    DatasetMembershipFactory,
    ReEncodeTaskFactory,
    UserFactory,
)

from .conftest import HX, jobs_page_rounds


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
    # session, user, data jobs, re-encodes, waiting queues (2), retryable, whose, dataset choices
    with django_assert_max_num_queries(9):
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


# ---- whose jobs: organisation admins see everyone's, dataset ADMINs their datasets' ----------


@pytest.fixture
def others(dataset, ds_user):
    """Jobs of two other people: one in `dataset`, one in a dataset ds_user has no role in."""
    alice = UserFactory(email="alice@example.com")
    bob = UserFactory(email="bob@example.com")
    elsewhere = DatasetFactory(title="Elsewhere")
    return {
        "alice": _failed_job(dataset, alice),
        "bob": DataJobFactory(dataset=elsewhere, created_by=bob, units_total=1, status="ERROR", message="bad"),
        "mine": DataJobFactory(dataset=dataset, created_by=ds_user, units_total=1, status="DONE"),
        "elsewhere": elsewhere,
    }


def test_org_admin_sees_everyones_jobs_with_who_started_them(as_user, org_admin, others):
    body = as_user(org_admin).get(reverse("dashboard:jobs")).content.decode()
    assert all(_shown(body, others[k]) for k in ("alice", "bob", "mine"))
    assert "<th>Started by</th>" in body
    assert "alice@example.com" in body and "bob@example.com" in body
    assert '<option value="everyone" selected>Everyone</option>' in body
    assert f'<option value="{others["elsewhere"].dataset_hash}">Elsewhere</option>' in body


def test_org_admin_narrows_to_their_own_jobs(as_user, org_admin, dataset, others):
    mine = DataJobFactory(dataset=dataset, created_by=org_admin, units_total=1, status="DONE")
    body = as_user(org_admin).get(reverse("dashboard:jobs"), {"whose": "mine"}).content.decode()
    assert _shown(body, mine) and not any(_shown(body, others[k]) for k in ("alice", "bob", "mine"))
    assert '<option value="mine" selected>Mine</option>' in body


def test_org_admin_retries_anothers_failed_job_from_the_list(as_user, org_admin, dataset, others, django_capture_on_commit_callbacks):
    c = as_user(org_admin)
    body = c.get(reverse("dashboard:jobs")).content.decode()
    assert body.count("Retry 1 failed") == 1
    # another's upload page is its starter's: the list names the job without a link that would 404
    url = reverse("dashboard:data-job", args=[dataset.dataset_hash, others["alice"].process_hash])
    assert f'href="{url}"' not in body and f'action="{url}"' in body
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = c.post(url, {"retry": "1", "next": "/jobs"}, follow=True)
    assert response.redirect_chain[-1][0] == "/jobs" and len(queued) == 1


def test_dataset_admin_sees_the_jobs_of_the_datasets_they_administer_only(as_user, ds_admin, ds_user, others):
    # ds_admin administers `dataset`; Elsewhere (bob's job) is not theirs
    theirs = DataJobFactory(dataset=others["elsewhere"], created_by=ds_admin, units_total=1, status="DONE")
    DatasetMembershipFactory(dataset=others["elsewhere"], user=ds_admin, role=m.DatasetUserRole.USER)
    body = as_user(ds_admin).get(reverse("dashboard:jobs")).content.decode()
    assert _shown(body, others["alice"]) and _shown(body, others["mine"]) and _shown(body, theirs)
    assert not _shown(body, others["bob"])
    assert "<th>Started by</th>" in body and "alice@example.com" in body
    mine_only = as_user(ds_admin).get(reverse("dashboard:jobs"), {"whose": "mine"}).content.decode()
    assert _shown(mine_only, theirs) and not _shown(mine_only, others["alice"])


def test_a_dataset_user_still_sees_only_their_own_jobs(as_user, ds_user, others):
    c = as_user(ds_user)
    for params in ({}, {"whose": "everyone"}):
        body = c.get(reverse("dashboard:jobs"), params).content.decode()
        assert _shown(body, others["mine"])
        assert not _shown(body, others["alice"]) and not _shown(body, others["bob"])
        assert "Started by" not in body and 'name="whose"' not in body


def test_day_filter_shows_the_jobs_started_that_day_in_utc(as_user, ds_user, dataset, jobs):
    old_day = m.DataJob.objects.get(pk=jobs["old"].pk).created_at
    day = old_day.astimezone(dt.timezone.utc).date().isoformat()
    body = as_user(ds_user).get(reverse("dashboard:jobs"), {"day": day}).content.decode()
    shown = {name for name in ("failed", "ok", "import", "task", "old") if _shown(body, jobs[name])}
    assert shown == {"old"}
    assert f'name="day" value="{day}"' in body  # kept in the form, so other filters keep the day
    today = timezone.now().astimezone(dt.timezone.utc).date().isoformat()
    body = as_user(ds_user).get(reverse("dashboard:jobs"), {"day": today}).content.decode()
    assert {n for n in ("failed", "ok", "import", "task", "old") if _shown(body, jobs[n])} == {"failed", "ok", "import", "task"}


def test_a_bad_day_is_named(as_user, ds_user, jobs):
    body = as_user(ds_user).get(reverse("dashboard:jobs"), {"day": "2025-02-30"}).content.decode()
    assert "day &#x27;2025-02-30&#x27; is not a date (YYYY-MM-DD)." in body and "Showing all jobs instead." in body


def _many_jobs(dataset, users: int, per_user: int) -> None:
    for _ in range(users):
        user = UserFactory()
        other = DatasetFactory()
        for _ in range(per_user):
            _failed_job(dataset, user)
            DataJobFactory(dataset=other, created_by=user, units_total=1, status="PENDING")
            ReEncodeTaskFactory(dataset=other, created_by=user)


def test_org_admin_list_costs_the_same_queries_whatever_the_number_of_jobs_and_users(as_user, org_admin, dataset):
    counts, rows, made = jobs_page_rounds(
        as_user(org_admin), ((2, 1), (12, 3)), lambda users, per_user: _many_jobs(dataset, users, per_user)
    )
    assert rows == [3 * 2, 2, 3 * made, made]  # everyone's, and their failed ones
    # session, user, data jobs, re-encodes, waiting queues (2), retryable, whose; + dataset choices
    assert counts[:2] == counts[2:] and max(counts) <= 9, counts


def test_failed_status_lists_errors_and_jobs_done_with_failed_items(as_user, ds_user, jobs):
    body = as_user(ds_user).get(reverse("dashboard:jobs"), {"status": "FAILED"}).content.decode()
    assert {n for n in ("failed", "ok", "import", "task", "old") if _shown(body, jobs[n])} == {"failed", "old"}
