"""What a new admin tripped on (issue 14), in Chromium at desktop (1280) and phone (390) width:
a 1,024-character title no longer widens the page or hides the table's columns and buttons,
"Re-encode videos..." only where there are videos, re-encode progress in frames, and Escape
cancels an inline rename."""

from __future__ import annotations

import pytest

from datasets_app import models as m
from tests.factories import (
    DataRowFactory,
    DatasetFactory,
    DatasetMembershipFactory,
    ReEncodeTaskFactory,
    ReEncodeVideoFactory,
    UserFactory,
    hosted_video_row,
)
from tests.media.mediagen import make_video

from .conftest import DESKTOP, PHONE, WIDEST_JS, expect, sign_in

LONG = "x" * 1024

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _admin_of(dataset, email="admin@example.com"):
    return DatasetMembershipFactory(dataset=dataset, user=UserFactory(email=email), role=m.DatasetUserRole.ADMIN).user


def _fits(page, selector: str, width: int) -> None:
    """The page is no wider than the viewport, no table scrolls sideways, and `selector` is
    visible inside the viewport."""
    page.set_viewport_size(DESKTOP if width == DESKTOP["width"] else PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    overflowing = page.evaluate(
        "Array.from(document.querySelectorAll('.table-wrap')).filter(w => w.scrollWidth > w.clientWidth + 1).length"
    )
    cells = page.evaluate(
        "Array.from(document.querySelectorAll('.table-wrap tbody tr:first-child > td'))"
        ".map(td => td.className + ':' + Math.round(td.getBoundingClientRect().width)).join(', ')"
    )
    assert overflowing == 0, f"a table scrolls sideways at {width}px: {cells}"
    box = page.locator(selector).first.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, f"{selector} is cut off at {width}px: {box}"


def test_a_1024_character_title_fits_at_desktop_and_phone(page, shoot, tmp_path):
    dataset = DatasetFactory(title=LONG, description="d" * 1024)
    admin = _admin_of(dataset)
    # A stored file: the item's page plays it (a row whose file is missing gets a 404 in the console).
    item = hosted_video_row(
        dataset, make_video(tmp_path / "y.mp4", frames=3), title="y" * 1024,
        storage_key=f"datasets/{dataset.dataset_hash}/x/y.mp4",
    )
    DatasetMembershipFactory(dataset=dataset, user=UserFactory(email="m" * 120 + "@example.com"))
    sign_in(page, admin)

    page.goto("/datasets")
    expect(page.locator("#dataset-rows a.row-title")).to_have_attribute("title", LONG)
    _fits(page, "#dataset-rows time", DESKTOP["width"])
    _fits(page, "#dataset-rows time", PHONE["width"])
    shoot(page, "layout-long-title-list")

    page.goto(f"/datasets/{dataset.dataset_hash}")
    expect(page.locator("h1")).to_have_attribute("title", LONG)
    expect(page.locator("#data-rows a.row-title")).to_have_attribute("title", "y" * 1024)
    _fits(page, "#data-rows td.col-actions >> text=Rename", DESKTOP["width"])
    _fits(page, "#data-rows .badge-type", PHONE["width"])
    assert page.locator("h1").bounding_box()["height"] < 150  # clamped to a few lines, not 19 screens
    shoot(page, "layout-long-title")

    for tab in ("Settings", "Upload", "API keys"):
        page.goto(page.locator(f"nav.tabs >> text={tab}").get_attribute("href"))  # waits for its stylesheet
        for size in (DESKTOP, PHONE):
            page.set_viewport_size(size)
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= size["width"], (tab, size, wide, page.evaluate(WIDEST_JS))
        page.set_viewport_size(DESKTOP)
    _fits(page, "main h1", PHONE["width"])
    shoot(page, "layout-long-title-keys")

    page.goto(f"/datasets/{dataset.dataset_hash}/rows/{item.data_hash}")  # its title in the crumbs and a heading
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"], ("item page", size)
    page.set_viewport_size(DESKTOP)
    _fits(page, ".row-head >> text=Rename", DESKTOP["width"])
    _fits(page, ".row-head >> text=Rename", PHONE["width"])
    shoot(page, "layout-long-title-item")

    page.goto(f"/datasets/{dataset.dataset_hash}/members")
    _fits(page, "text=Remove…", DESKTOP["width"])
    _fits(page, "text=Remove…", PHONE["width"])
    shoot(page, "layout-long-title-members")


def test_reencode_is_offered_only_with_videos(page, shoot):
    dataset = DatasetFactory(title="Stills")
    admin = _admin_of(dataset)
    DataRowFactory(dataset=dataset, title="still.png", data_type=m.DataType.IMAGE, mime_type="image/png")
    sign_in(page, admin)
    page.goto(f"/datasets/{dataset.dataset_hash}")
    expect(page.locator("#data-rows tbody tr")).to_have_count(1)
    expect(page.locator("text=Re-encode videos…")).to_have_count(0)
    expect(page.locator("#row-selection >> text=Delete…")).to_be_visible()
    shoot(page, "layout-no-videos")

    DataRowFactory(dataset=dataset, title="clip.mp4")
    page.reload()
    expect(page.locator("text=Re-encode videos…")).to_be_visible()
    page.set_viewport_size(PHONE)
    expect(page.locator("text=Re-encode videos…")).to_be_visible()


def test_reencode_task_shows_frames_while_encoding(page, shoot):
    dataset = DatasetFactory(title="Drone")
    admin = _admin_of(dataset)
    task = ReEncodeTaskFactory(dataset=dataset, created_by=admin)
    busy = ReEncodeVideoFactory(task=task, data_row=DataRowFactory(dataset=dataset, title="busy.mp4"),
                                frames_done=528, frames_total=900)
    sign_in(page, admin)
    page.goto(f"/datasets/{dataset.dataset_hash}/reencode/{task.pk}")
    card = page.locator(f"#task-{task.pk}")
    expect(card).to_contain_text("Encoding, 528 / 900 frames")
    expect(card).not_to_contain_text("Submitted")
    shoot(page, "layout-reencode-progress")
    # the page polls: the next count shows without a reload
    m.ReEncodeVideo.objects.filter(pk=busy.pk).update(frames_done=700)
    expect(card.locator("tbody")).to_contain_text("Encoding, 700 / 900 frames", timeout=10_000)
    page.set_viewport_size(PHONE)
    expect(card.locator("tbody")).to_contain_text("Encoding, 700 / 900 frames")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_escape_cancels_an_inline_rename(page, shoot, viewport):
    dataset = DatasetFactory(title="Street")
    admin = _admin_of(dataset)
    row = DataRowFactory(dataset=dataset, title="old-name.mp4")
    sign_in(page, admin)
    page.set_viewport_size(viewport)
    # the inline form, as the Rename button fetches it (the button itself is hidden at phone width)
    page.goto(f"/datasets/{dataset.dataset_hash}")
    if viewport is DESKTOP:
        page.locator(f"#row-{row.data_hash} >> text=Rename").click()
    else:
        page.evaluate(
            "([url, target]) => htmx.ajax('GET', url, {target, swap: 'outerHTML'})",
            [f"/datasets/{dataset.dataset_hash}/rows/{row.data_hash}/rename", f"#row-{row.data_hash}"],
        )
    title_input = page.locator("#data-rows input[name=title]")
    title_input.fill("new-name.mp4")
    _fits(page, f"#row-{row.data_hash} .badge-type", viewport["width"])  # editing widens no column
    shoot(page, f"layout-rename-editing-{viewport['width']}")
    title_input.press("Escape")
    expect(page.locator("#data-rows input[name=title]")).to_have_count(0)
    expect(page.locator("#data-rows a.row-title")).to_have_text("old-name.mp4")
    row.refresh_from_db()
    assert row.title == "old-name.mp4"
