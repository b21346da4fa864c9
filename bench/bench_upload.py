"""A 1 GiB video through the real encord SDK's upload_video (presigned URL, signed PUT streamed into
hosted storage with SHA-256 on the way, data job: probe + thumbnail) against gunicorn and a Celery
worker, next to `cp` of the same file on the same disk in the same run; plus the peak RSS (VmHWM)
of the server's and the worker's processes.

Targets: upload_video at least 0.5x cp's MB/s; peak RSS under 200 MB.
Usage: python bench/bench_upload.py [--mib 1024] [--repeat 3]
Database: DATABASE_URL if set (use your own), else PostgreSQL dd_media; broker Redis db 2.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dd_media")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/2")
os.environ.setdefault(
    "DATA_DIR",
    tempfile.mkdtemp(prefix="bench-upload-", dir=str(ROOT / "var") if (ROOT / "var").is_dir() else None),
)
os.environ.setdefault("LOG_LEVEL", "WARNING")
PORT = int(os.environ.get("BENCH_PORT", "18101"))

from bench.common import ensure_postgres_database, setup_django

if os.environ["DATABASE_URL"].startswith("postgres"):
    ensure_postgres_database(os.environ["DATABASE_URL"])
setup_django()

import av

from datasets_app import models as m
from tests.api.conftest import openssh_private, register_key
from tests.factories import DatasetFactory, UserFactory

FRAME_BYTES = 1920 * 1080 * 3 // 2


def make_video(path: Path, mib: int) -> None:
    """Uncompressed 1080p frames in a NUT container: `mib` MiB written at disk speed."""
    frames = max(1, mib * 1024 * 1024 // FRAME_BYTES)
    c = av.open(str(path), "w")
    s = c.add_stream("rawvideo", rate=25)
    s.width, s.height, s.pix_fmt = 1920, 1080, "yuv420p"
    y = bytes(range(256)) * (1920 * 1080 // 256)
    uv = bytes([128]) * (960 * 540)
    for i in range(frames):
        f = av.VideoFrame(1920, 1080, "yuv420p")
        k = (i * 7) % 256
        f.planes[0].update(y[k:] + y[:k])
        f.planes[1].update(uv)
        f.planes[2].update(uv)
        f.pts = i
        for p in s.encode(f):
            c.mux(p)
    for p in s.encode():
        c.mux(p)
    c.close()


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of a process and, separately, each of its children: the max."""
    pids = [pid]
    try:
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    peak = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return peak / 1024


def timed_cp(src: Path, dst: Path) -> float:
    t = time.perf_counter()
    subprocess.run(["cp", str(src), str(dst)], check=True)
    elapsed = time.perf_counter() - t
    dst.unlink()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    work = Path(os.environ["DATA_DIR"]) / "bench-src"
    work.mkdir(parents=True, exist_ok=True)
    src = work / "big.nut"
    make_video(src, args.mib)
    size = src.stat().st_size
    mb = size / 1e6
    print(f"video: {mb:.0f} MB ({size / 2**30:.2f} GiB) rawvideo 1080p in NUT", flush=True)

    env = dict(os.environ)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "dashboard.wsgi",
            "-b",
            f"127.0.0.1:{PORT}",
            "-w",
            "2",
            "--timeout",
            "900",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "dashboard",
            "worker",
            "-Q",
            "default,media",
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        time.sleep(5)
        from encord.user_client import EncordUserClient

        user = UserFactory(email=f"bench-upload-{time.time_ns()}@example.com")
        user.is_org_admin = True
        user.save(update_fields=["is_org_admin"])
        key = register_key(user)
        client = EncordUserClient.create_with_ssh_private_key(
            openssh_private(key), domain=f"http://127.0.0.1:{PORT}"
        )
        cp_times, up_times = [], []
        for i in range(args.repeat):
            cp_times.append(timed_cp(src, work / "copy.nut"))
            dataset = DatasetFactory()
            sdk_ds = client.get_dataset(str(dataset.dataset_hash))
            t = time.perf_counter()
            video = sdk_ds.upload_video(str(src))
            up_times.append(time.perf_counter() - t)
            row = m.DataRow.objects.get(data_hash=video.data_hash)
            slot = m.UploadSlot.objects.get(object_key=row.storage_key)
            job = m.DataJob.objects.get(units__results__0__data_hash=str(row.data_hash))
            print(
                f"  phases: URL->PUT done {(slot.uploaded_at - slot.created_at).total_seconds():.1f} s, "
                f"PUT done->job start {(job.created_at - slot.uploaded_at).total_seconds():.1f} s, "
                f"job {(job.finished_at - job.created_at).total_seconds():.1f} s",
                flush=True,
            )
            assert row.file_size == size and row.frame_count and row.sha256
            print(
                f"run {i + 1}: cp {mb / cp_times[-1]:.0f} MB/s, upload_video {mb / up_times[-1]:.0f} MB/s",
                flush=True,
            )
            from datasets_app.media import storage

            storage.delete_files([row.storage_key, row.thumbnail_key])
        cp_rate = mb / statistics.median(cp_times)
        up_rate = mb / statistics.median(up_times)
        ratio = up_rate / cp_rate
        server_rss = peak_rss_mb(server.pid)
        worker_rss = peak_rss_mb(worker.pid)
        print(
            f"cp median {cp_rate:.0f} MB/s; upload_video (PUT + job done) median {up_rate:.0f} MB/s; "
            f"ratio {ratio:.2f}x (target >= 0.5x: {'OK' if ratio >= 0.5 else 'UNDER TARGET'})"
        )
        print(
            f"peak RSS: server {server_rss:.0f} MB, worker {worker_rss:.0f} MB "
            f"(target < 200 MB: {'OK' if max(server_rss, worker_rss) < 200 else 'OVER TARGET'})"
        )
    finally:
        server.terminate()
        worker.terminate()
        server.wait(30)
        worker.wait(30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
