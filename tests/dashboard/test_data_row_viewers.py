"""A data item's viewers: the video player fed with the row's current file and its frame table,
the full-size image, the image group's one-by-one viewer, and "Download the original"."""

from __future__ import annotations

import html
import json
import re

import pytest
from django.core.files import File
from django.core.files.storage import default_storage
from django.urls import reverse

from datasets_app import models as m
from datasets_app.sdk import UserClient
from tests.factories import CloudIntegrationFactory, DataRowFactory, DataRowMemberFactory
from tests.media.test_video import make_video, vfr_pts

pytestmark = pytest.mark.django_db


def _page(client, dataset, row) -> str:
    response = client.get(reverse("dashboard:data-row", args=[dataset.dataset_hash, row.data_hash]))
    assert response.status_code == 200
    return response.content.decode()


def _attr(body: str, element_id: str, attr: str) -> str:
    tag = re.search(rf'<[a-z]+[^>]*\bid="{element_id}"[^>]*>', body).group(0)
    return html.unescape(re.search(rf'\b{attr}="([^"]*)"', tag).group(1))


def _json(body: str, element_id: str):
    return json.loads(re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', body, re.S).group(1))


@pytest.fixture
def vfr_row(dataset, tmp_path):
    path = make_video(tmp_path / "vfr.mp4", pts=vfr_pts(24))
    row = DataRowFactory(dataset=dataset, title="vfr.mp4")
    with open(path, "rb") as fh:
        default_storage.save(row.storage_key, File(fh, name="vfr.mp4"))
    from datasets_app.sdk import reencode_jobs

    reencode_jobs.probe_row(row)
    return row


def test_video_page_has_a_player_of_the_signed_file_and_the_sdk_frame_table(as_user, dataset, ds_user, vfr_row):
    body = _page(as_user(ds_user), dataset, vfr_row)
    src = _attr(body, "player", "src")
    assert src.startswith("http://testserver/media/signed/") and vfr_row.storage_key in src and "signature=" in src
    sdk_times = UserClient(ds_user).get_dataset(str(dataset.dataset_hash)).get_frame_timestamps(str(vfr_row.data_hash)).times
    assert _json(body, "frame-times") == pytest.approx(sdk_times, abs=1e-6) and len(sdk_times) == 24
    assert 'id="goto-frame-n"' in body and 'data-step="-1"' in body and 'data-step="1"' in body
    assert _attr(body, "download-original", "href") == src
    assert _attr(body, "download-original", "download") == "vfr.mp4"
    assert "js/viewer.js" in body


def test_after_a_reencode_the_player_plays_the_rows_current_file(as_user, dataset, ds_user, vfr_row):
    old_key = vfr_row.storage_key
    m.StorageItem.objects.filter(pk=vfr_row.item_id).update(
        storage_key=old_key.replace("vfr.mp4", "vfr-cfr.mp4"), original_storage_key=old_key
    )
    src = _attr(_page(as_user(ds_user), dataset, vfr_row), "player", "src")
    assert "vfr-cfr.mp4" in src and "/vfr.mp4?" not in src


def test_private_video_plays_through_its_integrations_signed_link(as_user, dataset, ds_user):
    # An S3 integration without stored keys cannot presign: the link goes through our signed route.
    integration = CloudIntegrationFactory(provider=m.IntegrationProvider.S3)
    row = DataRowFactory(dataset=dataset, title="cam.mp4", storage_key="", url="s3://bucket/cam.mp4", integration=integration)
    body = _page(as_user(ds_user), dataset, row)
    src = _attr(body, "player", "src")
    assert src.startswith(f"http://testserver/media/private/{integration.integration_uuid}?") and "signature=" in src
    assert _attr(body, "download-original", "href") == src


def test_video_not_yet_probed_counts_frames_at_its_fps(as_user, dataset, ds_user):
    row = DataRowFactory(dataset=dataset, title="new.mp4", fps=25.0, frame_count=100)
    body = _page(as_user(ds_user), dataset, row)
    assert 'id="player"' in body and 'data-frames="100"' in body and "frames are counted at 25.000 fps" in body


def test_video_without_a_file_says_so_and_offers_no_download(as_user, dataset, ds_user):
    row = DataRowFactory(dataset=dataset, title="gone.mp4", storage_key="", url="")
    body = _page(as_user(ds_user), dataset, row)
    assert "no file to play" in body and 'id="player"' not in body and "download-original" not in body


def test_image_page_shows_the_full_size_image_with_zoom(as_user, dataset, ds_user):
    row = DataRowFactory(dataset=dataset, data_type="IMAGE", title="street.png", mime_type="image/png")
    body = _page(as_user(ds_user), dataset, row)
    viewer = body[body.index('id="image-viewer"'):]
    img = re.search(r'<img class="zoom-img" src="([^"]*)"', viewer).group(1)
    assert row.storage_key in html.unescape(img) and "signature=" in img
    assert 'data-zoom="in"' in viewer and 'data-zoom="out"' in viewer and 'data-zoom="toggle"' in viewer
    assert _attr(body, "download-original", "download") == "street.png"


def test_image_group_viewer_steps_in_data_sequence_order(as_user, dataset, ds_user):
    group = DataRowFactory(dataset=dataset, data_type="IMG_GROUP", title="walk", storage_key="")
    for seq in (2, 0, 1):
        DataRowMemberFactory(data_row=group, data_sequence=seq, title=f"img-{seq}.png")
    body = _page(as_user(ds_user), dataset, group)
    sequence = _json(body, "sequence-images")
    assert [s["title"] for s in sequence] == ["img-0.png", "img-1.png", "img-2.png"]
    assert all("signature=" in s["src"] for s in sequence)
    assert "Image <strong data-seq-k>1</strong> of 3" in body and 'data-seq="1"' in body


def test_dicom_series_gets_no_image_viewer(as_user, dataset, ds_user):
    series = DataRowFactory(dataset=dataset, data_type="DICOM", title="ct", storage_key="")
    DataRowMemberFactory(data_row=series, data_sequence=0, title="0.dcm")
    body = _page(as_user(ds_user), dataset, series)
    assert "sequence-viewer" not in body and "image-viewer" not in body and "video-viewer" not in body


def test_stranger_gets_no_viewer(client, dataset, vfr_row, stranger):
    client.force_login(stranger)
    response = client.get(reverse("dashboard:data-row", args=[dataset.dataset_hash, vfr_row.data_hash]))
    assert response.status_code == 404 and b"media/signed" not in response.content
