"""The Jobs page in Chromium: filters (kind, status, dataset, since) swap the rows in place and
stay in the URL; a job with a failed item reads "Done, 1 failed" (a warning, visible on phones);
once the bad file is replaced, "Retry 1 failed" runs the item again through the real worker and
the job ends a plain "Done". Screenshots at desktop and phone width."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from datasets_app import models as m
from datasets_app.sdk import UserClient
from tests.dashboard.test_upload import png, upload_file
from tests.factories import DataJobFactory, DataJobUnitFactory, DatasetFactory, ReEncodeTaskFactory, UserFactory

from .conftest import DESKTOP, PHONE, expect, sign_in

pytestmark = [pytest.mark.slow]


def _failed_upload(user, dataset_hash) -> m.DataJob:
    c = Client()
    c.force_login(user)
    dataset = m.Dataset.objects.get(dataset_hash=dataset_hash)
    # a PNG cut short passes the upload's content check and fails in the job
    ids = [upload_file(c, dataset, n, d) for n, d in [("good.png", png()), ("bad.png", png(64, 64)[:60])]]
    finish = reverse("dashboard:upload-finish", args=[dataset.dataset_hash])
    c.post(finish, {"mode": "images", "upload_id": ids})
    deadline = time.monotonic() + 60
    while not (job := m.DataJob.objects.get(dataset=dataset)).is_terminal:
        assert time.monotonic() < deadline, "the upload job did not end"
        time.sleep(0.2)
    return job


def _inside_phone_width(page, locator) -> None:
    page.set_viewport_size(PHONE)
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    page.set_viewport_size({"width": 1280, "height": 800})


@pytest.mark.django_db(transaction=True)
def test_filter_jobs_see_the_failed_item_and_retry_it(page, shoot, _module_worker_thread):
    user = UserFactory()
    client = UserClient.for_user(user)
    street = client.create_dataset("Street scenes")
    other = client.create_dataset("Other set")
    other_row = m.Dataset.objects.get(dataset_hash=other.dataset_hash)
    ReEncodeTaskFactory(dataset=other_row, created_by=user, status="DONE")
    job = _failed_upload(user, street.dataset_hash)
    # A failed upload's file is removed (no retry offered then): fix the cause, the stored object
    # replaced by a real image, and the retry is offered.
    bad = m.DataJobUnit.objects.get(job=job, status="ERROR")
    default_storage.save(bad.object_urls[0], ContentFile(png(40, 40)))
    sign_in(page, user)

    page.goto("/jobs")
    badge = page.locator("#job-rows tr[data-kind=upload] .status-badge")
    expect(badge).to_have_text("Done, 1 failed")
    expect(badge).to_have_class(re.compile(r"\bbadge-warn\b"))
    expect(page.locator("#job-rows tr")).to_have_count(3)  # header, the upload, the re-encode
    _inside_phone_width(page, badge)
    _inside_phone_width(page, page.locator("#job-rows tr[data-kind=upload] .job-retry button"))
    shoot(page, "jobs-list")

    # filters swap the rows in place and keep the choice in the URL
    page.select_option("#id_kind", "re-encode")
    expect(page).to_have_url(re.compile(r"/jobs\?.*kind=re-encode"))
    expect(page.locator("#job-rows tr[data-kind=upload]")).to_have_count(0)
    expect(page.locator("#job-rows tr[data-kind=re-encode]")).to_have_count(1)
    page.select_option("#id_kind", "")
    page.select_option("#id_dataset", label="Street scenes")
    page.select_option("#id_status", "FAILED_ITEMS")
    expect(page).to_have_url(re.compile(r"status=FAILED_ITEMS"))
    expect(page.locator("#job-rows tr[data-kind=re-encode]")).to_have_count(0)
    expect(page.locator("#job-rows tr[data-kind=upload]")).to_have_count(1)
    page.select_option("#id_since", "hour")
    expect(page.locator("#job-rows tr[data-kind=upload]")).to_have_count(1)
    shoot(page, "jobs-filtered")
    page.reload()  # the URL alone restores the filtered list
    expect(page.locator("#id_status")).to_have_value("FAILED_ITEMS")
    expect(page.locator("#job-rows tr[data-kind=upload]")).to_have_count(1)

    # the job's page offers the retry too
    page.goto(f"/datasets/{street.dataset_hash}/jobs/{job.process_hash}")
    expect(page.locator(".job-status button[name=retry]")).to_have_text("Retry 1 failed item")
    _inside_phone_width(page, page.locator(".job-status button[name=retry]"))
    shoot(page, "job-with-failed-item")

    # retry from the filtered list
    page.go_back()
    page.click("#job-rows tr[data-kind=upload] .job-retry button")
    expect(page.locator(".messages")).to_contain_text("Retrying 1 failed item.")
    expect(page).to_have_url(re.compile(r"status=FAILED_ITEMS"))
    # the item lands: the job no longer matches "Done, some failed"
    expect(page.locator("#job-rows")).to_contain_text("No jobs match these filters.", timeout=60_000)
    page.goto(f"/datasets/{street.dataset_hash}/jobs/{job.process_hash}")
    expect(page.locator(".job-status .status-badge")).to_have_text("Done")
    expect(page.locator(".job-status button[name=retry]")).to_have_count(0)
    assert m.DataRow.objects.filter(dataset__dataset_hash=street.dataset_hash).count() == 2
    shoot(page, "job-retried")


@pytest.mark.django_db(transaction=True)
def test_an_org_admin_sees_everyones_jobs_and_the_overviews_bars_open_a_day(page, shoot):
    admin = UserFactory(email="admin@example.com", is_org_admin=True)
    alice = UserFactory(email="alice.longname@example.com")
    street = DatasetFactory(title="Street scenes")
    drone = DatasetFactory(title="Drone survey 2024")
    failed = DataJobFactory(dataset=street, created_by=alice, status="DONE", units_total=2, ignore_errors=True)
    DataJobUnitFactory(job=failed, status="DONE")
    DataJobUnitFactory(job=failed, status="ERROR", error="bad.png: not an image")
    DataJobFactory(dataset=drone, created_by=alice, status="ERROR", message="The bucket refused the key.",
                   kind=m.DataJob.KIND_PRIVATE, units_total=3)
    ReEncodeTaskFactory(dataset=drone, created_by=admin, status="DONE")
    old = DataJobFactory(dataset=street, created_by=admin, status="ERROR", message="old failure", units_total=1)
    two_days_ago = timezone.now() - dt.timedelta(days=2)
    m.DataJob.objects.filter(pk=old.pk).update(created_at=two_days_ago)
    sign_in(page, admin)

    for viewport in (DESKTOP, PHONE):
        page.set_viewport_size(viewport)
        page.goto("/jobs")
        expect(page.locator("#job-rows tbody tr")).to_have_count(4)
        expect(page.locator("#id_whose")).to_have_value("everyone")
        expect(page.locator("#job-rows thead")).to_contain_text("Started by")
        expect(page.locator("#job-rows")).to_contain_text("alice.longname@example.com")
        # an organisation admin may retry anyone's failed items, from the list (inside a phone's width)
        _inside_phone_width(page, page.locator("#job-rows .job-retry button"))
        page.set_viewport_size(viewport)
    shoot(page, "jobs-org")

    # Whose: mine narrows to the admin's own jobs, in place, in the URL
    page.select_option("#id_whose", "mine")
    expect(page).to_have_url(re.compile(r"/jobs\?.*whose=mine"))
    expect(page.locator("#job-rows tbody tr")).to_have_count(2)
    expect(page.locator("#job-rows tbody")).not_to_contain_text("alice.longname")

    # The Overview's failed-jobs bar for two days ago opens that day's jobs in error
    page.goto("/overview")
    day = two_days_ago.astimezone(dt.timezone.utc).date().isoformat()
    page.locator(f'#chart-failed a[href="/jobs?status=ERROR&day={day}"] rect').click()
    expect(page).to_have_url(re.compile(rf"/jobs\?status=ERROR&day={day}$"))
    expect(page.locator("#id_day")).to_have_value(day)
    expect(page.locator("#job-rows tbody tr")).to_have_count(1)
    expect(page.locator("#job-rows tbody")).to_contain_text("old failure")
    shoot(page, "jobs-org-day")
    # and today's count below the chart opens today's failed jobs, both kinds of failure
    page.goto("/overview")
    page.locator("#chart-failed").locator("xpath=..").locator("ol.chart-days li").last.locator("a").click()
    expect(page.locator("#id_status")).to_have_value("FAILED")
    expect(page.locator("#job-rows tbody tr")).to_have_count(2)
