"""probe_video and the frame-sync verdict, on short videos made here with PyAV (explicit pts)."""

from __future__ import annotations

import math
import subprocess
from fractions import Fraction

import av
import pytest
from PIL import Image

from datasets_app.media import video
from datasets_app.media.video import VideoProbeError, frame_times, probe_video

from .mediagen import make_video, vfr_pts  # other suites import these two from here too


# ---- probe -----------------------------------------------------------------------------------


def test_probe_constant_frame_rate_video_is_ok(tmp_path):
    path = make_video(tmp_path / "cfr.mp4", frames=30, fps=15)
    info = probe_video(path)
    assert info["verdict"] == "ok", info["reasons"]
    assert info["reasons"] == []
    assert (info["codec"], info["width"], info["height"]) == ("h264", 64, 48)
    assert info["frame_count"] == 30
    assert info["fps"] == pytest.approx(15)
    assert info["duration"] == pytest.approx(2.0)
    assert info["start_time"] == 0
    assert not info["is_variable_frame_rate"] and not info["has_b_frames"]
    # the frame table is one run: 29 gaps of 1/15 s
    table = info["frame_table"]
    assert table["runs"] == [[6000, 29]] and table["count"] == 30
    assert frame_times(table) == pytest.approx([n / 15 for n in range(30)])


def test_probe_variable_frame_rate_video_is_at_risk_with_exact_times(tmp_path):
    pts = vfr_pts()
    path = make_video(tmp_path / "vfr.mp4", pts=pts, fps=20)
    info = probe_video(path)
    assert info["verdict"] == "at risk"
    assert info["is_variable_frame_rate"]
    assert any(r.startswith("Variable frame rate") for r in info["reasons"])
    assert frame_times(info["frame_table"]) == pytest.approx([p / 90000 for p in pts])
    assert len(info["frame_table"]["runs"]) < len(pts)


def test_probe_b_frames_video_is_at_risk(tmp_path):
    path = make_video(tmp_path / "bf.mp4", frames=30, b_frames=2)
    info = probe_video(path)
    assert info["has_b_frames"]
    assert info["verdict"] == "at risk"
    assert any(r.startswith("B-frames") for r in info["reasons"])
    assert info["frame_count"] == 30


def test_probe_non_zero_start_is_at_risk(tmp_path):
    path = make_video(tmp_path / "late.mp4", pts=[90000 + n * 6000 for n in range(30)])
    info = probe_video(path)
    assert info["start_time"] == pytest.approx(1.0)
    assert info["verdict"] == "at risk"
    assert any("start time" in r for r in info["reasons"])
    # the MP4 muxer delays the track with an empty edit
    assert video.mp4_video_edit_list(str(path)) == [(1000, -1), (2000, 0)]
    assert any(r.startswith("Edit list: the container delays the video") for r in info["reasons"])


def test_probe_b_frames_edit_list_shift_is_reported(tmp_path):
    path = make_video(tmp_path / "bf.mp4", frames=30, b_frames=2)
    edits = video.mp4_video_edit_list(str(path))
    assert len(edits) == 1 and edits[0][1] > 0
    assert any(r.startswith("Edit list: playback starts") for r in probe_video(path)["reasons"])


def test_plain_mp4_has_no_edit_list_reason(tmp_path):
    path = make_video(tmp_path / "cfr.mp4", frames=10)
    assert video.edit_list_reason(str(path)) is None
    assert video.mp4_video_edit_list(str(tmp_path / "missing.mp4")) is None


def test_probe_sparse_keyframes_and_odd_dimensions(tmp_path):
    path = make_video(
        tmp_path / "odd.mkv", frames=24, fps=2, width=65, height=49, codec="ffv1", pix_fmt="yuv444p", gop=1000
    )
    info = probe_video(path)
    assert (info["width"], info["height"]) == (65, 49)
    assert info["max_keyframe_interval"] > video.SPARSE_KEYFRAME_SECONDS
    assert any(r.startswith("Very sparse keyframes") for r in info["reasons"])


def test_probe_raw_stream_without_timestamps_counts_frames_and_says_so(tmp_path):
    path = tmp_path / "raw.h264"
    subprocess.run(
        [video.ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10:duration=2",
         "-c:v", "libx264", "-bf", "0", "-f", "h264", str(path)],
        check=True,
    )
    info = probe_video(path)
    assert info["frame_count"] == 20
    assert info["verdict"] == "at risk"
    assert "Missing timestamps: 20 of 20 frames have no presentation time." in info["reasons"]
    assert not info["is_variable_frame_rate"]
    assert len(frame_times(info["frame_table"])) == 20


