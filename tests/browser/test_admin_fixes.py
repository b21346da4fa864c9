"""What a new admin tripped on, in Chromium at desktop and phone width: a cloud storage location is
explained on the create form and the data/upload tabs; an API key's expiry shows the chosen day and
its created page shows the SDK 0.1.145 snippet; deleting a dataset asks for its title."""

from __future__ import annotations

import re

import pytest

from datasets_app import models as m
from tests.factories import UserFactory

from .conftest import expect, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_storage_note_key_expiry_snippet_and_delete_by_title(page, shoot):
    admin = UserFactory(email="admin@example.com", is_org_admin=True)
    sign_in(page, admin)

    # create an "AWS S3" dataset: the form says what the location means
    page.goto("/datasets/new")
    expect(page.locator("#id_storage_location_help")).to_contain_text("Import from cloud")
    page.fill("#id_title", "Harbour cameras")
    page.select_option("#id_storage_location", label="AWS S3")
    shoot(page, "admin-fixes-create-form")
    page.click("button:has-text('Create dataset')")
    note = page.locator("#storage-note")
    expect(note).to_contain_text("is a label")
    expect(note).to_contain_text("stored on this server")
    shoot(page, "admin-fixes-storage-note-data")
    page.click("nav.tabs >> text=Upload")
    expect(page.locator("#storage-note")).to_contain_text("Import from cloud")
    shoot(page, "admin-fixes-storage-note-upload")
    dataset = m.Dataset.objects.get(title="Harbour cameras")
    assert dataset.storage_location == m.StorageLocation.AWS

    # an API key expiring on 2027-06-30 shows that day; the created page shows the 0.1.145 snippet
    page.click("nav.tabs >> text=API keys")
    page.fill("#id_title", "nightly export")
    page.fill("#id_expires_on", "2027-06-30")
    page.click("button:has-text('Create key')")
    expect(page.locator("text=works until the end of")).to_contain_text("2027-06-30")
    snippet = page.locator("#python-snippet")
    expect(snippet).to_contain_text("EncordClient.initialise(")
    expect(snippet).to_contain_text("client.get_dataset()")
    expect(page.locator("text=need Encord’s SDK")).to_contain_text("0.1.145")
    assert "2027-07-01" not in page.content()
    shoot(page, "admin-fixes-key-created")
    page.click("text=Done")
    row = page.locator("table tr", has_text="nightly export").first
    expect(row).to_contain_text("2027-06-30")
    assert "2027-07-01" not in page.content()
    # the Revoke button is not clipped by the table's box at desktop width
    revoke, box = row.locator("text=Revoke…").bounding_box(), page.locator(".table-wrap").first.bounding_box()
    assert revoke["x"] + revoke["width"] <= box["x"] + box["width"], (revoke, box)
    shoot(page, "admin-fixes-key-list")

    # deleting asks for the title: a wrong one is refused next to the field, the right one deletes
    page.click("nav.tabs >> text=Settings")
    page.click("text=Delete dataset…")
    page.click("button:has-text('Delete dataset')")
    expect(page.locator("#id_confirm_title_error")).to_contain_text("Type the dataset’s title")
    shoot(page, "admin-fixes-delete-empty")
    page.fill("#id_confirm_title", "Harbour camera")
    page.click("button:has-text('Delete dataset')")
    expect(page.locator("#id_confirm_title_error")).to_contain_text("does not match")
    assert m.Dataset.objects.filter(pk=dataset.pk).exists()
    shoot(page, "admin-fixes-delete-refused")
    page.fill("#id_confirm_title", "Harbour cameras")
    page.click("button:has-text('Delete dataset')")
    expect(page).to_have_url(re.compile(r"/datasets$"))
    expect(page.locator(".message-success")).to_contain_text("Harbour cameras")
    assert not m.Dataset.objects.filter(pk=dataset.pk).exists()


def test_delete_confirmation_fits_a_long_title(page, shoot):
    admin = UserFactory(email="admin2@example.com", is_org_admin=True)
    title = "x" * 1024
    from datasets_app.sdk import UserClient

    created = UserClient.for_user(admin).create_dataset(title, 1)
    sign_in(page, admin)
    page.goto(f"/datasets/{created.dataset_hash}/delete")
    expect(page.locator("#id_confirm_title")).to_be_visible()
    shoot(page, "admin-fixes-delete-long-title")
