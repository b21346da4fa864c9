"""Media bombs (issue 11, item 4): small hostile files that decode huge.

Each file is made here, uploaded through the SDK layer and processed by a real Celery worker
(`data_worker`). A hostile file must fail its own unit with a message naming the limit, the other
units of the same job must land, the worker must go on taking jobs, and memory must stay bounded:
probes and thumbnails run in a short-lived child process under RLIMIT_AS
(datasets_app/media/bounded.py), whose peak RSS is logged and checked here, and the test
process's own peak RSS must not jump (the old code inflated or decoded these files in the
worker's own memory)."""

from __future__ import annotations

import json
import logging
import random
import resource
import struct
import zlib
from fractions import Fraction
from pathlib import Path

import av
import pytest
from django.db import connection

from datasets_app import models as m
from tests.media.mediagen import make_dicom, make_image, make_png_bomb, make_video

pytestmark = pytest.mark.django_db(transaction=True)

MiB = 1024 * 1024


def _peak_rss() -> int:
    """This process's peak resident set so far, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _child_peaks(caplog) -> list[int]:
    return [
        r.peak_rss for r in caplog.records if r.name == "datasets_app.media.bounded" and hasattr(r, "peak_rss")
    ]


# ---- hostile files ------------------------------------------------------------------------------


def _element(group: int, elem: int, vr: bytes, value: bytes) -> bytes:
    """One explicit-VR little-endian data element."""
    if vr in (b"OB", b"OW", b"UN", b"SQ", b"UT", b"OF"):
        return struct.pack("<HH2sHI", group, elem, vr, 0, len(value)) + value
    return struct.pack("<HH2sH", group, elem, vr, len(value)) + value


def _text(value: str) -> bytes:
    raw = value.encode()
    return raw + (b"\0" if len(raw) % 2 else b"")


def _us(value: int) -> bytes:
    return struct.pack("<H", value)


def make_deflated_dicom(path: Path, inflated_bytes: int, *, rows: int = 16, columns: int = 16) -> Path:
    """A DICOM file in Deflated Explicit VR Little Endian whose dataset inflates to about
    `inflated_bytes`: a private OB element of zeros before a small 16x16 image."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_file_meta_info
    from pydicom.uid import DeflatedExplicitVRLittleEndian, generate_uid

    sop_class, sop_uid = "1.2.840.10008.5.1.4.1.1.2", generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = sop_class, sop_uid
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    head = DicomBytesIO()
    write_file_meta_info(head, meta, enforce_standard=True)
    before = (
        _element(0x0008, 0x0016, b"UI", _text(sop_class))
        + _element(0x0008, 0x0018, b"UI", _text(sop_uid))
        + _element(0x0008, 0x0060, b"CS", _text("CT"))
        + _element(0x0009, 0x0010, b"LO", _text("BOMB"))
    )
    blob_len = max(0, inflated_bytes - rows * columns * 2)
    blob_len -= blob_len % 2
    after = (
        _element(0x0020, 0x000E, b"UI", _text("1.2.3.4"))
        + _element(0x0020, 0x0013, b"IS", _text("1"))
        + _element(0x0028, 0x0002, b"US", _us(1))
        + _element(0x0028, 0x0004, b"CS", _text("MONOCHROME2"))
        + _element(0x0028, 0x0010, b"US", _us(rows))
        + _element(0x0028, 0x0011, b"US", _us(columns))
        + _element(0x0028, 0x0100, b"US", _us(16))
        + _element(0x0028, 0x0101, b"US", _us(16))
        + _element(0x0028, 0x0102, b"US", _us(15))
        + _element(0x0028, 0x0103, b"US", _us(0))
        + _element(0x7FE0, 0x0010, b"OW", bytes(range(256)) * (rows * columns * 2 // 256 + 1))[
            : 12 + rows * columns * 2
        ]
    )
    deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    with open(path, "wb") as fh:
        fh.write(b"\0" * 128 + b"DICM" + head.getvalue())
        fh.write(deflate.compress(before + struct.pack("<HH2sHI", 0x0009, 0x1001, b"OB", 0, blob_len)))
        zeros = bytes(16 * MiB)
        left = blob_len
        while left:
            n = min(left, len(zeros))
            fh.write(deflate.compress(zeros[:n]))
            left -= n
        fh.write(deflate.compress(after))
        fh.write(deflate.flush())
    return path


def make_mjpeg_video(path: Path, width: int, height: int, frames: int = 2) -> Path:
    """An MJPEG video whose frames are width x height (grey, one colour: a few hundred KB)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (width, height), 90).save(buf, "JPEG", quality=50)
    jpeg = buf.getvalue()
    with av.open(str(path), "w", format="matroska") as container:
        stream = container.add_stream("mjpeg", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuvj420p"
        stream.time_base = Fraction(1, 1000)
        for n in range(frames):
            packet = av.Packet(jpeg)
            packet.stream, packet.pts, packet.dts, packet.time_base = stream, n * 100, n * 100, stream.time_base
            packet.is_keyframe = True
            container.mux(packet)
    return path


def make_many_packet_video(path: Path, packets: int) -> Path:
    """A small video (a real first frame, then copies of one tiny packet) whose `packets` frame
    durations vary irregularly: a run-length frame table cannot compress it."""
    src = make_video(path.with_suffix(".src.mkv"), frames=2, fps=25, width=16, height=16)
    with av.open(str(src)) as inp:
        first, second = [bytes(p) for p in inp.demux(video=0) if p.size][:2]
    with av.open(str(src)) as inp, av.open(str(path), "w", format="matroska") as container:
        stream = container.add_stream_from_template(inp.streams.video[0])
        stream.time_base = Fraction(1, 1000)
        pts, rng = 0, random.Random(7)
        for n in range(packets):
            packet = av.Packet(first if n == 0 else second)
            packet.stream, packet.pts, packet.dts, packet.time_base = stream, pts, pts, stream.time_base
            packet.is_keyframe = n == 0
            container.mux(packet)
            pts += rng.randint(20, 116)  # ms: no pattern a table could compress
    src.unlink()
    return path


def make_dicom_claiming(path: Path, rows: int, columns: int, frames: int = 1) -> Path:
    """A small DICOM file whose header claims rows x columns (x frames) 8-bit pixels."""
    from pydicom import dcmread

    make_dicom(path, 1)
    ds = dcmread(path)
    ds.Rows, ds.Columns = rows, columns
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = bytes(4096)
    ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)
    return path


# ---- the attacks ----------------------------------------------------------------------------------


def test_deflated_dicom_that_inflates_huge_fails_its_unit_in_bounded_memory(tmp_path, dataset, ds, data_worker, caplog):
    """The reported file: ~400 KB that inflates to ~420 MB (the old probe peaked at 870 MB)."""
    caplog.set_level(logging.INFO, logger="datasets_app.media.bounded")
    bomb = make_deflated_dicom(tmp_path / "bomb.dcm", 420 * MiB)
    assert bomb.stat().st_size < 1 * MiB
    before = _peak_rss()
    result = ds.wait_data_job(ds.create_dicom_series_start([bomb]), 120)
    assert result.status == "ERROR", result
    assert "bomb.dcm" in result.errors[0]
    assert "inflates to more than 256 MiB; the limit is 256 MiB (MEDIA_MAX_DICOM_INFLATED_BYTES)" in result.errors[0]
    assert not m.DataRow.objects.filter(dataset=dataset).exists()
    assert _peak_rss() - before < 150 * MiB
    peaks = _child_peaks(caplog)
    assert peaks and max(peaks) < 400 * MiB


def test_small_deflated_dicom_still_lands(tmp_path, dataset, ds, data_worker):
    """Deflate is a valid transfer syntax: inflated within the limit (on disk), it is probed."""
    ok = make_deflated_dicom(tmp_path / "small.dcm", 64 * 1024)
    info = ds.create_dicom_series([ok])
    row = m.DataRow.objects.get(data_hash=info.data_hash)
    assert (row.width, row.height, row.data_type) == (16, 16, "DICOM")


def test_dicom_header_claiming_65535_squared_fails_with_the_limit(tmp_path, dataset, ds, data_worker):
    path = make_dicom_claiming(tmp_path / "huge.dcm", 65535, 65535)
    result = ds.wait_data_job(ds.create_dicom_series_start([path]), 60)
    assert result.status == "ERROR", result
    assert result.errors[0].startswith("huge.dcm: The DICOM image is 65535x65535 pixels (4295 megapixels); the limit is 100 megapixels per image (MEDIA_MAX_IMAGE_PIXELS)"), result.errors[0]
    assert not m.DataRow.objects.filter(dataset=dataset).exists()


def test_dicom_frames_times_pixels_over_the_unit_limit_fails(tmp_path, dataset, ds, data_worker):
    path = make_dicom_claiming(tmp_path / "cine.dcm", 4096, 4096, frames=200)
    result = ds.wait_data_job(ds.create_dicom_series_start([path]), 60)
    assert result.status == "ERROR", result
    assert result.errors[0].startswith(
        "cine.dcm: The DICOM file (4096x4096 x 200 frames x 1 samples) holds 3355 megapixels; the limit is 2000 "
        "megapixels per data unit (MEDIA_MAX_UNIT_PIXELS)."
    ), result.errors[0]


def test_image_header_claiming_huge_size_fails_and_other_units_land(tmp_path, dataset, ds, data_worker):
    good = make_image(tmp_path / "good.jpg")
    bomb = make_png_bomb(tmp_path / "bomb.png", side=70_000)
    keys = [k for k, _ in ds._store_local_files([good, bomb], "image")]
    items = {"images": [{"objectUrl": keys[0], "title": "good.jpg"}, {"objectUrl": keys[1], "title": "bomb.png"}]}
    result = ds.wait_data_job(ds.start_data_job(items, ignore_errors=True), 60)
    assert result.units_done_count == 1 and result.units_error_count == 1, result
    (error,) = result.errors
    assert "The image is 70000x70000 pixels (4900 megapixels); the limit is 100 megapixels per image" in error, error
    assert [r.title for r in result.data_hashes_with_titles] == ["good.jpg"]


def test_image_group_over_the_unit_pixel_limit_fails(tmp_path, dataset, ds, data_worker, settings):
    """Pixels x frames before decoding: each image is under the per-image limit, the group is not."""
    settings.MEDIA_MAX_UNIT_PIXELS = 3_000_000
    files = [make_image(tmp_path / f"{n}.png", 1000, 1000) for n in range(4)]
    result = ds.wait_data_job(ds.create_image_group_start(files, title="big group"), 60)
    assert result.status == "ERROR", result
    assert result.errors[0].startswith(
        "3.png: With this image the data unit holds 4 megapixels; the limit is 3 megapixels per data unit"
    ), result.errors[0]


def test_video_with_huge_frames_fails_before_decoding_and_worker_lives_on(
    tmp_path, dataset, ds, data_worker, caplog
):
    caplog.set_level(logging.INFO, logger="datasets_app.media.bounded")
    big = make_mjpeg_video(tmp_path / "big.mkv", 12_000, 12_000)
    assert big.stat().st_size < 4 * MiB
    before = _peak_rss()
    result = ds.wait_data_job(ds.upload_video_start(big), 120)
    assert result.status == "ERROR", result
    assert "Each frame of the video is 12000x12000 pixels (144 megapixels); the limit is 100 megapixels" in result.errors[0], (
        result.errors[0]
    )
    assert _peak_rss() - before < 150 * MiB
    # the worker takes the next job
    ok = ds.upload_video(make_video(tmp_path / "ok.mp4", frames=5), timeout_seconds=60)
    assert m.DataRow.objects.filter(data_hash=ok.data_hash).exists()
    assert _child_peaks(caplog)


def test_video_thumbnail_runs_under_the_memory_limit(tmp_path, dataset, ds, data_worker, settings):
    """Under the pixel limit but over a (lowered) memory limit: the child fails, not the worker."""
    settings.MEDIA_PROBE_MEMORY_BYTES = 64 * MiB
    big = make_mjpeg_video(tmp_path / "tall.mkv", 8000, 8000)
    result = ds.wait_data_job(ds.upload_video_start(big), 120)
    assert result.status == "ERROR", result
    assert "more than 64 MiB of memory (MEDIA_PROBE_MEMORY_BYTES)" in result.errors[0], result.errors[0]
    settings.MEDIA_PROBE_MEMORY_BYTES = 1024 * MiB
    ok = ds.upload_video(make_video(tmp_path / "ok.mp4", frames=5), timeout_seconds=60)
    assert m.DataRow.objects.filter(data_hash=ok.data_hash).exists()


def test_video_with_many_irregular_packets_keeps_listings_small(tmp_path, dataset, ds, data_worker):
    path = make_many_packet_video(tmp_path / "many.mkv", 120_000)
    assert path.stat().st_size < 8 * MiB
    info = ds.upload_video(path, timeout_seconds=180)
    row = m.DataRow.objects.get(data_hash=info.data_hash)
    assert row.frame_count == 120_000
    with connection.cursor() as cur:
        cur.execute("SELECT media_info FROM datasets_app_storageitem WHERE id = %s", [row.item_id])
        stored = cur.fetchone()[0]
    stored = stored if isinstance(stored, str) else json.dumps(stored)
    assert len(stored) < 100_000, len(stored)
    # the frame-sync verdict still works
    assert row.media_info["verdict"] == "at risk"
    assert any("Variable frame rate" in r for r in row.media_info["reasons"])
    assert any("frame table" in r for r in row.media_info["reasons"]), row.media_info["reasons"]
    assert ds.get_frame_timestamps(info.data_hash).verdict == "at risk"


def test_frame_table_of_a_long_jittery_video_is_kept_compactly(tmp_path):
    """29.97 fps in a millisecond time base (33, 33, 34 ms ...): a run-length table grows with
    the video; the packed table stays small and gives the exact times back."""
    from datasets_app.media.video import frame_table_of, frame_times

    pts = [round(n * 1001 / 30) for n in range(108_000)]  # one hour
    table = frame_table_of(pts, Fraction(1, 1000), max_bytes=64 * 1024)
    assert table is not None and len(json.dumps(table)) < 8_000
    assert frame_times(table) == [p / 1000 for p in pts]



def test_reused_children_keep_a_limit_per_run():
    """Children are reused between runs (a fork per probe cost ~18 ms), but each run gets its own
    budget: a run over it is refused, the next one in budget works, and a spinning decoder is
    stopped by its CPU limit."""
    from datasets_app.media import bounded

    from .bounded_workloads import allocate_and_report_pid, spin_forever

    first = bounded.run(allocate_and_report_pid, 8 * MiB, label="a", memory_bytes=256 * MiB, seconds=30)
    again = bounded.run(allocate_and_report_pid, 8 * MiB, label="b", memory_bytes=256 * MiB, seconds=30)
    assert first == again  # the same child served both
    with pytest.raises(bounded.Refused, match=r"more than 64 MiB of memory"):
        bounded.run(allocate_and_report_pid, 512 * MiB, label="c", memory_bytes=64 * MiB, seconds=30)
    assert bounded.run(allocate_and_report_pid, 8 * MiB, label="d", memory_bytes=64 * MiB, seconds=30) > 0
    with pytest.raises(bounded.Refused, match=r"longer than 1 s"):
        bounded.run(spin_forever, label="e", memory_bytes=64 * MiB, seconds=1)


def test_a_fork_for_exec_runs_no_code_of_the_idle_children_and_a_forked_process_starts_its_own():
    """ffmpeg starts with a preexec_fn (its memory limit), so Python runs in the child between fork
    and exec, with every at-fork hook. There a parent thread may hold a lock (stderr's, logging's)
    that a destructor wants: dropping the idle children there could hang the child before exec.
    Nothing of theirs may run then; a forked process that lives on (a Celery prefork child) still
    starts children of its own instead of talking to its parent's."""
    import os
    import subprocess

    from datasets_app.media import bounded

    from .bounded_workloads import allocate_and_report_pid

    parents_child = bounded.run(allocate_and_report_pid, 1024, label="a", memory_bytes=64 * MiB, seconds=30)
    read_end, write_end = os.pipe()

    class Witness:
        def __del__(self):
            os.write(write_end, b"finalized in " + str(os.getpid()).encode())

    bounded._idle.append(Witness())  # stands for an idle child (held by nothing else): nothing may finalize it in the fork
    try:
        subprocess.run(["true"], preexec_fn=lambda: None, check=True)
        os.set_blocking(read_end, False)
        with pytest.raises(BlockingIOError):
            os.read(read_end, 100)
    finally:
        bounded._idle[:] = [c for c in bounded._idle if not isinstance(c, Witness)]
        os.close(read_end)
        os.close(write_end)

    answer_read, answer_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the forked process: a child of its own serves it
        try:
            served_by = bounded.run(allocate_and_report_pid, 1024, label="b", memory_bytes=64 * MiB, seconds=30)
            os.write(answer_write, str(served_by).encode())
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    served_by = int(os.read(answer_read, 100))
    os.close(answer_read)
    os.close(answer_write)
    assert served_by not in (parents_child, -1)
    # and the parent's idle child still serves the parent
    assert bounded.run(allocate_and_report_pid, 1024, label="c", memory_bytes=64 * MiB, seconds=30) == parents_child


def test_ffmpeg_starts_under_its_memory_limit_with_no_python_between_fork_and_exec(monkeypatch):
    """The limit is set by the shell that execs ffmpeg, not by a preexec_fn: with one, Python runs
    in the child between fork and exec (every at-fork hook, any destructor), which can hang a
    threaded worker's child before ffmpeg starts."""
    import subprocess

    from datasets_app.media import ffmpeg

    started: list[dict] = []
    real_popen = subprocess.Popen

    def watched_popen(*args, **kwargs):
        started.append(kwargs)
        return real_popen(*args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", watched_popen)
    # stands for ffmpeg: succeeds only when its soft and hard address-space limits are 64 MiB (in KiB)
    ffmpeg.run_ffmpeg(["sh", "-c", 'test "$(ulimit -S -v)" = 65536 && test "$(ulimit -H -v)" = 65536'],
                      memory_bytes=64 * MiB)
    with pytest.raises(subprocess.CalledProcessError):
        ffmpeg.run_ffmpeg(["sh", "-c", 'test "$(ulimit -v)" = 65536'], memory_bytes=128 * MiB)
    ffmpeg.run_ffmpeg(["sh", "-c", 'test "$(ulimit -v)" = unlimited'])  # no limit asked: none set
    assert started and all(kwargs.get("preexec_fn") is None for kwargs in started)


def test_a_memory_limit_the_machine_refuses_says_so_instead_of_blaming_the_file():
    """If the shell cannot set the limit (a container whose hard limit is lower), ffmpeg does not
    run, and the error says it was the limit, naming the setting."""
    import subprocess

    from datasets_app.media import ffmpeg

    shell, flag, script, _limit, *cmd = ffmpeg.memory_limited(["true"], 64 * MiB)
    refused = subprocess.run([shell, flag, script, "not-a-number", *cmd], capture_output=True, text=True)
    assert refused.returncode == ffmpeg.LIMIT_REFUSED
    assert "could not set ffmpeg's memory limit" in refused.stderr
