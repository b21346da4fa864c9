"""Re-encoding through the SDK and the worker entry point, on short generated videos.

The frame-accuracy contract checked on every output: seeking to n/fps gives the n-th frame of a
sequential decode, for every n, and there are as many frames as in the source, in the same order."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import av
import pytest
from django.core.files import File
from PIL import Image, ImageChops, ImageStat
from django.core.files.storage import default_storage

from datasets_app import models as m
from datasets_app.media import video
from datasets_app.media.video import probe_video
from datasets_app.sdk import reencode_jobs
from datasets_app.sdk.exceptions import (
    InvalidArgumentError,
    OperationNotAllowed,
    ResourceNotFoundError,
)
from datasets_app.tasks import reencode_videos_task
from tests.factories import (
    CloudIntegrationFactory,
    DataRowFactory,
    DatasetFactory,
    DatasetMembershipFactory,
    hosted_video_row,
)
from tests.media.test_video import make_video, vfr_pts


def frame_signature(frame: av.VideoFrame) -> bytes:
    """The exact decoded luma of a frame (equal frames give equal bytes)."""
    plane = frame.planes[0]
    return bytes(plane)


def thumb(frame: av.VideoFrame) -> Image.Image:
    return frame.to_image().convert("RGB").resize((32, 24))


def distance(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference of two small RGB images."""
    stat = ImageStat.Stat(ImageChops.difference(a, b))
    return sum(stat.mean) / 3


def sequential_frames(path) -> list[av.VideoFrame]:
    with av.open(str(path)) as c:
        return list(c.decode(video=0))


def assert_frame_accurate(out_path, source_path):
    """Seek to n/fps == n-th sequential frame for all n; same count and order as the source."""
    seq = sequential_frames(out_path)
    src = sequential_frames(source_path)
    assert len(seq) == len(src)
    info = probe_video(out_path)
    assert info["verdict"] == "ok", info["reasons"]
    assert info["frame_count"] == len(src)
    fps = Fraction(info["avg_frame_rate"])
    with av.open(str(out_path)) as c:
        stream = c.streams.video[0]
        tb = stream.time_base
        for n in range(len(seq)):
            target = round(Fraction(n) / fps / tb)
            c.seek(target, stream=stream, backward=True, any_frame=False)
            got = None
            for frame in c.decode(stream):
                if frame.pts >= target:
                    got = frame
                    break
            assert got is not None and got.pts == target, f"no frame at {n}/fps"
            assert frame_signature(got) == frame_signature(seq[n]), f"frame {n} differs after seek"
    # The same source frames, in order: each output frame is nearest to its own source frame.
    src_thumbs = [thumb(f) for f in src]
    for n, frame in enumerate(seq):
        out = thumb(frame)
        best = min(range(len(src_thumbs)), key=lambda k: distance(src_thumbs[k], out))
        assert best == n, f"output frame {n} looks like source frame {best}"


@pytest.fixture
def editor(ds_user, dataset):
    from datasets_app.sdk import UserClient

    return UserClient.for_user(ds_user).get_dataset(str(dataset.dataset_hash))


def run_task(editor, rows, django_capture_on_commit_callbacks) -> int:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        task_id = editor.re_encode_data([str(r.data_hash) for r in rows])
    assert len(callbacks) == 1
    reencode_videos_task.run(task_id)  # the task body, as the worker would run it
    return task_id


