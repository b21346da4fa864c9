"""The Files area in Chromium at desktop and phone width: create a folder and a subfolder from
the pages, follow the breadcrumbs, filter the items by metadata in the URL, select items, add them
to a dataset and see them there, and see on a row's page where its item lives. No console errors."""

from __future__ import annotations

import io
import re

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from datasets_app import models as m
from datasets_app.models.metadata import ORGANISATION_ID
from tests.factories import DatasetFactory, DatasetMembershipFactory, StorageItemFactory, UserFactory

from .conftest import DESKTOP, PHONE, expect, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def thumbnail(name: str, colour: str) -> str:
    data = io.BytesIO()
    Image.new("RGB", (96, 72), colour).save(data, "JPEG")
    return default_storage.save(f"thumbnails/{name}.jpg", ContentFile(data.getvalue()))


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_folders_filter_and_add_to_dataset(page, shoot, live_server, viewport):
    tag = "desktop" if viewport == DESKTOP else "phone"

    def snap(name: str) -> None:
        if viewport == DESKTOP:
            shoot(page, name)
        page.set_viewport_size(viewport)

    owner = UserFactory(email="owner@example.com")
    m.MetadataSchema.objects.create(
        pk=ORGANISATION_ID,
        document={"weather": {"ty": "enum", "values": ["rain", "sun"]}, "speed": {"ty": "variant", "hint": "number"}},
    )
    training = DatasetFactory(backing_folder=None, title="Training set")
    DatasetMembershipFactory(dataset=training, user=owner, role=m.DatasetUserRole.ADMIN)
    page.set_viewport_size(viewport)
    sign_in(page, owner)

    # Files from the navigation; a new top-level folder, then a subfolder.
    page.click("nav.mainnav >> text=Files")
    expect(page).to_have_url(re.compile(r"/files$"))
    page.fill("#id_name", "Drives")
    page.click("button:has-text('Create folder')")
    expect(page.locator("h1")).to_contain_text("Drives")
    page.fill("#id_name", "Night")
    page.click("button:has-text('Create')")
    expect(page.locator("h1")).to_contain_text("Night")
    night = m.StorageFolder.objects.get(name="Night")
    for n, (weather, speed, colour) in enumerate(
        [("rain", 12, "#3355aa"), ("rain", 18, "#5577cc"), ("sun", 15, "#ddaa22"), ("rain", 40, "#223366")]
    ):
        StorageItemFactory(
            folder=night,
            owner=owner,
            name=f"drive-{n}.jpg",
            item_type=m.DataType.IMAGE,
            mime_type="image/jpeg",
            width=96,
            height=72,
            fps=None,
            duration=None,
            storage_key=thumbnail(f"{tag}-image-{n}", colour),
            client_metadata={"weather": weather, "speed": speed},
            thumbnail_key=thumbnail(f"{tag}-{n}", colour),
        )

    # Breadcrumbs lead back up.
    page.reload()
    crumbs = page.locator("nav.crumbs")
    expect(crumbs).to_contain_text("Files / Drives / Night")
    expect(page.locator("#folder-items tbody tr")).to_have_count(4)
    snap("files-folder")
    crumbs.locator("a", has_text="Drives").click()
    expect(page.locator("h1")).to_contain_text("Drives")
    expect(page.locator(".folder-list")).to_contain_text("Night")
    snap("files-parent")

    # A metadata filter in the URL: rain at 10-20 km/h.
    page.goto(f"/files/{night.folder_uuid}?meta=weather:eq:rain&meta=speed:between:10,20")
    rows = page.locator("#folder-items tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator(".conditions")).to_contain_text("speed:between:10,20")
    # The builder adds a condition to the URL.
    page.select_option("#mk", "speed")
    page.select_option("#mo", "lt")
    page.fill("#mv", "15")
    page.click("button:has-text('Apply')")
    expect(page).to_have_url(re.compile(r"meta=speed%3Alt%3A15"))
    expect(rows).to_have_count(1)
    page.goto(f"/files/{night.folder_uuid}?meta=weather:eq:hail")
    expect(page.locator("#filter-error")).to_contain_text("hail")
    snap("files-filter-error")

    # Select two rainy items and add them to the dataset.
    page.goto(f"/files/{night.folder_uuid}?meta=weather:eq:rain&meta=speed:between:10,20")
    snap("files-filter")
    for box in page.locator("#folder-items tbody input[type=checkbox]").all():
        box.check()
    page.click("button:has-text('Add to dataset')")
    expect(page.locator("section.card")).to_contain_text("2 selected items")
    page.select_option("#id_dataset", label="Training set")
    snap("files-link")
    page.click("button:has-text('Add to dataset')")
    expect(page).to_have_url(re.compile(rf"/datasets/{training.dataset_hash}$"))
    expect(page.locator(".message-success")).to_contain_text("2 items are in the dataset")
    expect(page.locator("#data-rows")).to_contain_text("drive-0.jpg")
    expect(page.locator("#data-rows")).to_contain_text("drive-1.jpg")
    expect(page.locator("#data-rows")).not_to_contain_text("drive-2.jpg")
    snap("files-dataset")

    # The row's page says where its item lives.
    page.locator("#data-rows a", has_text="drive-0.jpg").first.click()
    where = page.locator("#item-whereabouts")
    expect(where).to_contain_text("Files / Drives / Night")
    snap("files-row")
    where.locator("a", has_text="Night").click()
    expect(page.locator("h1")).to_contain_text("Night")