def test_probe_garbage_file_raises_typed_error(tmp_path):
    path = tmp_path / "junk.mp4"
    path.write_bytes(b"this is not a video at all" * 100)
    with pytest.raises(VideoProbeError) as err:
        probe_video(path)
    assert "media" in err.value.reason


def test_playlist_pointing_at_other_files_is_refused(tmp_path):
    # An HLS playlist would make ffmpeg read any local file (or internal URL) it names.
    secret = make_video(tmp_path / "secret.mp4", frames=5)
    playlist = tmp_path / "evil.m3u8"
    playlist.write_text(f"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:10.0,\n{secret}\n#EXT-X-ENDLIST\n")
    with pytest.raises(VideoProbeError, match="Not a readable media file"):
        probe_video(playlist)
    with pytest.raises(VideoProbeError):
        video.video_thumbnail(playlist, tmp_path / "t.jpg")
    cmd = video.reencode_command(str(playlist), str(tmp_path / "out.mp4"), rate=Fraction(10), progress=False)
    with pytest.raises(subprocess.CalledProcessError):
        video.run_ffmpeg(cmd)
    assert not (tmp_path / "out.mp4").exists()


def test_probe_missing_file_raises_typed_error(tmp_path):
    with pytest.raises(VideoProbeError, match="does not exist"):
        probe_video(tmp_path / "nope.mp4")


def test_probe_audio_only_file_raises_no_video_stream(tmp_path):
    path = tmp_path / "a.m4a"
    container = av.open(str(path), "w")
    stream = container.add_stream("aac", rate=44100)
    frame = av.AudioFrame(format="fltp", layout="mono", samples=1024)
    frame.planes[0].update(bytes(4096))
    frame.sample_rate, frame.pts = 44100, 0
    for packet in [*stream.encode(frame), *stream.encode()]:
        container.mux(packet)
    container.close()
    with pytest.raises(VideoProbeError, match="no video stream"):
        probe_video(path)


def test_probe_corrupt_frames_give_unknown_verdict(tmp_path):
    good = make_video(tmp_path / "good.mp4", frames=30)
    data = bytearray(good.read_bytes())
    # keep the container headers (moov at the end, ftyp at the start); scramble the frame data
    start = data.index(b"mdat") + 4
    for i in range(start, min(len(data), start + 4000)):
        data[i] = (data[i] * 7 + 13) % 256
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    info = probe_video(bad)
    assert info["verdict"] == "unknown"
    assert info["reasons"] and info["frame_table"] is None


def test_video_thumbnail_fits_size(tmp_path):
    path = make_video(tmp_path / "cfr.mp4", frames=5, width=96, height=48)
    out = tmp_path / "thumb.jpg"
    assert video.video_thumbnail(path, out, size=32) == (32, 16)
    assert Image.open(out).size == (32, 16)


def test_output_frame_rate_snaps_to_standard_rates():
    assert video.output_frame_rate({"frame_count": 300, "duration": 10.01}) == Fraction(30000, 1001)
    assert video.output_frame_rate({"frame_count": 36, "duration": 2.0}) == 18
    assert math.isclose(float(video.output_frame_rate({"frame_count": 37, "duration": 2.1})), 37 / 2.1, rel_tol=1e-3)


def test_run_ffmpeg_streams_progress_and_output_is_constant_rate(tmp_path):
    src = make_video(tmp_path / "vfr.mp4", pts=vfr_pts(30), fps=20)
    info = probe_video(src)
    rate = video.output_frame_rate(info)
    seen: list[int] = []
    video.run_ffmpeg(video.reencode_command(str(src), str(tmp_path / "out.mp4"), rate=rate), on_progress=seen.append)
    assert seen and seen[-1] == 30 and seen == sorted(seen)
    out = probe_video(tmp_path / "out.mp4")
    assert out["verdict"] == "ok" and out["frame_count"] == 30
    assert out["avg_frame_rate"] == out["r_frame_rate"] == f"{rate.numerator}/{rate.denominator}"
    assert len(out["frame_table"]["runs"]) == 1
