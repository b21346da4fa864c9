"""The upload page and its resumable chunk endpoints, end to end through the data job."""

from __future__ import annotations

import hashlib
import io
import json
import re

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from PIL import Image

from datasets_app import models as m
from datasets_app.sdk.jobs import run_data_job
from tests.factories import UserFactory

from .conftest import HX

pytestmark = pytest.mark.django_db


def png(width=64, height=48, color=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "PNG")
    return buf.getvalue()


def start(c, dataset, name, size):
    return c.post(reverse("dashboard:upload-start", args=[dataset.dataset_hash]), {"file_name": name, "size": size})


def chunk_url(dataset, upload_id, offset=None):
    url = reverse("dashboard:upload-chunk", args=[dataset.dataset_hash, upload_id])
    return url if offset is None else f"{url}?offset={offset}"


def put(c, dataset, upload_id, offset, data):
    return c.generic(
        "PUT", chunk_url(dataset, upload_id, offset), data, content_type="application/octet-stream"
    )


def upload_file(c, dataset, name, data, piece=100):
    upload_id = json.loads(start(c, dataset, name, len(data)).content)["upload_id"]
    for offset in range(0, len(data), piece):
        assert put(c, dataset, upload_id, offset, data[offset : offset + piece]).status_code == 200
    return upload_id


@pytest.mark.parametrize("persona,status", [("ds_admin", 200), ("ds_user", 200), ("stranger", 404)])
def test_upload_page_role_table(request, as_user, dataset, persona, status):
    response = as_user(request.getfixturevalue(persona)).get(
        reverse("dashboard:upload", args=[dataset.dataset_hash])
    )
    assert response.status_code == status
    if status == 200:
        body = response.content.decode()
        assert "upload-limit" in body and "GB" in body and "js/upload.js" in body


def test_chunks_resume_from_the_servers_offset(as_user, dataset, ds_user):
    c = as_user(ds_user)
    data = png()
    started = start(c, dataset, "red.png", len(data))
    assert started.status_code == 201
    upload_id = json.loads(started.content)["upload_id"]
    assert put(c, dataset, upload_id, 0, data[:100]).json()["offset"] == 100
    # a client that lost track (reload) sends from 0 again: told where the server is
    mismatch = put(c, dataset, upload_id, 0, data[:100])
    assert mismatch.status_code == 409 and mismatch.json()["offset"] == 100
    status = c.get(chunk_url(dataset, upload_id)).json()
    assert status["offset"] == 100 and status["complete"] is False
    done = put(c, dataset, upload_id, 100, data[100:]).json()
    assert done["complete"] is True and done["offset"] == len(data)
    slot = m.UploadSlot.objects.get(item_uuid=upload_id)
    assert slot.uploaded_at is not None and slot.size == len(data)
    assert slot.sha256 == hashlib.sha256(data).hexdigest()
    with default_storage.open(slot.object_key, "rb") as stored:
        assert stored.read() == data
    # a late duplicate of the last chunk is told the file is complete
    late = put(c, dataset, upload_id, 100, data[100:])
    assert late.status_code == 409 and late.json()["offset"] == len(data)
    assert c.get(chunk_url(dataset, upload_id)).json()["complete"] is True


def test_two_images_become_rows_through_the_job(
    as_user, dataset, ds_user, django_capture_on_commit_callbacks
):
    c = as_user(ds_user)
    ids = [
        upload_file(c, dataset, "a.png", png(color=(1, 2, 3))),
        upload_file(c, dataset, "b.png", png(color=(9, 9, 9))),
    ]
    with django_capture_on_commit_callbacks(execute=False):
        finished = c.post(
            reverse("dashboard:upload-finish", args=[dataset.dataset_hash]),
            {"upload_id": ids},
        )
    assert finished.status_code == 201
    job_url = finished.json()["job_url"]
    pending = c.get(job_url, **HX).content.decode()
    assert 'hx-trigger="every 2s"' in pending
    job = m.DataJob.objects.get()
    run_data_job(job.pk)
    done = c.get(job_url, **HX).content.decode()
    assert "hx-trigger" not in done and "a.png" in done and "b.png" in done
    assert sorted(m.DataRow.objects.filter(dataset=dataset).values_list("item__name", flat=True)) == [
        "a.png",
        "b.png",
    ]
    # the full page at the same URL, without JS
    assert "<html" in c.get(job_url).content.decode()


