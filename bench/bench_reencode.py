#!/usr/bin/env python3
"""A 60-second 1080p variable-frame-rate video (generated, with audio) re-encoded through a
re-encode task (Dataset.re_encode_data -> Celery worker on the `media` queue -> DONE), next to the
bare ffmpeg command line with the same settings, in the same run. Target: at most 1.15x.

    .venv/bin/python bench/bench_reencode.py      # DATABASE_URL: postgres dd_reencode, broker redis db 4
    BENCH_REPEAT=3 BENCH_SECONDS=60 REENCODE_PRESET=veryfast .venv/bin/python bench/bench_reencode.py
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REPEAT = int(os.environ.get("BENCH_REPEAT", 3))
SECONDS = int(os.environ.get("BENCH_SECONDS", 60))
WORK = Path(tempfile.mkdtemp(prefix="bench-reencode-"))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dd_reencode")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/4")
os.environ.setdefault("DATA_DIR", str(WORK / "data"))
os.environ.setdefault("MEDIA_ROOT", str(WORK / "media"))
os.environ.setdefault("REENCODE_PRESET", "veryfast")

from bench.common import ensure_postgres_database, setup_django  # noqa: E402


def make_source(path: Path) -> None:
    """1080p, ~30 fps with frame durations varying +-7% (true VFR: 1/90000 encoder time base)."""
    from datasets_app.media.video import ffmpeg_exe

    subprocess.run(
        [ffmpeg_exe(), "-y", "-loglevel", "error",
         "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30:duration={SECONDS}",
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={SECONDS}",
         "-vf", "settb=1/90000,setpts=(N/30+0.012*sin(N/5))/TB", "-fps_mode", "passthrough", "-enc_time_base", "1/90000",
         "-c:v", "libx264", "-preset", "ultrafast", "-crf", "23", "-c:a", "aac", "-shortest", str(path)],
        check=True,
    )


def cpu_seconds() -> float:
    """CPU time of this process (its worker thread included) and of its finished children (ffmpeg)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def bare_ffmpeg(src: Path, out: Path) -> tuple[float, float]:
    """The same command line the task runs (minus -progress), timed alone: (wall, cpu)."""
    from datasets_app.media import video

    info = video.probe_video(src)
    cmd = video.reencode_command(
        str(src), str(out), rate=video.output_frame_rate(info), preset=os.environ["REENCODE_PRESET"],
        with_audio=info["has_audio"], progress=False,
    )
    c, t = cpu_seconds(), time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - t, cpu_seconds() - c


def through_task(editor, data_hash: str) -> tuple[float, float]:
    """Request -> Celery worker (a real one, in this process) -> status DONE: (wall, cpu)."""
    from datasets_app import models as m

    c, t = cpu_seconds(), time.perf_counter()
    task_id = editor.re_encode_data([data_hash])
    picked_up = None
    while (status := editor.re_encode_data_status(task_id)).status == "SUBMITTED":
        if picked_up is None and m.ReEncodeVideo.objects.filter(task_id=task_id, frames_total__isnull=False).exists():
            picked_up = time.perf_counter() - t
        time.sleep(0.25)
    elapsed, cpu = time.perf_counter() - t, cpu_seconds() - c
    assert status.status == "DONE", status
    print(f"  task {task_id}: worker started encoding {picked_up or 0:.2f}s after the request")
    return elapsed, cpu


def main() -> None:
    ensure_postgres_database(os.environ["DATABASE_URL"])
    setup_django()
    from celery.contrib.testing.worker import start_worker
    from django.core.files import File
    from django.core.files.storage import default_storage

    from dashboard.celery import app
    from datasets_app import models as m
    from datasets_app.media.video import probe_video
    from datasets_app.sdk import UserClient

    src = WORK / "source.mp4"
    t = time.perf_counter()
    make_source(src)
    info = probe_video(src)
    print(f"source: {SECONDS}s 1920x1080, {info['frame_count']} frames, verdict {info['verdict']!r} "
          f"({'; '.join(info['reasons'])}), generated in {time.perf_counter() - t:.1f}s")

    user, _ = m.User.objects.get_or_create(email="bench-reencode@example.com", defaults={"username": "bench-reencode@example.com"})
    client = UserClient.for_user(user)
    created = client.create_dataset("bench re-encode")
    editor = client.get_dataset(created.dataset_hash)
    ds = m.Dataset.objects.get(dataset_hash=created.dataset_hash)
    item = m.StorageItem.objects.create(folder=ds.backing_folder, owner=user, name="source.mp4", item_type=m.DataType.VIDEO,
                                        storage_key=f"datasets/{ds.dataset_hash}/source.mp4", mime_type="video/mp4")
    row = m.DataRow.objects.create(dataset=ds, item=item)
    with open(src, "rb") as fh:
        default_storage.save(row.storage_key, File(fh, name="source.mp4"))

    bare, task = [], []
    with start_worker(app, pool="solo", perform_ping_check=False, queues=["media"], shutdown_timeout=60):
        for i in range(REPEAT):
            # alternate the order (ABBA) so a load change on a shared machine hits both sides
            if i % 2 == 0:
                bare.append(bare_ffmpeg(src, WORK / "bare.mp4"))
                task.append(through_task(editor, str(row.data_hash)))
            else:
                task.append(through_task(editor, str(row.data_hash)))
                bare.append(bare_ffmpeg(src, WORK / "bare.mp4"))
            print(f"run {i + 1}: bare ffmpeg {bare[-1][0]:.2f}s wall / {bare[-1][1]:.2f}s cpu, "
                  f"task to DONE {task[-1][0]:.2f}s wall / {task[-1][1]:.2f}s cpu  (load {os.getloadavg()[0]:.1f})")
    row.refresh_from_db()
    out = probe_video(default_storage.path(row.storage_key))
    print(f"output: {out['frame_count']} frames at {out['fps']} fps, verdict {out['verdict']!r}, "
          f"{row.file_size / 1e6:.1f} MB")
    bw, kw = statistics.median(w for w, _ in bare), statistics.median(w for w, _ in task)
    bc, kc = statistics.median(c for _, c in bare), statistics.median(c for _, c in task)
    print(f"wall: bare ffmpeg median {bw:.2f}s | through task median {kw:.2f}s | ratio {kw / bw:.3f}x "
          f"(target <= 1.15x) {'OK' if kw / bw <= 1.15 else 'OVER TARGET'}")
    print(f"cpu:  bare ffmpeg median {bc:.2f}s | through task median {kc:.2f}s | ratio {kc / bc:.3f}x")
    print(f"[preset {os.environ['REENCODE_PRESET']}, {REPEAT} runs each; load average {os.getloadavg()[0]:.1f}]")


if __name__ == "__main__":
    import shutil

    try:
        main()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)  # the source, outputs and media (~330 MB)