@pytest.mark.parametrize(
    "kind",
    ["constant", "variable", "b_frames", "non_zero_start", "odd_dimensions", "with_audio", "no_timestamps"],
)
def test_reencode_makes_frame_accurate_video(kind, tmp_path, dataset, editor, django_capture_on_commit_callbacks):
    # given a video with a frame-sync risk
    src = tmp_path / f"{kind}.mp4"
    if kind == "constant":
        make_video(src, frames=24, fps=12)
    elif kind == "variable":
        make_video(src, pts=vfr_pts(30), fps=20)
    elif kind == "b_frames":
        make_video(src, frames=30, b_frames=3)
    elif kind == "non_zero_start":
        make_video(src, pts=[45000 + n * 7500 for n in range(24)], fps=12)
    elif kind == "odd_dimensions":
        src = tmp_path / "odd.mkv"
        make_video(src, frames=20, fps=10, width=67, height=45, codec="ffv1", pix_fmt="yuv444p")
    elif kind == "no_timestamps":
        # a raw H.264 stream with B-frames: no container, no timestamps at all
        mp4 = make_video(tmp_path / "bf.mp4", frames=20, fps=10, b_frames=2)
        src = tmp_path / "raw.h264"
        subprocess.run(
            [video.ffmpeg_exe(), "-loglevel", "error", "-i", str(mp4), "-c", "copy", "-bsf:v", "h264_mp4toannexb",
             "-f", "h264", str(src)],
            check=True,
        )
    else:
        make_video(src, pts=vfr_pts(24), fps=20, audio=True)
    row = hosted_video_row(dataset, src)
    original_key = row.storage_key

    # when
    task_id = run_task(editor, [row], django_capture_on_commit_callbacks)

    # then the task is DONE, the row points at the new file and keeps the original
    status = editor.re_encode_data_status(task_id)
    assert status.status == "DONE"
    (result,) = status.result
    assert result.data_hash == str(row.data_hash)
    assert result.bucket_path == f"reencoded/{dataset.dataset_hash}/{row.data_hash}.mp4"
    row.refresh_from_db()
    assert row.storage_key == result.bucket_path
    assert row.original_storage_key == original_key
    assert default_storage.exists(original_key)
    assert row.media_info["verdict"] == "ok"
    assert row.media_info["original"]["frame_count"] == row.frame_count
    out_path = default_storage.path(row.storage_key)
    assert_frame_accurate(out_path, src)
    with av.open(out_path) as c:
        v = c.streams.video[0]
        assert v.codec_context.name == "h264" and v.codec_context.pix_fmt == "yuv420p"
        assert v.codec_context.width % 2 == 0 and v.codec_context.height % 2 == 0
        assert bool(c.streams.audio) == (kind == "with_audio")
    # progress reached the total
    part = m.ReEncodeVideo.objects.get(task_id=task_id)
    assert part.frames_total == row.frame_count == part.frames_done
    # the frame table is served for the new file: frame n at n/fps
    frames = editor.get_frame_timestamps(str(row.data_hash))
    assert frames.frame_count == row.frame_count
    assert frames.times == pytest.approx([n / row.fps for n in range(row.frame_count)], abs=1e-6)
    assert frames.frame_at(frames.time_of(5) + 0.001) == 5


def test_reencode_keyframes_are_regular_and_file_is_faststart(tmp_path, dataset, editor, django_capture_on_commit_callbacks):
    src = make_video(tmp_path / "long.mp4", frames=60, fps=20, gop=1000)
    row = hosted_video_row(dataset, src)
    run_task(editor, [row], django_capture_on_commit_callbacks)
    row.refresh_from_db()
    path = default_storage.path(row.storage_key)
    with av.open(path) as c:
        keys = [i for i, p in enumerate(c.demux(video=0)) if p.is_keyframe and p.size]
    assert keys == [0, 20, 40]
    head = Path(path).read_bytes()[:4096]
    assert head.find(b"moov") != -1 and (head.find(b"mdat") == -1 or head.find(b"moov") < head.find(b"mdat"))


def test_reencode_twice_gives_same_end_state(tmp_path, dataset, editor, django_capture_on_commit_callbacks):
    src = make_video(tmp_path / "v.mp4", pts=vfr_pts(24), fps=20)
    row = hosted_video_row(dataset, src)
    task_id = run_task(editor, [row], django_capture_on_commit_callbacks)
    row.refresh_from_db()
    state = (row.storage_key, row.original_storage_key, row.frame_count, row.media_info)
    files = sorted(p.name for p in Path(default_storage.path("reencoded")).rglob("*"))

    # the same task again (a redelivery) is a no-op
    assert reencode_jobs.run_reencode(task_id) == "DONE"
    # a new request re-encodes from the original and overwrites the same key
    task2 = run_task(editor, [row], django_capture_on_commit_callbacks)
    assert task2 != task_id
    row.refresh_from_db()
    assert (row.storage_key, row.original_storage_key, row.frame_count, row.media_info) == state
    assert sorted(p.name for p in Path(default_storage.path("reencoded")).rglob("*")) == files
    assert m.ReEncodeVideo.objects.filter(data_hash=row.data_hash).count() == 2


