"""The Jobs page in Chromium with Files jobs: a folder upload names its folder (a link that opens
it), a storage re-encode reads "Files", beside a dataset's upload; filters swap them in place.
Screenshots at desktop and phone width."""

from __future__ import annotations

import re

import pytest

from datasets_app import models as m
from tests.factories import (
    DataJobFactory,
    DataJobUnitFactory,
    DatasetFactory,
    ReEncodeTaskFactory,
    StorageFolderFactory,
    StorageItemFactory,
    UserFactory,
)

from .conftest import expect, sign_in

pytestmark = [pytest.mark.slow]


@pytest.mark.django_db(transaction=True)
def test_files_jobs_beside_dataset_jobs(page, shoot):
    admin = UserFactory(email="admin@example.com", is_org_admin=True)
    alice = UserFactory(email="alice.longname@example.com")
    folder = StorageFolderFactory(name="Drone footage, spring survey 2024 (raw)", owner=alice)
    upload = DataJobFactory(dataset=None, folder=folder, created_by=alice, status="DONE", units_total=2, ignore_errors=True)
    DataJobUnitFactory(job=upload, status="DONE")
    DataJobUnitFactory(job=upload, status="ERROR", error="bad.png: not an image")
    item = StorageItemFactory(folder=folder)
    task = ReEncodeTaskFactory(dataset=None, created_by=admin, status="DONE", title="Fix variable frame rate")
    m.ReEncodeVideo.objects.create(task=task, item=item, item_uuid=item.item_uuid, status="DONE")
    DataJobFactory(dataset=DatasetFactory(title="Street scenes"), created_by=admin, status="DONE", units_total=1)
    sign_in(page, admin)

    page.goto("/jobs")
    rows = page.locator("#job-rows tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("#job-rows thead")).to_contain_text("Where")
    expect(page.locator("#job-rows tbody")).to_contain_text("Fix variable frame rate")
    shoot(page, "jobs-files")
    page.select_option("#id_kind", "re-encode")
    expect(page).to_have_url(re.compile(r"/jobs\?.*kind=re-encode"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Files")
    page.select_option("#id_kind", "")
    expect(rows).to_have_count(3)
    page.get_by_role("link", name=re.compile("Drone footage")).click()
    expect(page).to_have_url(re.compile(rf"/files/{folder.folder_uuid}$"))
