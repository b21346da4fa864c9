"""The dashboard end to end in Chromium: sign in, create a dataset, upload two images and a video
and watch them appear, re-encode and see the task page turn DONE by polling, rename a row inline,
create an API key, add a member. Screenshots of each main page at desktop and phone width."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from datasets_app import models as m
from tests.factories import UserFactory
from tests.media.mediagen import make_image
from tests.media.test_video import make_video, vfr_pts

from .conftest import ARTIFACTS, PASSWORD, expect

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow]


@pytest.mark.django_db(transaction=True)
def test_dashboard_end_to_end(page, shoot, _module_worker_thread, tmp_path):
    admin = UserFactory(email="admin@example.com", is_org_admin=True)
    colleague = UserFactory(email="colleague@example.com")
    images = [
        make_image(tmp_path / "street-1.png", 96, 64, (200, 40, 40)),
        make_image(tmp_path / "street-2.png", 96, 64, (40, 40, 200)),
    ]
    video = make_video(tmp_path / "drone.mp4", pts=vfr_pts(24), width=96, height=64)

    # sign in (a wrong password first: the error shows next to the form)
    page.goto("/login")
    page.fill("#id_username", admin.email)
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")
    expect(page.locator(".form-error")).to_contain_text("do not match")
    shoot(page, "login")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/datasets$"))
    expect(page.locator(".empty")).to_contain_text("no datasets yet")

    # create a dataset (an empty title is refused next to the field first)
    page.click("text=New dataset")
    page.click("button:has-text('Create dataset')")
    expect(page.locator(".field-error").first).to_be_visible()
    page.fill("#id_title", "Street scenes")
    page.fill("#id_description", "Drone and street footage for the detector")
    page.click("button:has-text('Create dataset')")
    expect(page.locator("h1")).to_have_text("Street scenes")
    dataset = m.Dataset.objects.get(title="Street scenes")

    # upload two images, watch the job finish and the rows appear
    page.click("nav.tabs >> text=Upload")  # the server tells images from videos by their bytes
    page.set_input_files("#id_files", [str(p) for p in images])
    page.click("#upload-button")
    expect(page.locator("#job-slot [data-status]")).to_have_attribute("data-status", "DONE", timeout=60_000)
    expect(page.locator("#job-rows li")).to_have_count(2)
    expect(page.locator("#file-list li.done")).to_have_count(2)
    shoot(page, "upload")

    # then a video
    page.set_input_files("#id_files", [str(video)])
    page.click("#upload-button")
    expect(page.locator("#job-slot [data-status]")).to_have_attribute("data-status", "DONE", timeout=90_000)
    expect(page.locator("#job-rows li")).to_have_count(1)

    # the dataset page lists all three, with thumbnails and the video's verdict
    page.click("nav.tabs >> text=Data")
    rows = page.locator("#data-rows tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("#data-rows img.thumb")).to_have_count(3)
    page.wait_for_function(
        "Array.from(document.querySelectorAll('#data-rows img.thumb')).every(i => i.complete && i.naturalWidth > 0)"
    )
    expect(page.locator("#data-rows")).to_contain_text("at risk")
    screenshot = shoot(page, "dataset")
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        # The README's picture: refreshed on request only, so a test run leaves the tree clean.
        shutil.copyfile(screenshot, REPO / "docs" / "screenshots" / "dataset.png")

    # rename a row inline (HTMX swaps just that row)
    first = page.locator("#data-rows tbody tr", has_text="street-1.png")
    first.locator("text=Rename").click()
    title_input = page.locator("#data-rows input[name=title]")
    title_input.fill("street-1 (dawn).png")
    title_input.press("Enter")
    expect(page.locator("#data-rows")).to_contain_text("street-1 (dawn).png")
    expect(page.locator("#data-rows input[name=title]")).to_have_count(0)

    # the video's own page: frame-sync panel with the plot
    page.click("#data-rows a.row-title:has-text('drone.mp4')")
    expect(page.locator("#frame-sync")).to_contain_text("at risk")
    expect(page.locator("#frame-sync svg polyline")).to_have_count(1)
    shoot(page, "video")

    # re-encode the video; the task page polls until DONE
    page.click("text=Re-encode this video…")
    page.click("button:has-text('Start re-encode')")
    expect(page).to_have_url(re.compile(r"/reencode/\d+$"))
    expect(page.locator(".job-status [data-status]")).to_have_attribute("data-status", "DONE", timeout=90_000)
    expect(page.locator("text=Watch ▶")).to_have_count(1)
    expect(page.locator(".job-status[hx-trigger]")).to_have_count(0)
    shoot(page, "reencode")

    # API key: create, secret shown once, masked in the list
    page.goto(f"/datasets/{dataset.dataset_hash}/keys")
    expect(page.locator(".empty").first).to_contain_text("No API keys yet")
    page.fill("#id_title", "training pipeline")
    page.check("input[name=scopes][value='dataset.write']")
    page.click("button:has-text('Create key')")
    secret = page.locator("#secret").input_value()
    assert len(secret) > 30
    page.click("button[data-copy]")
    shoot(page, "api-key-created")
    page.click("text=Done")
    expect(page.locator("table").first).to_contain_text("training pipeline")
    # the creation is on record as a reveal of the secret, shown to the dataset's ADMINs
    expect(page.locator("table").nth(1)).to_contain_text("dashboard")
    assert secret not in page.content()
    shoot(page, "api-keys")

    # members: add the colleague as USER
    page.click("nav.tabs >> text=Members")
    page.fill("#id_email", "nobody@example.com")
    page.click("button:has-text('Add member')")
    # an address without an account is invited by an org admin (issue 14), not refused
    expect(page.locator(".message-success")).to_contain_text("nobody@example.com had no account: they are invited")
    page.fill("#id_email", colleague.email)
    page.select_option("#id_role", "1")
    page.click("button:has-text('Add member')")
    expect(page.locator(".message-success")).to_contain_text(f"Added {colleague.email} as User")
    expect(page.locator("table")).to_contain_text(colleague.email)
    shoot(page, "members")

    # an organisation admin adds an HTTPS integration and imports a described video through it
    page.goto("/integrations")
    page.fill("#id_title", "Partner file server")
    page.select_option("#id_provider", "https")
    expect(page.locator("#id_region")).to_be_hidden()
    page.fill("#id_endpoint_url", "https://files.example")
    page.fill("#id_bearer_token", "very-secret-token")
    page.click("button:has-text('Add integration')")
    expect(page.locator(".message-success")).to_contain_text("Partner file server")
    assert "very-secret-token" not in page.content()
    shoot(page, "integrations")
    page.goto(f"/datasets/{dataset.dataset_hash}/import")
    page.fill(
        "#id_manifest",
        '{"videos": [{"objectUrl": "https://files.example/a.mp4", "title": "remote.mp4", '
        '"videoMetadata": {"fps": 25, "duration": 2, "width": 64, "height": 48, "file_size": 1000, "mime_type": "video/mp4"}}]}',
    )
    shoot(page, "import")
    page.click("button:has-text('Start import')")
    expect(page.locator(".job-status [data-status]")).to_have_attribute("data-status", "DONE")
    expect(page.locator("#job-rows")).to_contain_text("remote.mp4")

    # the other main pages
    page.goto("/datasets")
    expect(page.locator("#dataset-rows")).to_contain_text("Street scenes")
    shoot(page, "datasets")
    # the filter updates the table in place and keeps the URL shareable
    page.fill("#id_q", "nothing like this")
    expect(page.locator("#dataset-rows")).to_contain_text("No dataset matches")
    expect(page).to_have_url(re.compile(r"q=nothing"))
    page.fill("#id_q", "street")
    expect(page.locator("#dataset-rows")).to_contain_text("Street scenes")
    page.goto("/jobs")
    expect(page.locator("#job-rows tbody tr")).to_have_count(4)
    shoot(page, "jobs")
    page.goto("/account")
    page.click("button:has-text('Generate key pair')")
    with page.expect_download() as download:
        page.click("#download-private-key")
    assert download.value.suggested_filename == "datasets_ed25519"
    shoot(page, "account")
    page.goto(f"/datasets/{dataset.dataset_hash}/settings")
    shoot(page, "settings")
    assert (ARTIFACTS / "dataset-phone.png").exists()
