"""Uploads through the SDK layer, processed by a real Celery worker: rows, groups, series,
duplicates, errors, and that running a job again changes nothing."""

from __future__ import annotations

import os
import time
import uuid

import pytest
from django.core.files.storage import default_storage

from datasets_app import models as m
from datasets_app.media import storage
from datasets_app.sdk import UserClient, jobs
from datasets_app.sdk.exceptions import InvalidArgumentError
from datasets_app.sdk.policy import Principal
from datasets_app.sdk.uploads import issue_upload_urls
from tests.media.mediagen import make_dicom, make_image, make_png_bomb, make_video
from tests.local_storage import stored_files
from tests.waits import sequence_videos_settled

pytestmark = pytest.mark.django_db(transaction=True)


def snapshot(dataset):
    return (
        sorted(m.DataRow.objects.filter(dataset=dataset).values_list("data_hash", "item__name", "item__storage_key")),
        sorted(
            m.DataRowMember.objects.filter(item__rows__dataset=dataset).values_list(
                "image_hash", "data_sequence"
            )
        ),
        sorted(m.DataJobUnit.objects.filter(job__dataset=dataset).values_list("pk", "status")),
        stored_files(),
    )


def rerun_all_jobs(dataset):
    for job_id in m.DataJob.objects.filter(dataset=dataset).values_list("pk", flat=True):
        jobs.run_data_job(job_id)


def test_upload_video_probes_and_thumbnails_and_rerun_changes_nothing(tmp_path, dataset, ds, data_worker):
    src = make_video(tmp_path / "clip.mp4", frames=20, fps=10, width=64, height=48)
    info = ds.upload_video(src, timeout_seconds=60)
    row = m.DataRow.objects.get(data_hash=info.data_hash)
    assert (row.title, row.data_type, row.width, row.height, row.frame_count) == (
        "clip.mp4",
        "VIDEO",
        64,
        48,
        20,
    )
    assert row.fps == pytest.approx(10) and row.duration == pytest.approx(2.0)
    assert row.media_info["codec"] == "h264" and row.media_info["has_b_frames"] is False
    assert row.sha256 and row.file_size == src.stat().st_size
    assert default_storage.exists(row.storage_key) and default_storage.exists(row.thumbnail_key)
    assert str(row.backing_item_uuid) == info.backing_item_uuid
    before = snapshot(dataset)
    rerun_all_jobs(dataset)  # a redelivered task
    assert snapshot(dataset) == before


def test_create_image_group_splits_by_resolution_keeping_order(tmp_path, dataset, ds, data_worker):
    sizes = [(64, 48), (32, 32), (64, 48), (32, 32), (64, 48)]
    files = [
        make_image(tmp_path / f"f{i}.jpg", w, h, color=(i * 40, 10, 10)) for i, (w, h) in enumerate(sizes)
    ]
    groups = ds.create_image_group(files, title="walk", create_video=True, timeout_seconds=60)
    assert [g.title for g in groups] == ["walk (64x48)", "walk (32x32)"]
    first, second = (m.DataRow.objects.get(data_hash=g.data_hash) for g in groups)
    assert [mem.title for mem in first.members.order_by("data_sequence")] == ["f0.jpg", "f2.jpg", "f4.jpg"]
    assert [mem.title for mem in second.members.order_by("data_sequence")] == ["f1.jpg", "f3.jpg"]
    assert first.is_optimised_image_group is True and first.data_type == "IMG_GROUP"
    assert all(default_storage.exists(mem.thumbnail_key) for mem in first.members.all())
    sequence_videos_settled(dataset)
    before = snapshot(dataset)
    rerun_all_jobs(dataset)
    assert snapshot(dataset) == before