def test_image_group_keeps_the_chosen_order(as_user, dataset, ds_user):
    c = as_user(ds_user)
    names = ["z.png", "a.png", "m.png"]
    ids = [upload_file(c, dataset, n, png(color=(i, i, i))) for i, n in enumerate(names)]
    c.post(
        reverse("dashboard:upload-finish", args=[dataset.dataset_hash]),
        {"images": "image_group", "upload_id": ids, "title": "burst"},
    )
    run_data_job(m.DataJob.objects.get().pk)
    group = m.DataRow.objects.get(dataset=dataset)
    assert group.data_type == "IMG_GROUP" and group.title == "burst"
    assert list(group.members.order_by("data_sequence").values_list("title", flat=True)) == names
    page = c.get(reverse("dashboard:data-row", args=[dataset.dataset_hash, group.data_hash])).content.decode()
    assert page.index("z.png") < page.index("a.png") < page.index("m.png")


def test_size_limit_is_enforced_at_start_and_per_chunk(as_user, dataset, ds_user, settings):
    settings.UPLOAD_MAX_BYTES = 500
    c = as_user(ds_user)
    too_big = start(c, dataset, "big.png", 501)
    assert too_big.status_code == 413 and "limit is 500 bytes" in too_big.json()["error"]
    upload_id = start(c, dataset, "ok.png", 200).json()["upload_id"]
    over = put(c, dataset, upload_id, 0, b"x" * 201)
    assert over.status_code == 413
    assert c.get(chunk_url(dataset, upload_id)).json()["offset"] == 0


@pytest.mark.parametrize(
    "data",
    [
        {"file_name": "", "size": 10},
        {"file_name": "a.png", "size": "ten"},
        {"file_name": "a.png", "size": 0},
    ],
)
def test_bad_start_requests_are_400_with_a_message(as_user, dataset, ds_user, data):
    response = as_user(ds_user).post(reverse("dashboard:upload-start", args=[dataset.dataset_hash]), data)
    assert response.status_code == 400 and response.json()["error"]


def test_sessions_belong_to_their_user_and_dataset(as_user, dataset, ds_user, ds_admin):
    upload_id = start(as_user(ds_user), dataset, "a.png", 10).json()["upload_id"]
    assert as_user(ds_admin).get(chunk_url(dataset, upload_id)).status_code == 404
    assert put(as_user(ds_admin), dataset, upload_id, 0, b"x").status_code == 404
    finished = as_user(ds_user).post(
        reverse("dashboard:upload-finish", args=[dataset.dataset_hash]),
        {"upload_id": [upload_id]},
    )
    assert finished.status_code == 400 and "has not finished uploading" in finished.json()["error"]
    outsider = UserFactory()
    assert (
        as_user(outsider).post(reverse("dashboard:upload-start", args=[dataset.dataset_hash]), {}).status_code
        == 404
    )


