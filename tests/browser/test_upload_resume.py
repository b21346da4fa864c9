"""Resumable uploads in the browser: a chunk lost to a dropped connection is sent again from the
server's offset, and a file chosen again after a reload continues where the server stopped."""

from __future__ import annotations

import hashlib
import os

import pytest
from PIL import Image

from datasets_app import models as m
from datasets_app.sdk import UserClient
from datasets_app.sdk import chunked_uploads as cu
from tests.factories import UserFactory

from .conftest import expect, sign_in

CHUNK = 4 * 1024 * 1024

pytestmark = [pytest.mark.slow]


def noisy_png(path, side=1400):
    """A real PNG of about 5.9 MB (noise does not compress): two chunks of the page's 4 MiB."""
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(path, "PNG", compress_level=0)
    os.utime(path, (1_700_000_000, 1_700_000_000))  # whole seconds: lastModified is exact
    return path


@pytest.mark.django_db(transaction=True)
def test_dropped_chunk_is_resent_from_the_servers_offset(page, tmp_path):
    user = UserFactory()
    created = UserClient.for_user(user).create_dataset("resume")
    image = noisy_png(tmp_path / "noise.png")
    assert os.path.getsize(image) > CHUNK
    sign_in(page, user)
    page.goto(f"/datasets/{created.dataset_hash}/upload")

    dropped = []

    def drop_second_chunk_once(route):
        if "offset=0" not in route.request.url and not dropped:
            dropped.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/upload/sessions/*?offset=*", drop_second_chunk_once)
    page.set_input_files("#id_files", str(image))
    page.click("#upload-button")
    expect(page.locator("#file-list li.done")).to_have_count(1, timeout=60_000)
    assert dropped, "the second chunk was never sent"
    slot = m.UploadSlot.objects.get(file_name="noise.png")
    assert slot.sha256 == hashlib.sha256(image.read_bytes()).hexdigest()
    # The aborted request is the only console error, and it is the one we caused.
    page.console_watch.errors = [
        e for e in page.console_watch.errors if "ERR_CONNECTION_RESET" not in e and "ERR_FAILED" not in e
    ]


@pytest.mark.django_db(transaction=True)
def test_reload_resumes_where_the_server_stopped(page, tmp_path):
    user = UserFactory()
    created = UserClient.for_user(user).create_dataset("resume")
    image = noisy_png(tmp_path / "again.png")
    data = image.read_bytes()
    # A previous visit sent the first chunk, then the tab was closed.
    dataset = UserClient.for_user(user).get_dataset(created.dataset_hash)
    session = cu.start_upload(dataset, file_name="again.png", size=len(data), mode="images")
    cu.append_chunk(dataset, session.upload_id, offset=0, chunks=[data[:CHUNK]], length=CHUNK)
    sign_in(page, user)
    page.goto(f"/datasets/{created.dataset_hash}/upload")
    key = (
        f"dd-upload:{created.dataset_hash}:again.png:{len(data)}:{int(os.stat(image).st_mtime * 1000)}"
    )
    page.evaluate("([k, v]) => localStorage.setItem(k, v)", [key, session.upload_id])
    page.reload()

    sent_offsets = []
    page.on(
        "request",
        lambda r: sent_offsets.append(r.url.rsplit("offset=", 1)[1]) if "offset=" in r.url else None,
    )
    page.set_input_files("#id_files", str(image))
    page.click("#upload-button")
    expect(page.locator("#file-list li.done")).to_have_count(1, timeout=60_000)
    assert sent_offsets == [str(CHUNK)], sent_offsets  # only the missing part went up
    slot = m.UploadSlot.objects.get(item_uuid=session.upload_id)
    assert slot.sha256 == hashlib.sha256(data).hexdigest()
    expect(page.locator("#job-slot [data-status]")).to_have_count(1)
