"""The upload page in Chromium, as a new admin meets it: files dropped on the drop zone are taken
as if chosen (a drop beside it does not leave the page), and a job in which one file fails ends as "Done, 1 failed" (a warning), that file's row
turns red with its error, the others read "added", and "Processing on the server…" gives way to a
summary naming the failed file. Screenshots at desktop and phone width."""

from __future__ import annotations

import base64
import io
import re

import pytest
from PIL import Image

from datasets_app.sdk import UserClient
from tests.factories import UserFactory

from .conftest import expect, sign_in

pytestmark = [pytest.mark.slow]

# Files made in the page from (name, MIME type, base64 bytes), in a DataTransfer as a drag carries.
DATA_TRANSFER_JS = """(files) => {
  const dt = new DataTransfer();
  for (const [name, type, b64] of files) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    dt.items.add(new File([bytes], name, { type }));
  }
  return dt;
}"""


def truncated_png_b64() -> str:
    """A PNG whose header reads (the server takes it for an image) but whose pixels are cut off."""
    buf = io.BytesIO()
    Image.effect_noise((320, 240), 80).convert("RGB").save(buf, "PNG")
    return base64.b64encode(buf.getvalue()[: len(buf.getvalue()) // 2]).decode()


def png_b64(color) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (48, 32), color).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


@pytest.mark.django_db(transaction=True)
def test_drop_files_and_see_which_one_failed(page, shoot, _module_worker_thread):
    user = UserFactory()
    created = UserClient.for_user(user).create_dataset("Drops")
    sign_in(page, user)
    page.goto(f"/datasets/{created.dataset_hash}/upload")

    # a drop beside the box is swallowed (the browser would otherwise leave the page for the file)
    stray = page.evaluate_handle(DATA_TRANSFER_JS, [["stray.png", "image/png", png_b64((1, 1, 1))]])
    kept = page.evaluate(
        "(dt) => document.querySelector('h2').dispatchEvent("
        "new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }))",
        stray,
    )
    assert kept is False  # default prevented
    assert page.evaluate("document.getElementById('id_files').files.length") == 0

    # dragging over the box highlights it; dropping two images and a broken one takes all three
    files = page.evaluate_handle(
        DATA_TRANSFER_JS,
        [
            ["street-1.png", "image/png", png_b64((200, 40, 40))],
            ["broken.png", "image/png", truncated_png_b64()],
            ["street-2.png", "image/png", png_b64((40, 40, 200))],
        ],
    )
    page.dispatch_event("#drop-zone", "dragenter", {"dataTransfer": files})
    expect(page.locator("#drop-zone.is-dragover")).to_have_count(1)
    shoot(page, "upload-dragover")
    page.dispatch_event("#drop-zone", "drop", {"dataTransfer": files})
    expect(page.locator("#drop-zone.is-dragover")).to_have_count(0)
    expect(page.locator("#files-error")).to_be_hidden()
    assert page.evaluate("Array.from(document.getElementById('id_files').files).map(f => f.name)") == [
        "street-1.png",
        "broken.png",
        "street-2.png",
    ]
    expect(page.locator("#upload-summary")).to_contain_text("3 files chosen")

    page.click("#upload-button")
    badge = page.locator("#job-slot [data-status]")
    expect(badge).to_have_attribute("data-status", "DONE", timeout=60_000)
    expect(badge).to_have_text("Done, 1 failed")
    expect(badge).to_have_class(re.compile(r"\bbadge-warn\b"))
    expect(page.locator("#job-slot .error-list li")).to_contain_text("broken.png")
    # the broken file's row is red with its error; the others read "added"
    failed = page.locator("#file-list li.error")
    expect(failed).to_have_count(1)
    expect(failed).to_contain_text("broken.png")
    expect(failed.locator(".state")).to_have_text(re.compile(r"^not added: \S"))
    expect(page.locator("#file-list li.done")).to_have_count(2)
    expect(page.locator("#file-list li.done .state")).to_have_text(["added", "added"])
    # "Processing on the server…" ended with the job
    summary = page.locator("#upload-summary")
    expect(summary).not_to_contain_text("Processing")
    expect(summary).to_contain_text("Done, 1 failed: 2 of 3 files added; broken.png failed")
    shoot(page, "upload-one-failed")


@pytest.mark.django_db(transaction=True)
def test_a_clean_upload_ends_with_done_and_a_summary(page, shoot, _module_worker_thread):
    user = UserFactory()
    created = UserClient.for_user(user).create_dataset("Clean")
    sign_in(page, user)
    page.goto(f"/datasets/{created.dataset_hash}/upload")
    files = page.evaluate_handle(DATA_TRANSFER_JS, [["only.png", "image/png", png_b64((9, 90, 9))]])
    page.dispatch_event("#drop-zone", "drop", {"dataTransfer": files})
    page.click("#upload-button")
    badge = page.locator("#job-slot [data-status]")
    expect(badge).to_have_attribute("data-status", "DONE", timeout=60_000)
    expect(badge).to_have_text("Done")
    expect(badge).to_have_class(re.compile(r"\bstatus-DONE\b"))
    expect(page.locator("#upload-summary")).to_have_text("Done: the file was added.")
    expect(page.locator("#file-list li.done .state")).to_have_text("added")
    shoot(page, "upload-done")
