"""Media probing never runs in a web request, and the worker's re-encode and image-sequence work
is bounded (issue 11, item 4, the part left after media/bounded.py).

- A video row without a frame-sync verdict (private rows inserted from metadata, say) used to be
  probed by the request that asked for its frame table: `GET /v2/.../frames` and the dashboard's
  row page demuxed a file of anyone's choosing, unbounded, in a web thread. Now the request queues
  the probe to the worker and answers "pending"; a real Celery worker (`data_worker`) fills it in.
- The worker's own probes (re-encode, sequence videos) go through the bounded child with the media
  limits, and a sequence video checks each image's pixels from its header before decoding it.
- The ffmpeg re-encode runs under an address-space limit (MEDIA_REENCODE_MEMORY_BYTES)."""

from __future__ import annotations

import threading

import pytest
from django.core.files.storage import default_storage
from django.db import transaction
from django.urls import reverse

from datasets_app import models as m
from datasets_app.media import bounded, probe, video
from datasets_app.sdk import UserClient, accounts, reencode_jobs, sequence_videos
from tests.factories import hosted_video_row, image_group_awaiting_video
from tests.media.test_video import make_video, vfr_pts
from tests.waits import wait_for

MiB = 1024 * 1024


def _hosted_video_row(dataset, path) -> m.DataRow:
    """A video row as a metadata import leaves it: a file, no probe (media_info empty)."""
    row = hosted_video_row(dataset, path)
    assert "verdict" not in (row.media_info or {})
    return row


@pytest.fixture
def probes_in_this_thread(monkeypatch):
    """Records every media probe entered on the test's own thread (where the test client runs the
    request); the Celery worker of `data_worker` runs on its own thread and is not counted."""
    calls: list[str] = []
    here = threading.get_ident()

    def spy(module, name):
        real = getattr(module, name)

        def wrapper(*args, **kwargs):
            if threading.get_ident() == here:
                calls.append(f"{module.__name__}.{name}")
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapper)

    for module, name in [
        (video, "probe_video"), (video, "open_video"), (video, "video_thumbnail"),
        (probe, "video"), (probe, "video_source"), (bounded, "run"),
    ]:
        spy(module, name)
    return calls


def _verdict(row: m.DataRow):
    row.refresh_from_db()
    return (row.media_info or {}).get("verdict")


@pytest.mark.django_db(transaction=True)
def test_frames_request_for_an_unprobed_video_queues_the_probe_and_answers_pending(
    tmp_path, dataset, ds_user, client, data_worker, probes_in_this_thread
):
    pts = vfr_pts(18)
    row = _hosted_video_row(dataset, make_video(tmp_path / "v.mp4", pts=pts, fps=20))
    url = f"/v2/public/datasets/{dataset.dataset_hash}/data/{row.data_hash}/frames"
    auth = {"Authorization": f"Bearer {accounts.issue_bearer_token(ds_user)}"}

    # when a client asks for the frame table of a video never probed
    first = client.get(url, headers=auth)

    # then the request probes nothing itself, and says the table is being measured
    assert probes_in_this_thread == []
    assert first.status_code == 200, first.content
    body = first.json()
    assert body["verdict"] == "pending" and body["times"] == [] and body["frame_count"] == 0
    assert "Measuring the frame table" in body["reasons"][0]
    # and the worker fills the verdict in; the same request then answers with the table
    assert wait_for(lambda: _verdict(row)) == "at risk"
    again = client.get(url, headers=auth).json()
    assert again["verdict"] == "at risk"
    assert again["times"] == pytest.approx([p / 90000 for p in pts])
    assert probes_in_this_thread == []


@pytest.mark.django_db(transaction=True)
def test_row_page_of_an_unprobed_video_says_measuring_and_probes_nothing(
    tmp_path, dataset, ds_user, data_worker, probes_in_this_thread
):
    from django.test import Client

    row = _hosted_video_row(dataset, make_video(tmp_path / "v.mp4", pts=vfr_pts(12), fps=20))
    c = Client()
    c.force_login(ds_user)
    page = c.get(reverse("dashboard:data-row", args=[dataset.dataset_hash, row.data_hash]))
    assert page.status_code == 200
    assert "Measuring the frame table" in page.content.decode()
    assert probes_in_this_thread == []
    assert wait_for(lambda: _verdict(row)) == "at risk"
    body = c.get(reverse("dashboard:data-row", args=[dataset.dataset_hash, row.data_hash])).content.decode()
    assert 'id="frame-sync"' in body and "at risk" in body and "Measuring the frame table" not in body
    assert probes_in_this_thread == []


@pytest.mark.django_db
def test_asking_again_while_pending_does_not_queue_the_probe_again(
    tmp_path, dataset, ds_user, django_capture_on_commit_callbacks, probes_in_this_thread
):
    row = _hosted_video_row(dataset, make_video(tmp_path / "v.mp4", frames=6))
    ds = UserClient.for_user(ds_user).get_dataset(str(dataset.dataset_hash))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        for _ in range(3):
            assert ds.get_frame_timestamps(str(row.data_hash)).verdict == "pending"
    assert len(callbacks) == 1
    assert probes_in_this_thread == []


@pytest.mark.django_db
def test_the_queued_probe_of_a_hostile_video_fails_with_the_limit_named(tmp_path, dataset, settings):
    from datasets_app.tasks import probe_video_row_task

    row = _hosted_video_row(dataset, make_video(tmp_path / "big.mp4", frames=4, width=320, height=240))
    settings.MEDIA_MAX_IMAGE_PIXELS = 10_000  # 320x240 is 76,800 pixels
    assert probe_video_row_task(str(row.data_hash)) == "unknown"
    row.refresh_from_db()
    (reason,) = row.media_info["reasons"]
    assert "320x240" in reason and "MEDIA_MAX_IMAGE_PIXELS" in reason
    # a second delivery of the same task leaves the verdict alone
    assert probe_video_row_task(str(row.data_hash)) == "unknown"