def test_create_dicom_series_orders_by_instance_number(tmp_path, dataset, ds, data_worker):
    files = [make_dicom(tmp_path / f"s{n}.dcm", n) for n in (2, 3, 1)]
    info = ds.create_dicom_series(files, title="scan", timeout_seconds=60)
    row = m.DataRow.objects.get(data_hash=info.data_hash)
    assert row.data_type == "DICOM" and row.title == "scan"
    assert [mem.title for mem in row.members.order_by("data_sequence")] == ["s1.dcm", "s2.dcm", "s3.dcm"]
    # the series' thumbnail is its first slice's
    first = row.members.get(data_sequence=0)
    assert row.thumbnail_key and default_storage.exists(row.thumbnail_key)
    assert row.thumbnail_key == storage.thumbnail_key(first.storage_key)
    with default_storage.open(row.thumbnail_key, "rb") as fh:
        assert fh.read(3) == b"\xff\xd8\xff"  # a JPEG
    before = snapshot(dataset)
    rerun_all_jobs(dataset)
    assert snapshot(dataset) == before


@pytest.mark.parametrize(
    "maker, method, message",
    [
        (
            lambda p: (p / "notes.jpg").write_text("hello") and p / "notes.jpg",
            "upload_image_start",
            "not an image",
        ),
        (lambda p: (p / "empty.mp4").write_bytes(b"") or p / "empty.mp4", "upload_video_start", "0 bytes"),
        (lambda p: make_png_bomb(p / "bomb.png"), "upload_image_start", "decompression bomb"),
        (
            lambda p: (p / "x.dcm").write_bytes(b"x" * 300) and p / "x.dcm",
            "create_dicom_series_start",
            "not DICOM",
        ),
    ],
    ids=["text-as-image", "zero-byte-video", "bomb", "non-dicom"],
)
def test_bad_input_errors_the_job_leaving_no_row_and_no_file(
    tmp_path, dataset, ds, data_worker, maker, method, message
):
    path = maker(tmp_path)
    arg = [path] if method.startswith("create_") else path
    process_hash = getattr(ds, method)(arg)
    result = ds.wait_data_job(process_hash, 60)
    assert result.status == "ERROR" and result.units_error_count == 1
    assert message in result.errors[0]
    (unit_error,) = result.data_unit_errors
    assert unit_error.object_urls and unit_error.action_description
    assert not m.DataRow.objects.filter(dataset=dataset).exists()
    assert stored_files() == set()


def test_corrupt_and_truncated_video_error_the_job(tmp_path, ds, dataset, data_worker):
    good = make_video(tmp_path / "v.mp4", frames=30)
    truncated = tmp_path / "cut.mp4"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(os.urandom(20_000))
    for path in (truncated, garbage):
        result = ds.wait_data_job(ds.upload_video_start(path), 60)
        assert result.status == "ERROR", result
        assert "video" in result.errors[0].lower()
    assert not m.DataRow.objects.filter(dataset=dataset).exists() and stored_files() == set()


def test_ignore_errors_lands_good_units_else_nothing_lands(tmp_path, dataset, ds, ds_user, data_worker):
    good = make_image(tmp_path / "good.jpg")
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")

    def start(ignore):
        keys = [k for k, _ in ds._store_local_files([good, bad], "image")]
        items = {
            "images": [
                {"objectUrl": keys[0], "title": "good.jpg"},
                {"objectUrl": keys[1], "title": "bad.jpg"},
            ]
        }
        return ds.wait_data_job(ds.start_data_job(items, ignore_errors=ignore), 60)

    strict = start(False)
    assert strict.status == "ERROR" and strict.data_hashes_with_titles == []
    assert strict.units_error_count == 1 and strict.units_pending_count == 0
    assert not m.DataRow.objects.filter(dataset=dataset).exists()
    # The rolled-back unit's files go by a deletion task queued when the ERROR commits (as for
    # delete_data): a poll may see ERROR before the worker has taken that task.
    deadline = time.monotonic() + 30
    while stored_files() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stored_files() == set()

    lenient = start(True)
    assert lenient.status == "DONE" and [r.title for r in lenient.data_hashes_with_titles] == ["good.jpg"]
    assert (
        lenient.units_done_count == 1
        and lenient.units_error_count == 1
        and "not an image" in lenient.errors[0]
    )
    assert m.DataRow.objects.filter(dataset=dataset).count() == 1


