"""The Overview page in Chromium at desktop and phone width: an organisation admin opens it from
the nav, sees four charts drawn (bars with size), follows a failed-jobs link to the Jobs page
filtered; an empty organisation says "Nothing yet". No console errors; screenshots overview-*."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from datasets_app import models as m
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

from .conftest import DESKTOP, PHONE, expect, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

VERDICTS = ["ok", "ok", "ok", "at risk", "unknown", None]


def organisation(admin) -> None:
    """Twelve datasets of different sizes (two sharing items), items over the month, failed jobs
    over the week, videos of every verdict."""
    now = timezone.now()
    titles = ["Street scenes", "Warehouse cameras", "Drone survey 2024", "Chest CT (anonymised)"]
    titles += [f"Batch {n:02d}" for n in range(8)]
    datasets = [DatasetFactory(title=t, created_by=admin) for t in titles]
    for i, ds in enumerate(datasets):
        for j in range(12 - i):
            verdict = VERDICTS[(i + j) % len(VERDICTS)]
            row = DataRowFactory(
                dataset=ds,
                file_size=(12 - i) * 40_000_000 + j * 1_000_000,
                media_info={"verdict": verdict} if verdict else {},
            )
            age = (i * 5 + j * 3) % 30
            m.StorageItem.objects.filter(pk=row.item_id).update(created_at=now - dt.timedelta(days=age))
            if i == 0 and j < 4:
                DataRowFactory(dataset=datasets[1], item=row.item)
    StorageItemFactory(folder=datasets[0].backing_folder, url="https://bucket.example/a.mp4", storage_key="")
    for day in range(7):
        for _ in range(day % 3):
            job = DataJobFactory(dataset=datasets[day % 4], status="ERROR", created_by=admin)
            m.DataJob.objects.filter(pk=job.pk).update(created_at=now - dt.timedelta(days=day))
        if day % 2 == 0:
            job = DataJobFactory(dataset=datasets[0], status="DONE", created_by=admin)
            DataJobUnitFactory(job=job, status="ERROR")
            m.DataJob.objects.filter(pk=job.pk).update(created_at=now - dt.timedelta(days=day))
    task = ReEncodeTaskFactory(dataset=datasets[2], status="DONE", created_by=admin)
    ReEncodeVideoFactory(task=task, status="ERROR")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_an_org_admin_sees_the_overview_charts(page, shoot, viewport):
    admin = UserFactory(email="admin@example.com", is_org_admin=True)
    organisation(admin)
    page.set_viewport_size(viewport)
    sign_in(page, admin)

    page.click("nav.mainnav >> text=Overview")
    expect(page).to_have_url(re.compile(r"/overview$"))
    expect(page.locator("h1")).to_have_text("Overview")
    for chart in ("#chart-storage", "#chart-items", "#chart-failed", "#chart-verdicts"):
        expect(page.locator(chart)).to_be_visible()
    # Bars are drawn with a size (not collapsed by the layout) at this width.
    biggest = page.locator("#chart-storage .bar-storage").first.bounding_box()
    assert biggest and biggest["width"] > viewport["width"] * 0.4
    column = page.locator("#chart-items .bar-items").first.bounding_box()
    assert column and column["height"] > 3
    expect(page.locator("#chart-storage")).to_contain_text("2 other datasets")
    expect(page.locator(".overview-links li")).to_have_count(10)
    page.click("text=Show the numbers")
    expect(page.locator(".chart-numbers table")).to_be_visible()
    if viewport == DESKTOP:
        shoot(page, "overview")

    page.click("a:has-text('ended in error')")
    expect(page).to_have_url(re.compile(r"/jobs\?status=ERROR&since=week$"))
    expect(page.locator("#id_status")).to_have_value("ERROR")


def test_an_empty_organisation_says_nothing_yet(page, shoot):
    admin = UserFactory(email="admin@example.com", is_org_admin=True)
    sign_in(page, admin)
    page.goto("/overview")
    expect(page.locator("#overview-empty")).to_contain_text("Nothing yet")
    assert page.locator("svg").count() == 0
    shoot(page, "overview-empty")


def test_the_overview_is_not_in_a_members_nav(page):
    member = UserFactory(email="member@example.com")
    sign_in(page, member)
    expect(page.locator("nav.mainnav")).not_to_contain_text("Overview")
    response = page.goto("/overview")
    assert response.status == 404
    # The browser logs the 404 it was answered (this test's point); nothing else may be logged.
    errors = page.console_watch.errors
    assert len(errors) == 1 and "404" in errors[0], errors
    errors.clear()