# ---- the worker side: re-encode and sequence videos --------------------------------------------


def _reencode(dataset, user, row) -> m.ReEncodeVideo:
    editor = UserClient.for_user(user).get_dataset(str(dataset.dataset_hash))
    with transaction.atomic():
        task_id = editor.re_encode_data([str(row.data_hash)])
    reencode_jobs.run_reencode(task_id)
    return m.ReEncodeVideo.objects.get(task_id=task_id)


@pytest.mark.django_db
def test_reencode_of_a_video_over_the_pixel_limit_is_refused_before_decoding(
    tmp_path, dataset, ds_user, settings, django_capture_on_commit_callbacks
):
    row = _hosted_video_row(dataset, make_video(tmp_path / "big.mp4", frames=4, width=320, height=240))
    settings.MEDIA_MAX_IMAGE_PIXELS = 10_000
    with django_capture_on_commit_callbacks(execute=False):
        part = _reencode(dataset, ds_user, row)
    assert part.status == "ERROR"
    assert "320x240" in part.error and "MEDIA_MAX_IMAGE_PIXELS" in part.error, part.error
    assert not default_storage.exists(reencode_jobs.output_key_for(row))


@pytest.fixture
def probes_in_this_process(monkeypatch):
    """Names of the functions run by media/bounded.run (in its child), and of every probe_video
    called in this process (none may be: the worker's probes run in the bounded child)."""
    seen = {"bounded": [], "in_process": []}
    real_run, real_probe = bounded.run, video.probe_video

    def run(func, *args, **kwargs):
        seen["bounded"].append(func.__name__)
        return real_run(func, *args, **kwargs)

    def probe_video(*args, **kwargs):
        seen["in_process"].append(args[0] if args else kwargs)
        return real_probe(*args, **kwargs)

    monkeypatch.setattr(bounded, "run", run)
    monkeypatch.setattr(video, "probe_video", probe_video)
    return seen


@pytest.mark.django_db
def test_reencode_probes_in_the_bounded_child(
    tmp_path, dataset, ds_user, django_capture_on_commit_callbacks, probes_in_this_process
):
    row = _hosted_video_row(dataset, make_video(tmp_path / "v.mp4", pts=vfr_pts(12), fps=20))
    with django_capture_on_commit_callbacks(execute=False):
        part = _reencode(dataset, ds_user, row)
    assert part.status == "DONE", part.error
    assert probes_in_this_process["in_process"] == []
    # the source and the re-encoded file, each probed by the child under the limits
    assert probes_in_this_process["bounded"] == ["_probe_video_in_child"] * 2


@pytest.mark.django_db
def test_ffmpeg_reencode_runs_under_a_memory_limit_and_says_so(
    tmp_path, dataset, ds_user, settings, django_capture_on_commit_callbacks
):
    row = _hosted_video_row(dataset, make_video(tmp_path / "v.mp4", frames=8))
    settings.MEDIA_REENCODE_MEMORY_BYTES = 64 * MiB  # far below what ffmpeg with libx264 needs
    with django_capture_on_commit_callbacks(execute=False):
        part = _reencode(dataset, ds_user, row)
    assert part.status == "ERROR"
    assert "ffmpeg ran out of memory" in part.error, part.error
    assert "64 MiB" in part.error and "MEDIA_REENCODE_MEMORY_BYTES" in part.error
    assert not default_storage.exists(reencode_jobs.output_key_for(row))
    # and with the default limit the same video re-encodes
    del settings.MEDIA_REENCODE_MEMORY_BYTES
    with django_capture_on_commit_callbacks(execute=False):
        assert _reencode(dataset, ds_user, row).status == "DONE"


def _pending_group(dataset, size: tuple[int, int], count: int) -> m.DataRow:
    return image_group_awaiting_video(dataset, [size] * count, colour_of=lambda i: (20 * i, 100, 200))


@pytest.mark.django_db
def test_sequence_video_checks_each_images_pixels_before_decoding(dataset, settings, monkeypatch):
    from PIL import Image

    row = _pending_group(dataset, (120, 90), 3)
    settings.MEDIA_MAX_IMAGE_PIXELS = 10_000  # 120x90 is 10,800 pixels
    decoded = []
    real_load = Image.Image.load
    monkeypatch.setattr(Image.Image, "load", lambda im: decoded.append(im.size) or real_load(im))
    assert sequence_videos.make_sequence_video(str(row.data_hash)) == "ERROR"
    row.refresh_from_db()
    error = row.media_info["sequence_video"]["error"]
    assert error.startswith("Image 0 (0.png)") and "120x90" in error and "MEDIA_MAX_IMAGE_PIXELS" in error, error
    assert decoded == []  # refused from the header


@pytest.mark.django_db
def test_sequence_video_probe_of_its_own_output_is_bounded(dataset, settings, probes_in_this_process):
    row = _pending_group(dataset, (32, 24), 3)
    settings.MEDIA_MAX_VIDEO_FRAMES = 2  # a limit only the bounded probe applies
    assert sequence_videos.make_sequence_video(str(row.data_hash)) == "ERROR"
    row.refresh_from_db()
    assert "MEDIA_MAX_VIDEO_FRAMES" in row.media_info["sequence_video"]["error"], row.media_info
    assert probes_in_this_process["in_process"] == []
    assert probes_in_this_process["bounded"] == ["_probe_video_in_child"]