def test_duplicate_content_is_reported_kept_or_skipped(tmp_path, dataset, ds, data_worker):
    img = make_image(tmp_path / "a.jpg")
    first = ds.upload_image(img)
    again = ds.wait_data_job(ds.upload_image_start(img, title="a-again.jpg"), 60)
    assert again.status == "DONE" and len(again.data_hashes_with_titles) == 1
    assert again.duplicates == [{"title": "a-again.jpg", "duplicate_of": first.data_hash, "skipped": False}]

    ((key, _),) = ds._store_local_files([img], "image")
    skipped = ds.wait_data_job(
        ds.start_data_job({"images": [{"objectUrl": key, "title": "third"}], "skipDuplicateUrls": True}), 60
    )
    assert skipped.status == "DONE" and skipped.data_hashes_with_titles == []
    assert skipped.duplicates == [{"title": "third", "duplicate_of": first.data_hash, "skipped": True}]
    assert m.DataRow.objects.filter(dataset=dataset).count() == 2
    assert not default_storage.exists(key)


def test_start_refuses_foreign_reused_and_unuploaded_keys(tmp_path, dataset, ds, ds_admin, data_worker):
    # issued to someone else
    (foreign,) = issue_upload_urls(Principal(user=ds_admin), 1, "image")
    with pytest.raises(InvalidArgumentError, match="not issued to you") as err:
        ds.start_data_job({"images": [{"objectUrl": foreign.object_key}]})
    assert err.value.fields["object_url"] == foreign.object_key
    # issued to me but never uploaded
    (mine,) = issue_upload_urls(ds.principal, 1, "image")
    with pytest.raises(InvalidArgumentError, match="has not been uploaded"):
        ds.start_data_job({"images": [{"objectUrl": mine.object_key}]})
    # wrong item type, then reuse after registration
    ((key, _),) = ds._store_local_files([make_image(tmp_path / "a.jpg")], "image")
    with pytest.raises(InvalidArgumentError, match="issued for a image upload"):
        ds.start_data_job({"videos": [{"objectUrl": key}]})
    ds.wait_data_job(ds.start_data_job({"images": [{"objectUrl": key}]}), 60)
    with pytest.raises(InvalidArgumentError, match="already registered"):
        ds.start_data_job({"images": [{"objectUrl": key}]})
    # a made-up key
    with pytest.raises(InvalidArgumentError, match="not issued"):
        ds.start_data_job({"images": [{"objectUrl": f"uploads/{uuid.uuid4()}"}]})
    assert m.DataRow.objects.filter(dataset=dataset).count() == 1


def test_delete_data_has_a_worker_remove_the_hosted_files_after_commit(tmp_path, dataset, ds, ds_admin, data_worker):
    import time

    groups = ds.create_image_group(
        [make_image(tmp_path / f"d{i}.jpg", 32, 24, color=(i * 90, 0, 0)) for i in range(2)], timeout_seconds=60
    )
    kept = ds.upload_image(make_image(tmp_path / "keep.jpg", 40, 30), timeout_seconds=60)
    kept_files = {m.DataRow.objects.get(data_hash=kept.data_hash).storage_key}
    assert len(groups) == 1 and kept_files <= stored_files()
    admin = UserClient.for_user(ds_admin).get_dataset(str(dataset.dataset_hash))
    assert admin.delete_data([groups[0].data_hash]) == 1
    # the rows went at once; the worker removes the group's images and thumbnails, nothing else
    deadline = time.monotonic() + 60
    while stored_files() - kept_files - {m.DataRow.objects.get(data_hash=kept.data_hash).thumbnail_key}:
        assert time.monotonic() < deadline, stored_files()
        time.sleep(0.2)
    assert m.DataRow.objects.filter(dataset=dataset).count() == 1
    assert kept_files <= stored_files()
