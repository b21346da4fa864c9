"""Image groups created with create_video become videos (sdk/sequence_videos.py): made by a real
worker after the data job, frame N is image N, one result however often it runs, errors said in
words, and the file goes with the row."""

from __future__ import annotations

import datetime as dt
import time

import av
import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from datasets_app import models as m
from datasets_app.sdk import UserClient, sequence_videos
from tests.factories import image_group_awaiting_video
from tests.media.mediagen import make_image

pytestmark = pytest.mark.django_db(transaction=True)

COLOURS = [(220, 20, 20), (20, 220, 20), (20, 20, 220), (230, 230, 30), (30, 230, 230)]


def _frame_colours(path_or_url: str) -> list[tuple[int, int, int]]:
    """The mean colour of a central patch of each decoded frame, in order."""
    out = []
    with av.open(path_or_url) as container:
        for frame in container.decode(video=0):
            img = frame.to_image().convert("RGB")
            w, h = img.size
            patch = img.crop((w // 4, h // 4, w // 2, h // 2)).resize((1, 1))
            out.append(patch.getpixel((0, 0)))
    return out


def _close(a, b, tolerance=40) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b))


def _wait_for_status(row: m.DataRow, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row.refresh_from_db()
        if row.sequence_video_status != "PENDING":
            return row.sequence_video_status
        time.sleep(0.3)
    raise AssertionError("the sequence video stayed PENDING")


def test_group_with_create_video_becomes_a_video_whose_frame_n_is_image_n(
    tmp_path, dataset, ds_admin, data_worker
):
    ds = UserClient.for_user(ds_admin).get_dataset(str(dataset.dataset_hash))
    files = [make_image(tmp_path / f"{i}.png", 65, 49, color=c) for i, c in enumerate(COLOURS)]  # odd size
    (group,) = ds.create_image_group(files, title="walk", create_video=True, timeout_seconds=60)
    row = m.DataRow.objects.get(data_hash=group.data_hash)
    assert row.is_optimised_image_group is True
    assert _wait_for_status(row) == "DONE", row.media_info
    assert row.sequence_video_key == f"sequences/items/{row.backing_item_uuid}.mp4"
    colours = _frame_colours(default_storage.path(row.sequence_video_key))
    assert len(colours) == len(COLOURS)
    assert all(_close(got, want) for got, want in zip(colours, COLOURS)), colours
    video = ds.sequence_video(str(row.data_hash), base_url="http://testserver")
    assert (video.status, video.frame_count, video.fps) == ("DONE", 5, 10.0)
    assert video.signed_url.startswith("http://testserver/media/signed/")
    # running it again changes nothing
    before = (row.sequence_video_key, default_storage.get_modified_time(row.sequence_video_key))
    assert sequence_videos.make_sequence_video(str(row.data_hash)) == "DONE"
    assert (row.sequence_video_key, default_storage.get_modified_time(row.sequence_video_key)) == before
    # and deleting the group removes its video with its images
    assert ds.delete_data([str(row.data_hash)]) == 1
    deadline = time.monotonic() + 60
    while default_storage.exists(before[0]):
        assert time.monotonic() < deadline, "the video was not deleted"
        time.sleep(0.2)


def test_group_without_create_video_gets_no_video(tmp_path, dataset, ds_admin, data_worker):
    ds = UserClient.for_user(ds_admin).get_dataset(str(dataset.dataset_hash))
    (group,) = ds.create_image_group(
        [make_image(tmp_path / "a.jpg"), make_image(tmp_path / "b.jpg", color=(1, 2, 3))],
        create_video=False,
        timeout_seconds=60,
    )
    row = m.DataRow.objects.get(data_hash=group.data_hash)
    assert (row.sequence_video_status, row.sequence_video_key, row.is_optimised_image_group) == ("", "", False)
    assert ds.sequence_video(str(row.data_hash)) is None


def _pending_group(dataset, sizes: list[tuple[int, int]], *, missing: int | None = None) -> m.DataRow:
    return image_group_awaiting_video(dataset, sizes, colour_of=lambda i: COLOURS[i], missing=missing)


def test_an_image_that_cannot_be_read_makes_the_video_error_in_words(dataset):
    row = _pending_group(dataset, [(32, 24)] * 3, missing=1)
    assert sequence_videos.make_sequence_video(str(row.data_hash)) == "ERROR"
    row.refresh_from_db()
    assert "Image 1 (1.png) could not be read" in row.media_info["sequence_video"]["error"]
    assert row.sequence_video_key == "" and not default_storage.exists(sequence_videos.sequence_key(row.item))
    # a finished row is left alone by a redelivery
    assert sequence_videos.make_sequence_video(str(row.data_hash)) == "ERROR"


def test_an_image_of_another_size_makes_the_video_error_in_words(dataset):
    row = _pending_group(dataset, [(32, 24), (32, 24), (40, 24)])
    assert sequence_videos.make_sequence_video(str(row.data_hash)) == "ERROR"
    row.refresh_from_db()
    assert "Image 2 (2.png) is 40x24, not 32x24" in row.media_info["sequence_video"]["error"]


def test_a_gone_row_is_missing_not_an_error(db):
    import uuid

    assert sequence_videos.make_sequence_video(str(uuid.uuid4())) == "MISSING"


@pytest.mark.django_db(transaction=False)  # on-commit callbacks captured, not run
def test_beat_requeues_a_video_left_pending(dataset, django_capture_on_commit_callbacks):
    from datasets_app.sdk import maintenance

    row = _pending_group(dataset, [(32, 24)] * 2)
    m.StorageItem.objects.filter(pk=row.item_id).update(last_edited_at=timezone.now() - dt.timedelta(hours=9))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert maintenance.requeue_stuck_jobs(stuck_after=dt.timedelta(hours=1)) == 1
        assert maintenance.requeue_stuck_jobs(stuck_after=dt.timedelta(hours=1)) == 0
    assert len(callbacks) == 1
    # what the requeued task does
    assert sequence_videos.make_sequence_video(str(row.data_hash)) == "DONE"


@pytest.mark.django_db(transaction=False)  # on-commit callbacks captured, not run
def test_a_group_no_dataset_links_gets_its_video_queued_and_made(dataset, django_capture_on_commit_callbacks):
    """A Files upload into a folder no dataset mirrors makes items and no rows: the video is the
    item's, queued by its uuid after the job and again by beat."""
    from datasets_app.sdk import maintenance
    from tests.factories import DataJobFactory, DataJobUnitFactory

    row = _pending_group(dataset, [(32, 24)] * 2)
    item = row.item
    unit = DataJobUnitFactory(job=DataJobFactory(dataset=None, folder=item.folder))
    m.StorageItem.objects.filter(pk=item.pk).update(created_by_job=unit)
    m.DataRow.objects.filter(pk=row.pk).delete()  # the item stays, linked by nothing
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert sequence_videos.queue_for_job(unit.job) == 1
    assert len(callbacks) == 1
    m.StorageItem.objects.filter(pk=item.pk).update(last_edited_at=timezone.now() - dt.timedelta(hours=9))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert maintenance.requeue_stuck_jobs(stuck_after=dt.timedelta(hours=1)) == 1
    assert len(callbacks) == 1
    assert sequence_videos.make_sequence_video(str(item.item_uuid)) == "DONE"
    item.refresh_from_db()
    assert item.sequence_video_key == f"sequences/items/{item.item_uuid}.mp4"
    assert default_storage.exists(item.sequence_video_key)
