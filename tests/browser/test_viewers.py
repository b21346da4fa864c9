"""A data item's viewers in Chromium: the video player's frame n is the SDK's frame n (a variable
frame-rate video, stepped by keys and buttons and jumped to, checked against the SDK's frame times
and the colour of the frame on screen), image zoom, the image group viewer, and the download link."""

from __future__ import annotations

import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from datasets_app import models as m
from datasets_app.sdk import UserClient, reencode_jobs
from tests.factories import DataRowFactory, DataRowMemberFactory, DatasetFactory, DatasetMembershipFactory, UserFactory, hosted_video_row
from tests.media.mediagen import frame_image
from tests.media.test_video import make_video, vfr_pts

from .conftest import DESKTOP, PHONE, expect, sign_in

pytestmark = [pytest.mark.slow]

# The colour of pixel (2, 2) of the frame on screen, drawn onto a canvas.
PIXEL_JS = """() => { const v = document.getElementById('player'); const c = document.createElement('canvas');
  c.width = v.videoWidth; c.height = v.videoHeight; const g = c.getContext('2d'); g.drawImage(v, 0, 0);
  return Array.from(g.getImageData(2, 2, 1, 1).data.slice(0, 3)); }"""


def _png(size, colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


def _close(rgb, expected, tol=24) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(rgb, expected))


def _frame_shown(page) -> int:
    page.wait_for_function("() => { const v = document.getElementById('player'); return !v.seeking && v.readyState >= 2; }")
    return int(page.locator("#frame-now [data-frame]").inner_text())


@pytest.mark.django_db(transaction=True)
def test_video_player_frame_n_is_the_sdks_frame_n(page, shoot, tmp_path):
    user = UserFactory()
    dataset = DatasetFactory(title="Viewers")
    DatasetMembershipFactory(dataset=dataset, user=user, role=m.DatasetUserRole.USER)
    width, height = 96, 64
    row = hosted_video_row(dataset, make_video(tmp_path / "vfr.mp4", pts=vfr_pts(24), width=width, height=height))
    reencode_jobs.probe_row(row)
    times = UserClient(user).get_dataset(str(dataset.dataset_hash)).get_frame_timestamps(str(row.data_hash)).times
    assert len(times) == 24

    sign_in(page, user)
    page.goto(f"/datasets/{dataset.dataset_hash}/rows/{row.data_hash}")
    page.wait_for_function("() => document.getElementById('player').readyState >= 2")
    expect(page.locator("#frame-now")).to_contain_text("Frame 0 of 24")

    def check(n):
        assert _frame_shown(page) == n
        now = page.evaluate("document.getElementById('player').currentTime")
        assert times[n] <= now < (times[n + 1] if n + 1 < len(times) else now + 1), (n, now, times[n])
        assert _close(page.evaluate(PIXEL_JS), frame_image(n, width, height).getpixel((2, 2))), n

    page.focus("#player")
    for n in range(1, 9):  # across a change of frame rate (frames 6..11 last 1/12 s)
        page.keyboard.press("." if n % 2 else "ArrowRight")
        check(n)
    page.keyboard.press(",")
    check(7)
    page.keyboard.press("ArrowLeft")
    check(6)
    page.click("#video-viewer [data-step='1']")
    check(7)
    page.fill("#goto-frame-n", "17")
    page.click("#goto-frame button[type=submit]")
    check(17)
    page.fill("#goto-frame-n", "24")
    page.click("#goto-frame button[type=submit]")
    expect(page.locator("#goto-frame-error")).to_contain_text("from 0 to 23")
    assert _frame_shown(page) == 17
    page.fill("#goto-frame-n", "23")
    page.press("#goto-frame-n", "Enter")
    check(23)
    expect(page.locator("#download-original")).to_have_attribute("download", "vfr.mp4")
    shoot(page, "viewer-video")
    page.set_viewport_size(PHONE)
    assert page.locator("#player").bounding_box()["width"] <= PHONE["width"]
    page.set_viewport_size(DESKTOP)