def test_redelivery_after_killed_worker_redoes_unfinished_part(tmp_path, dataset, editor, django_capture_on_commit_callbacks):
    # given a task whose worker died mid-encode: part still SUBMITTED with some progress and a
    # half-written output at the deterministic key
    src = make_video(tmp_path / "v.mp4", frames=24, fps=12)
    row = hosted_video_row(dataset, src)
    with django_capture_on_commit_callbacks(execute=False):
        task_id = editor.re_encode_data([str(row.data_hash)])
    key = reencode_jobs.output_key_for(row)
    default_storage.save(key, File(open(src, "rb"), name="x.mp4"))
    m.ReEncodeVideo.objects.filter(task_id=task_id).update(frames_done=7, frames_total=24)
    assert editor.re_encode_data_status(task_id).status == "SUBMITTED"

    # when the message is redelivered
    assert reencode_jobs.run_reencode(task_id) == "DONE"

    # then the work is redone into the same key
    row.refresh_from_db()
    assert row.storage_key == key
    assert_frame_accurate(default_storage.path(key), src)
    assert sorted(p.name for p in Path(default_storage.path("reencoded")).rglob("*.mp4")) == [f"{row.data_hash}.mp4"]


def test_undecodable_video_errors_its_part_only(tmp_path, dataset, editor, django_capture_on_commit_callbacks):
    good = hosted_video_row(dataset, make_video(tmp_path / "good.mp4", frames=12, fps=12))
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video" * 500)
    bad = hosted_video_row(dataset, junk)
    task_id = run_task(editor, [good, bad], django_capture_on_commit_callbacks)

    status = editor.re_encode_data_status(task_id)
    assert status.status == "DONE"
    assert [r.data_hash for r in status.result] == [str(good.data_hash)]
    progress = editor.re_encode_task_progress(task_id)
    errors = {v.data_hash: v for v in progress.videos}
    assert errors[str(bad.data_hash)].status == "ERROR"
    assert "could not be opened" in errors[str(bad.data_hash)].error
    assert str(bad.data_hash) in progress.message
    bad.refresh_from_db()
    assert bad.original_storage_key == "" and bad.storage_key.endswith("junk.mp4")


def test_task_is_error_when_every_video_fails(tmp_path, dataset, editor, django_capture_on_commit_callbacks):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 3000)
    bad = hosted_video_row(dataset, junk)
    task_id = run_task(editor, [bad], django_capture_on_commit_callbacks)
    status = editor.re_encode_data_status(task_id)
    assert status.status == "ERROR" and status.result is None


def test_re_encode_data_ignores_other_items_and_retry_returns_same_task(dataset, editor, django_capture_on_commit_callbacks):
    video = DataRowFactory(dataset=dataset)
    image = DataRowFactory(dataset=dataset, data_type=m.DataType.IMAGE)
    elsewhere = DataRowFactory(dataset=DatasetFactory())
    hashes = [str(video.data_hash), str(image.data_hash), str(elsewhere.data_hash)]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = editor.re_encode_data(hashes)
        again = editor.re_encode_data(list(reversed(hashes)))
    assert first == again and first > 0
    assert len(callbacks) == 1
    assert list(m.ReEncodeVideo.objects.filter(task_id=first).values_list("data_hash", flat=True)) == [video.data_hash]
    # nothing re-encodable: a DONE task with an empty result, nothing queued
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        empty = editor.re_encode_data([str(image.data_hash)])
    assert not callbacks
    assert editor.re_encode_data_status(empty).status == "DONE"
    assert editor.re_encode_data_status(empty).result == []


def test_re_encode_status_of_another_datasets_task_is_not_found(editor, ds_user, django_capture_on_commit_callbacks):
    from datasets_app.sdk import UserClient

    other = DatasetFactory()
    DatasetMembershipFactory(dataset=other, user=ds_user, role=m.DatasetUserRole.USER)
    row = DataRowFactory(dataset=other)
    with django_capture_on_commit_callbacks(execute=False):
        task_id = UserClient.for_user(ds_user).get_dataset(str(other.dataset_hash)).re_encode_data([str(row.data_hash)])
    with pytest.raises(ResourceNotFoundError):
        editor.re_encode_data_status(task_id)
    with pytest.raises(ResourceNotFoundError):
        editor.re_encode_data_status(999_999)
    with pytest.raises(InvalidArgumentError):
        editor.re_encode_data_status("abc")


def test_re_encode_permissions(open_as, dataset, django_capture_on_commit_callbacks):
    row = DataRowFactory(dataset=dataset)
    with pytest.raises(OperationNotAllowed):
        open_as("read_key").re_encode_data([str(row.data_hash)])
    with pytest.raises(ResourceNotFoundError):
        open_as("stranger").re_encode_data([str(row.data_hash)])
    with django_capture_on_commit_callbacks(execute=False):
        task_id = open_as("write_key").re_encode_data([str(row.data_hash)])
    assert open_as("read_key").re_encode_data_status(task_id).status == "SUBMITTED"
    with pytest.raises(OperationNotAllowed):
        open_as("write_key").re_encode_data_status(task_id)
    with pytest.raises(ResourceNotFoundError):
        open_as("stranger").get_frame_timestamps(str(row.data_hash))


