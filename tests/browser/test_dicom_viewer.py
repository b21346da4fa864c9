"""The DICOM series viewer in Chromium at desktop and phone width: a 5-slice series scrolled by the
wheel, the arrow keys and the slider (slice N / M and the instance number follow), the Bone preset
and a drag change the rendered pixels, and a slice the server cannot decode says why in the viewer."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from datasets_app import models as m
from tests.factories import (
    DataRowFactory,
    DataRowMemberFactory,
    DatasetFactory,
    DatasetMembershipFactory,
    UserFactory,
)
from tests.media.test_dicom_render import make_ct_slice

from .conftest import DESKTOP, PHONE, expect, sign_in

pytestmark = [pytest.mark.slow]

SIDE = 64
# The grey level of pixel (x, 40) of the slice on screen, read back from a canvas.
PIXEL_JS = """(x) => { const i = document.getElementById('dicom-image'); const c = document.createElement('canvas');
  c.width = i.naturalWidth; c.height = i.naturalHeight; const g = c.getContext('2d'); g.drawImage(i, 0, 0);
  return g.getImageData(x, 40, 1, 1).data[0]; }"""


def _series(dataset, tmp_path, *, broken: int | None = None):
    """Five 64x64 slices, InstanceNumber 1..5; each row runs -1000 .. +1520 HU, slice k adds 100 k."""
    from pydicom.uid import JPEGLosslessSV1

    row = DataRowFactory(
        dataset=dataset, data_type=m.DataType.DICOM, title="head-ct", storage_key="", mime_type=""
    )
    for k in range(5):
        hu = [[-1000 + 40 * x + 100 * k for x in range(SIDE)] for _ in range(SIDE)]
        syntax = JPEGLosslessSV1 if k == broken else None
        path = make_ct_slice(tmp_path / f"{k}.dcm", hu, instance_number=k + 1, transfer_syntax=syntax)
        member = DataRowMemberFactory(data_row=row, data_sequence=k, title=f"IM{k + 1:04d}.dcm")
        default_storage.save(member.storage_key, ContentFile(path.read_bytes()))
    return row


def _ready(page, url_part: str) -> None:
    page.wait_for_function(
        "(part) => { const v = document.getElementById('dicom-viewer');"
        " return v.dataset.state === 'ready' && v.dataset.url.includes(part)"
        " && document.getElementById('dicom-image').complete; }",
        arg=url_part,
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_dicom_viewer_scrolls_to_slice_3_and_bone_changes_the_image(page, shoot, tmp_path, viewport):
    user = UserFactory()
    dataset = DatasetFactory(title="Head CT")
    DatasetMembershipFactory(dataset=dataset, user=user, role=m.DatasetUserRole.USER)
    row = _series(dataset, tmp_path)
    hashes = [str(h) for h in row.members.order_by("data_sequence").values_list("image_hash", flat=True)]

    page.set_viewport_size(viewport)
    sign_in(page, user)
    page.goto(f"/datasets/{dataset.dataset_hash}/rows/{row.data_hash}")
    viewer = page.locator("#dicom-viewer")
    _ready(page, hashes[0])
    expect(viewer.locator(".frame-now")).to_contain_text("Slice 1 / 5 · instance 1")
    expect(page.locator("#dicom-center")).to_have_value("40")  # the file's own window (Default)
    expect(page.locator("#dicom-width")).to_have_value("80")

    page.locator("[data-dicom-stage]").hover()
    page.mouse.wheel(0, 100)
    _ready(page, hashes[1])
    expect(viewer.locator(".frame-now")).to_contain_text("Slice 2 / 5 · instance 2")
    viewer.focus()
    page.keyboard.press("ArrowDown")
    _ready(page, hashes[2])
    expect(viewer.locator(".frame-now")).to_contain_text("Slice 3 / 5 · instance 3")
    expect(page.locator("#dicom-slider")).to_have_value("3")
    default_pixel = page.evaluate(PIXEL_JS, 20)  # -1000 + 800 + 200 = 0 HU: black in 40/80

    page.click("button[data-preset='Bone']")
    _ready(page, f"{hashes[2]}.png?center=400&width=1800")
    expect(page.locator("button[data-preset='Bone']")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#dicom-center")).to_have_value("400")
    bone_pixel = page.evaluate(PIXEL_JS, 20)
    # 0 HU through 400/1800 is 70.9 -> 71; through the file's 40/80 it was black.
    assert (default_pixel, bone_pixel) == (0, 71)
    if viewport == DESKTOP:  # shoot() takes both widths
        shoot(page, "dicom-viewer-bone")
        page.set_viewport_size(viewport)
    page.locator("#dicom-slider").fill("5")
    _ready(page, f"{hashes[4]}.png?center=400&width=1800")
    expect(viewer.locator(".frame-now")).to_contain_text("Slice 5 / 5 · instance 5")
    # dragging right widens the window: a custom window, no preset pressed
    box = page.locator("#dicom-image").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 40, y, steps=4)
    page.mouse.up()
    page.wait_for_function("() => document.getElementById('dicom-viewer').dataset.window === 'Custom'")
    width = page.input_value("#dicom-width")
    assert int(width) > 1800
    _ready(page, f"{hashes[4]}.png?center=400&width={width}")
    expect(page.locator("button[data-preset='Bone']")).to_have_attribute("aria-pressed", "false")


@pytest.mark.django_db(transaction=True)
def test_a_slice_that_cannot_be_decoded_says_why_in_the_viewer(page, shoot, tmp_path):
    user = UserFactory()
    dataset = DatasetFactory(title="Compressed CT")
    DatasetMembershipFactory(dataset=dataset, user=user, role=m.DatasetUserRole.USER)
    row = _series(dataset, tmp_path, broken=1)

    sign_in(page, user)
    page.goto(f"/datasets/{dataset.dataset_hash}/rows/{row.data_hash}")
    page.wait_for_function("() => document.getElementById('dicom-viewer').dataset.state === 'ready'")
    page.click("[data-slice-step='1']")
    error = page.locator("#dicom-error")
    expect(error).to_contain_text("Slice 2 (IM0002.dcm)")
    expect(error).to_contain_text("no decoder")
    expect(page.locator("#dicom-image")).to_be_hidden()
    shoot(page, "dicom-viewer-error")
    page.click("[data-slice-step='1']")  # the next slice shows again
    page.wait_for_function("() => document.getElementById('dicom-viewer').dataset.state === 'ready'")
    expect(page.locator("#dicom-image")).to_be_visible()
    expect(error).to_be_hidden()
    # The browser logs the one 422 it was answered; that is this test's point, nothing else may be logged.
    errors = page.console_watch.errors
    assert len(errors) == 1 and "422" in errors[0], errors
    errors.clear()