@pytest.mark.django_db(transaction=True)
def test_image_zoom_and_image_group_viewer(page, shoot):
    user = UserFactory()
    dataset = DatasetFactory(title="Pictures")
    DatasetMembershipFactory(dataset=dataset, user=user, role=m.DatasetUserRole.USER)
    image = DataRowFactory(dataset=dataset, data_type="IMAGE", title="big.png", mime_type="image/png", width=1600, height=900)
    default_storage.save(image.storage_key, ContentFile(_png((1600, 900), (30, 140, 60))))
    group = DataRowFactory(dataset=dataset, data_type="IMG_GROUP", title="walk", storage_key="")
    colours = [(200, 30, 30), (30, 30, 200), (240, 200, 0)]
    for seq in (2, 0, 1):
        key = f"datasets/{dataset.dataset_hash}/g/{seq}.png"
        default_storage.save(key, ContentFile(_png((320, 200), colours[seq])))
        DataRowMemberFactory(data_row=group, data_sequence=seq, title=f"step-{seq}.png", storage_key=key, width=320, height=200)

    sign_in(page, user)
    page.goto(f"/datasets/{dataset.dataset_hash}/rows/{image.data_hash}")
    img = page.locator("#image-viewer .zoom-img")
    page.wait_for_function("() => document.querySelector('#image-viewer .zoom-img').naturalWidth === 1600")
    fit = img.bounding_box()["width"]
    assert fit < 1280
    shoot(page, "viewer-image")
    img.click()
    expect(page.locator("#image-viewer [data-zoom-label]")).to_have_text("100 %")
    assert img.bounding_box()["width"] == 1600
    page.click("#image-viewer [data-zoom='out']")
    expect(page.locator("#image-viewer [data-zoom-label]")).to_have_text("67 %")
    page.click("#image-viewer [data-zoom='toggle']")
    expect(page.locator("#image-viewer [data-zoom-label]")).to_have_text("Fit")
    assert img.bounding_box()["width"] == fit
    page.click("#image-viewer [data-zoom='in']")
    assert img.bounding_box()["width"] > fit
    expect(page.locator("#download-original")).to_have_attribute("download", "big.png")

    page.goto(f"/datasets/{dataset.dataset_hash}/rows/{group.data_hash}")
    viewer = page.locator("#sequence-viewer")
    expect(viewer.locator(".frame-now")).to_contain_text("Image 1 of 3 step-0.png")
    viewer.locator("[data-seq='1']").click()
    expect(viewer.locator(".frame-now")).to_contain_text("Image 2 of 3 step-1.png")
    viewer.focus()
    page.keyboard.press("ArrowRight")
    expect(viewer.locator(".frame-now")).to_contain_text("Image 3 of 3 step-2.png")
    page.keyboard.press("ArrowRight")  # stays on the last
    expect(viewer.locator(".frame-now")).to_contain_text("Image 3 of 3")
    page.wait_for_function("() => document.querySelector('#sequence-viewer .zoom-img').complete")
    assert "/g/2.png" in viewer.locator(".zoom-img").get_attribute("src")
    expect(viewer.locator("[data-seq-download]")).to_have_attribute("download", "step-2.png")
    page.keyboard.press("ArrowLeft")
    expect(viewer.locator(".frame-now")).to_contain_text("Image 2 of 3 step-1.png")
    shoot(page, "viewer-group")


@pytest.mark.django_db(transaction=True)
def test_a_missing_file_says_so_in_the_viewer(page, shoot):
    user = UserFactory()
    dataset = DatasetFactory(title="Gone")
    DatasetMembershipFactory(dataset=dataset, user=user, role=m.DatasetUserRole.USER)
    video = DataRowFactory(dataset=dataset, title="deleted.mp4")  # no file stored under its key
    image = DataRowFactory(dataset=dataset, data_type="IMAGE", title="deleted.png", mime_type="image/png")

    sign_in(page, user)
    for row, what in ((video, "video"), (image, "image")):
        page.goto(f"/datasets/{dataset.dataset_hash}/rows/{row.data_hash}")
        expect(page.locator(".viewer-error")).to_contain_text(f"The {what} file could not be loaded")
    shoot(page, "viewer-missing")
    # The browser logs each 404 it was answered; those two are this test's point, nothing else may be logged.
    errors = page.console_watch.errors
    assert len(errors) == 2 and all("404" in e for e in errors), errors
    errors.clear()
