"""Acting on many items in Chromium at desktop and phone width (issue 14): filter the data table,
"Select all N matching" (more than one page), the confirm page says how many and which kinds,
delete, done; sort by a column header and page on; the row page's metadata editor refuses invalid
JSON as you type and saves an object. No console errors; screenshots bulk-*."""

from __future__ import annotations

import re

import pytest

from datasets_app import models as m
from datasets_app.sdk import dataset_stats
from tests.factories import DatasetFactory, DatasetMembershipFactory, UserFactory

from .conftest import DESKTOP, PHONE, expect, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def seeded(admin):
    """A mirror dataset: 130 'cat' videos and 20 'dog' images (more than a page of 100)."""
    ds = DatasetFactory(title="Street scenes", created_by=admin)
    DatasetMembershipFactory(dataset=ds, user=admin, role=m.DatasetUserRole.ADMIN)
    specs = [(f"cat-{i:03d}.mp4", "VIDEO", 1_000_000 + i * 1000) for i in range(130)]
    specs += [(f"dog-{i:03d}.jpg", "IMAGE", 50_000 + i) for i in range(20)]
    items = m.StorageItem.objects.bulk_create(
        [
            m.StorageItem(folder=ds.backing_folder, name=n, item_type=t, file_size=s, client_metadata={"camera": f"cam-{i % 3}"})
            for i, (n, t, s) in enumerate(specs)
        ]
    )
    m.DataRow.objects.bulk_create([m.DataRow(dataset=ds, item=i) for i in items])
    dataset_stats.reconcile([ds.pk])
    return ds


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_select_all_matching_confirm_and_delete(page, shoot, viewport):
    admin = UserFactory(email="admin@example.com")
    ds = seeded(admin)
    page.set_viewport_size(viewport)
    sign_in(page, admin)
    page.click(f"a:has-text('{ds.title}')")
    expect(page.locator("#dataset-figures")).to_contain_text("150 items: 130 videos, 20 images")
    page.fill("#id_q", "cat")
    expect(page.locator("#data-rows .bulkbar")).to_contain_text("1–100 of 130")
    expect(page).to_have_url(re.compile(r"q=cat"))
    if viewport == DESKTOP:
        page.fill("#id_col", "camera")
        page.press("#id_col", "Enter")
        expect(page.locator("th.col-meta")).to_have_text("camera")
        shoot(page, "bulk-table")
    page.click("#select-all-matching")
    expect(page).to_have_url(re.compile(r"/rows/all\?q=cat"))
    expect(page.locator("#bulk-summary")).to_have_text("130 rows: 130 videos")
    if viewport == DESKTOP:
        shoot(page, "bulk-confirm")
    page.click("button:has-text('Delete 130 rows')")
    expect(page.locator(".messages")).to_contain_text("Deleted 130 rows.")
    expect(page.locator("#dataset-figures")).to_contain_text("20 items: 20 images")
    expect(page.locator("#data-rows .bulkbar")).to_contain_text("1–20 of 20")
    assert m.DataRow.objects.filter(dataset=ds).count() == 20
    if viewport == DESKTOP:
        shoot(page, "bulk-done")


def test_sorting_by_a_header_and_paging_to_the_last_page(page, shoot):
    admin = UserFactory(email="admin@example.com")
    ds = seeded(admin)
    sign_in(page, admin)
    page.goto(f"/datasets/{ds.dataset_hash}")
    page.click("th >> a.sort-link:has-text('Size')")
    expect(page.locator("th[aria-sort=ascending]")).to_contain_text("Size")
    expect(page.locator("#data-rows tbody tr").first).to_contain_text("dog-000.jpg")
    page.click("th >> a.sort-link:has-text('Size')")
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("Size")
    expect(page.locator("#data-rows tbody tr").first).to_contain_text("cat-129.mp4")
    page.click("a:has-text('Last »')")
    expect(page.locator(".pagination")).to_contain_text("101–150 of 150")
    expect(page.locator("#data-rows tbody tr").last).to_contain_text("dog-000.jpg")
    page.click("a:has-text('← Previous')")
    expect(page.locator(".pagination")).to_contain_text("1–100 of 150")
    expect(page.locator("#data-rows tbody tr").first).to_contain_text("cat-129.mp4")
    shoot(page, "bulk-sorted")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_metadata_edit_on_the_row_page(page, shoot, viewport):
    admin = UserFactory(email="admin@example.com")
    ds = seeded(admin)
    row = m.DataRow.objects.filter(dataset=ds, item__name="dog-000.jpg").get()
    page.set_viewport_size(viewport)
    sign_in(page, admin)
    page.goto(f"/datasets/{ds.dataset_hash}/rows/{row.data_hash}")
    expect(page.locator("#row-metadata")).to_contain_text("cam-")
    page.click("#edit-metadata")
    editor = page.locator("#id_client_metadata")
    expect(editor).to_be_visible()
    editor.fill('{"camera": "rear", "speed": }')
    expect(page.locator("#metadata-error")).to_contain_text("not valid JSON")
    expect(page.locator("button:has-text('Save metadata')")).to_be_disabled()
    if viewport == DESKTOP:
        shoot(page, "bulk-metadata-error")
    editor.fill('{"camera": "rear", "speed": 31, "tags": ["night", "rain"]}')
    expect(page.locator("#metadata-error")).to_be_hidden()
    page.click("button:has-text('Save metadata')")
    expect(page.locator("#row-metadata table")).to_contain_text("rear")
    expect(page.locator("#row-metadata table")).to_contain_text('["night", "rain"]')
    assert m.StorageItem.objects.get(pk=row.item_id).client_metadata["speed"] == 31
    if viewport == DESKTOP:
        shoot(page, "bulk-metadata")