def test_get_frame_timestamps_of_unprobed_video_is_pending_until_the_worker_probes_it_once(
    tmp_path, dataset, editor, django_capture_on_commit_callbacks
):
    pts = vfr_pts(18)
    row = hosted_video_row(dataset, make_video(tmp_path / "v.mp4", pts=pts, fps=20))
    with django_capture_on_commit_callbacks(execute=False) as queued:
        pending = editor.get_frame_timestamps(str(row.data_hash))
    assert pending.pending and pending.times == [] and len(queued) == 1
    # what the queued task does (tests/security/test_no_probe_in_request.py runs it on a real worker)
    assert reencode_jobs.probe_row_once(str(row.data_hash)) == "at risk"
    frames = editor.get_frame_timestamps(str(row.data_hash))
    assert frames.verdict == "at risk"
    assert frames.times == pytest.approx([p / 90000 for p in pts])
    row.refresh_from_db()
    assert row.media_info["frame_table"]["count"] == 18
    image = DataRowFactory(dataset=dataset, data_type=m.DataType.IMAGE)
    with pytest.raises(InvalidArgumentError):
        editor.get_frame_timestamps(str(image.data_hash))


@pytest.mark.django_db(transaction=True)
def test_private_cloud_video_is_read_by_signed_url_and_stored_hosted(
    tmp_path, dataset, editor, ds_user, live_server, django_capture_on_commit_callbacks
):
    from django.db import transaction

    from datasets_app.media.downloads import signed_download_url

    # given a video in "someone's bucket": an HTTPS integration serving it from a loopback server
    src = make_video(tmp_path / "cloud.mp4", pts=vfr_pts(24), fps=20)
    with open(src, "rb") as fh:
        default_storage.save("elsewhere/cloud.mp4", File(fh, name="cloud.mp4"))
    url = signed_download_url("elsewhere/cloud.mp4", base_url=live_server.url)
    integration = CloudIntegrationFactory(
        title="loopback", provider="https", owner=ds_user, allow_private_network=True
    )
    row = DataRowFactory(dataset=dataset, title="cloud.mp4", storage_key="", url=url, integration=integration)

    with transaction.atomic(), django_capture_on_commit_callbacks(execute=False):
        task_id = editor.re_encode_data([str(row.data_hash)])
    assert reencode_jobs.run_reencode(task_id) == "DONE", m.ReEncodeTask.objects.get(pk=task_id).message

    # then the re-encode is hosted, and the row records the original URL
    (result,) = editor.re_encode_data_status(task_id).result
    row.refresh_from_db()
    assert row.storage_key == result.bucket_path and row.url == ""
    assert row.original_url == url and row.original_storage_key == ""
    assert_frame_accurate(default_storage.path(row.storage_key), src)


def test_probe_of_a_url_whose_dns_answer_turns_private_is_refused(tmp_path, dataset, http_media, monkeypatch):
    # ffmpeg/PyAV resolve names by themselves: checked first, then handed the URL, they would follow
    # a DNS answer that changed to a loopback address. They read through the relay instead.
    from urllib.parse import urlsplit

    from tests.media.test_cloud import answer_in_turn

    make_video(http_media.root / "turns.mp4", frames=10)
    url = f"http://turns.example:{urlsplit(http_media.base_url).port}/turns.mp4"
    answer_in_turn(monkeypatch, "turns.example", [["93.184.216.34"], ["127.0.0.1"]])
    row = DataRowFactory(dataset=dataset, title="turns.mp4", storage_key="", url=url, integration=None)
    info = reencode_jobs.probe_row(row)
    assert info["verdict"] == "unknown"
    assert info["reasons"] == [
        f"Cannot read {url}: The host turns.example (127.0.0.1) is a loopback address; "
        "this integration does not allow private networks."
    ]


def test_reencode_task_goes_to_media_queue_and_survives_worker_loss():
    from dashboard.celery import app

    route = app.amqp.router.route({}, reencode_videos_task.name)
    assert route["queue"].name == "media"
    assert reencode_videos_task.acks_late and reencode_videos_task.reject_on_worker_lost