def truncated_png() -> bytes:
    """A PNG whose header reads (so it is taken for an image) but whose pixels are cut off."""
    data = png(320, 240)
    return data[: len(data) // 2]


def test_a_file_that_is_no_media_is_refused_on_upload_naming_it(as_user, dataset, ds_user):
    c = as_user(ds_user)
    data = b"just some text, not a picture\n" * 20
    upload_id = start(c, dataset, "bad.png", len(data)).json()["upload_id"]
    refused = put(c, dataset, upload_id, 0, data)
    assert refused.status_code == 400
    assert refused.json()["error"].startswith("bad.png: not an image, a video or a DICOM file")
    assert c.get(chunk_url(dataset, upload_id)).status_code == 404  # the session and its bytes went


def test_bad_file_is_a_per_item_error_and_good_ones_are_added(as_user, dataset, ds_user):
    c = as_user(ds_user)
    ids = [
        upload_file(c, dataset, "good.png", png()),
        upload_file(c, dataset, "bad.png", truncated_png()),
    ]
    job_url = c.post(reverse("dashboard:upload-finish", args=[dataset.dataset_hash]), {"upload_id": ids}).json()[
        "job_url"
    ]
    run_data_job(m.DataJob.objects.get().pk)
    page = c.get(job_url).content.decode()
    assert "good.png" in page and "Errors" in page
    assert list(m.DataRow.objects.filter(dataset=dataset).values_list("item__name", flat=True)) == ["good.png"]


def test_sweep_removes_only_staging_files_that_cannot_finish(as_user, dataset, ds_user):
    import datetime as dt
    import os

    from datasets_app.sdk import chunked_uploads as cu

    c = as_user(ds_user)
    live = start(c, dataset, "live.png", 1000).json()["upload_id"]
    dead = start(c, dataset, "dead.png", 1000).json()["upload_id"]
    for upload_id in (live, dead):
        assert put(c, dataset, upload_id, 0, b"x" * 10).status_code == 200
    m.UploadSlot.objects.filter(item_uuid=dead).update(expires_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    staging = {u: cu._staging_dir() / f"{u}.part" for u in (live, dead)}
    for path in staging.values():
        os.utime(path, (1, 1))
    assert cu.sweep_staging(older_than_seconds=60) == 1
    assert staging[live].exists() and not staging[dead].exists()
    assert cu.sweep_staging(older_than_seconds=60) == 0


def test_beat_schedules_the_staging_sweep(settings, as_user, dataset, ds_user):
    import datetime as dt
    import os

    from datasets_app.periodic import sweep_upload_staging_task
    from datasets_app.sdk import chunked_uploads as cu

    assert any(e["task"].endswith("sweep_upload_staging_task") for e in settings.CELERY_BEAT_SCHEDULE.values())
    c = as_user(ds_user)
    dead = start(c, dataset, "dead.png", 1000).json()["upload_id"]
    assert put(c, dataset, dead, 0, b"x" * 10).status_code == 200
    m.UploadSlot.objects.filter(item_uuid=dead).update(expires_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    dead_file = cu._staging_dir() / f"{dead}.part"
    os.utime(dead_file, (1, 1))
    # other tests' leftovers in the session's staging folder may go too
    assert sweep_upload_staging_task() >= 1 and not dead_file.exists()
    assert sweep_upload_staging_task() == 0


def test_dicom_files_become_one_series(as_user, dataset, ds_user, tmp_path):
    from tests.media.mediagen import make_dicom

    c = as_user(ds_user)
    files = [make_dicom(tmp_path / f"slice{i}.dcm", i + 1) for i in range(3)]
    ids = [upload_file(c, dataset, f.name, f.read_bytes(), piece=1000) for f in files]
    finished = c.post(
        reverse("dashboard:upload-finish", args=[dataset.dataset_hash]),
        {"upload_id": ids, "title": "CT head"},
    )
    assert finished.status_code == 201
    run_data_job(m.DataJob.objects.get().pk)
    series = m.DataRow.objects.get(dataset=dataset)
    assert (series.data_type, series.title) == ("DICOM", "CT head")
    assert series.members.count() == 3
    page = c.get(reverse("dashboard:data-row", args=[dataset.dataset_hash, series.data_hash])).content.decode()
    assert "Files in order" in page and "slice0.dcm" in page


def test_group_page_shows_its_video_when_made_and_why_not_when_it_failed(as_user, dataset, ds_user):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from tests.factories import DataRowFactory

    row = DataRowFactory(dataset=dataset, data_type=m.DataType.IMG_GROUP, storage_key="", sequence_video_status="PENDING")
    url = reverse("dashboard:data-row", args=[dataset.dataset_hash, row.data_hash])
    c = as_user(ds_user)
    assert "A worker is making the video" in c.get(url).content.decode()
    key = default_storage.save(f"sequences/{dataset.dataset_hash}/{row.data_hash}.mp4", ContentFile(b"mp4"))
    m.StorageItem.objects.filter(pk=row.item_id).update(
        sequence_video_status="DONE", sequence_video_key=key,
        media_info={"sequence_video": {"fps": 10.0, "frame_count": 7}},
    )
    page = c.get(url).content.decode()
    assert "<video" in page and "/media/signed/" in page and "7 frames at 10 fps" in page
    m.StorageItem.objects.filter(pk=row.item_id).update(
        sequence_video_status="ERROR", sequence_video_key="", media_info={"sequence_video": {"error": "Image 2 is odd."}}
    )
    page = c.get(url).content.decode()
    assert "Image 2 is odd." in page and "<video" not in page
    # groups that asked for no video show no such section
    plain = DataRowFactory(dataset=dataset, data_type=m.DataType.IMG_GROUP, storage_key="")
    assert "As a video" not in c.get(reverse("dashboard:data-row", args=[dataset.dataset_hash, plain.data_hash])).content.decode()


def _finished_job_page(c, dataset, files):
    ids = [upload_file(c, dataset, name, data) for name, data in files]
    job_url = c.post(reverse("dashboard:upload-finish", args=[dataset.dataset_hash]), {"upload_id": ids}).json()[
        "job_url"
    ]
    run_data_job(m.DataJob.objects.get().pk)
    return ids, c.get(job_url, **HX).content.decode()


def test_a_job_with_failed_units_is_done_with_a_warning_not_a_green_done(as_user, dataset, ds_user):
    c = as_user(ds_user)
    _, page = _finished_job_page(
        c, dataset, [("good.png", png()), ("bad.png", truncated_png()), ("worse.png", truncated_png()[:-7])]
    )
    badge = re.search(r'<span class="([^"]*status-badge[^"]*)"[^>]*>([^<]*)</span>', page)
    assert badge.group(2) == "Done, 2 failed"
    assert "badge-warn" in badge.group(1) and "status-DONE" not in badge.group(1)
    assert 'data-status="DONE"' in page and 'data-failed="2"' in page


def test_a_job_without_failures_is_a_plain_done(as_user, dataset, ds_user):
    _, page = _finished_job_page(as_user(ds_user), dataset, [("good.png", png())])
    badge = re.search(r'<span class="([^"]*status-badge[^"]*)"[^>]*>([^<]*)</span>', page)
    assert badge.group(2) == "Done" and "status-DONE" in badge.group(1)
    assert 'data-failed="0"' in page


def test_every_job_error_names_its_file_and_its_upload(as_user, dataset, ds_user):
    ids, page = _finished_job_page(
        as_user(ds_user), dataset, [("holiday-one.bin", truncated_png()), ("holiday-two.bin", truncated_png()[:-9])]
    )
    errors = re.findall(r'<li data-object-urls="([^"]*)">(.*?)</li>', page, re.S)
    assert len(errors) == 2
    for (urls, text), name, upload_id in zip(errors, ["holiday-one.bin", "holiday-two.bin"], ids, strict=True):
        assert name in text, text
        assert upload_id in urls  # the page's script marks that file's row as failed


def test_upload_page_has_a_drop_zone_for_the_file_input(as_user, dataset, ds_user):
    body = as_user(ds_user).get(reverse("dashboard:upload", args=[dataset.dataset_hash])).content.decode()
    zone = re.search(r'<div class="drop-zone" id="drop-zone"[^>]*>(.*?)</div>', body, re.S)
    assert zone and 'id="id_files"' in zone.group(1) and "drop" in zone.group(1).lower()
