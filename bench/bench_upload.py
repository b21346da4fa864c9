"""A 1 GiB video through the real encord SDK's upload_video (presigned URL, signed PUT streamed into
hosted storage with SHA-256 on the way, data job: probe + thumbnail) against the production web
tier (gunicorn + uvicorn workers) and a Celery worker, next to `cp` of the same file on the same
disk in the same run, both with the file in the page cache (warm) and read from the disk (cold);
plus the peak RSS (VmHWM) of the server's and the worker's processes, and two ceilings measured in
the same run: SHA-256's own speed (every uploaded byte is hashed) and the SDK's PUT alone, sent the
way encord sends it (requests, the open file as the body) into a server that discards every byte:
no server can make upload_video faster than its client can send.

Targets: upload_video at least 0.5x cp's MB/s; peak RSS under 200 MB.
Usage: python bench/bench_upload.py [--mib 1024] [--repeat 5]
       (python bench/bench_upload.py --sink PORT runs that discarding server)
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

from bench.common import cpu_seconds, ensure_postgres_database, peak_rss_mb_each, process_tree, setup_django

if os.environ["DATABASE_URL"].startswith("postgres"):
    ensure_postgres_database(os.environ["DATABASE_URL"])
setup_django()

import av
from django.utils import timezone

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
    return max(peak_rss_mb_each(process_tree(pid)), default=0.0)


def evict(path: Path) -> None:
    """Drops the file's pages from the page cache, so the next read comes from the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def timed_cp(src: Path, dst: Path) -> float:
    t = time.perf_counter()
    subprocess.run(["cp", str(src), str(dst)], check=True)
    elapsed = time.perf_counter() - t
    dst.unlink()
    return elapsed


def sha256_rate(path: Path) -> float:
    """MB/s of hashlib's SHA-256 over the (page-cached) file in 1 MiB reads: the ceiling of any
    upload that hashes every byte as it streams."""
    import hashlib

    digest = hashlib.sha256()
    t = time.perf_counter()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return path.stat().st_size / 1e6 / (time.perf_counter() - t)


def run_sink(port: int) -> None:
    """A bare HTTP/1.1 server that reads each request body and drops it (asyncio streams)."""
    import asyncio

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            if not line.strip():
                continue
            length = 0
            while (header := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = header.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while length:
                piece = await reader.read(min(length, 1 << 20))
                if not piece:
                    return
                length -= len(piece)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()

    async def serve() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


def timed_sink_put(src: Path, port: int, client_cpu: list[float]) -> float:
    """The SDK's upload request (encord.http.utils._upload_single_file: a requests session PUTs the
    open file) into the discarding server."""
    import requests

    t, cpu = time.perf_counter(), time.process_time()
    with requests.Session() as session, open(src, "rb") as fh:
        response = session.put(f"http://127.0.0.1:{port}/sink", data=fh, headers={"Content-Type": "video/x-nut"})
    response.raise_for_status()
    client_cpu.append(time.process_time() - cpu)
    return time.perf_counter() - t


def start_web(env: dict) -> subprocess.Popen:
    """The production web tier (deploy/gunicorn.conf.py: uvicorn workers), or with BENCH_SERVER=wsgi
    the gthread workers it had before."""
    argv = [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"]
    if os.environ.get("BENCH_SERVER", "asgi") == "wsgi":
        argv += ["-k", "gthread", "--threads", "8", "dashboard.wsgi:application"]
    else:
        argv += ["dashboard.asgi:application"]
    web_env = {**env, "PORT": str(PORT), "WEB_CONCURRENCY": "2", "WEB_TIMEOUT": "900", "LOG_LEVEL": "warning"}
    return subprocess.Popen(argv, cwd=ROOT, env=web_env)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        run_sink(args.sink)
        return

    work = Path(os.environ["DATA_DIR"]) / "bench-src"
    work.mkdir(parents=True, exist_ok=True)
    src = work / "big.nut"
    make_video(src, args.mib)
    size = src.stat().st_size
    mb = size / 1e6
    print(f"video: {mb:.0f} MB ({size / 2**30:.2f} GiB) rawvideo 1080p in NUT", flush=True)

    env = dict(os.environ)
    server = start_web(env)
    worker = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "dashboard", "worker", "-Q", "default,media",
            "--pool", "solo", "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
    )
    sink = subprocess.Popen([sys.executable, __file__, "--sink", str(PORT + 1)], cwd=ROOT, env=env)
    try:
        time.sleep(5)
        from encord.user_client import EncordUserClient

        from datasets_app.media import storage

        user = UserFactory(email=f"bench-upload-{time.time_ns()}@example.com")
        user.is_org_admin = True
        user.save(update_fields=["is_org_admin"])
        key = register_key(user)
        client = EncordUserClient.create_with_ssh_private_key(
            openssh_private(key), domain=f"http://127.0.0.1:{PORT}"
        )

        cpu_used: dict[str, list[float]] = {"client": [], "web": []}

        def upload() -> float:
            dataset = DatasetFactory()
            sdk_ds = client.get_dataset(str(dataset.dataset_hash))
            t, cpu, web_cpu = time.perf_counter(), time.process_time(), cpu_seconds(*process_tree(server.pid))
            video = sdk_ds.upload_video(str(src))
            elapsed = time.perf_counter() - t
            returned = timezone.now()
            cpu_used["client"].append(time.process_time() - cpu)
            cpu_used["web"].append(cpu_seconds(*process_tree(server.pid)) - web_cpu)
            row = m.DataRow.objects.get(data_hash=video.data_hash)
            slot = m.UploadSlot.objects.get(object_key=row.storage_key)
            job = m.DataJob.objects.get(units__results__0__data_hash=str(row.data_hash))
            print(
                f"  phases: URL->PUT done {(slot.uploaded_at - slot.created_at).total_seconds():.2f} s, "
                f"PUT done->job start {(job.created_at - slot.uploaded_at).total_seconds():.2f} s, "
                f"job {(job.finished_at - job.created_at).total_seconds():.2f} s, "
                f"job done->SDK returned {(returned - job.finished_at).total_seconds():.2f} s "
                f"(of {elapsed:.2f} s)",
                flush=True,
            )
            assert row.file_size == size and row.frame_count and row.sha256
            storage.delete_files([row.storage_key, row.thumbnail_key])
            return elapsed

        # warm: the file is in the page cache for cp and for the client alike (it was just
        # written); cold: it is evicted before each cp and each upload, so both read the disk.
        times: dict[str, dict[str, list[float]]] = {
            mode: {"cp": [], "up": [], "sink": [], "sink_client_cpu": []} for mode in ("warm", "cold")
        }
        for i in range(args.repeat):
            for mode in ("warm", "cold"):
                # cp takes a fraction of a second and its time swings with the page cache's
                # writeback: three samples a round for a steadier median.
                for _ in range(3):
                    if mode == "cold":
                        evict(src)
                    times[mode]["cp"].append(timed_cp(src, work / "copy.nut"))
                if mode == "cold":
                    evict(src)
                times[mode]["up"].append(upload())
                if mode == "cold":
                    evict(src)
                times[mode]["sink"].append(timed_sink_put(src, PORT + 1, times[mode]["sink_client_cpu"]))
                print(
                    f"run {i + 1} {mode}: cp {mb / times[mode]['cp'][-1]:.0f} MB/s, "
                    f"upload_video {mb / times[mode]['up'][-1]:.0f} MB/s, "
                    f"the SDK's PUT into a discarding server {mb / times[mode]['sink'][-1]:.0f} MB/s",
                    flush=True,
                )
        hash_rate = sha256_rate(src)
        for mode in ("warm", "cold"):
            cp_rate = mb / statistics.median(times[mode]["cp"])
            up_rate = mb / statistics.median(times[mode]["up"])
            sink_rate = mb / statistics.median(times[mode]["sink"])
            ratio = up_rate / cp_rate
            print(
                f"{mode}: cp median {cp_rate:.0f} MB/s; upload_video (PUT + job done) median {up_rate:.0f} MB/s; "
                f"ratio {ratio:.2f}x (target >= 0.5x: {'OK' if ratio >= 0.5 else 'UNDER TARGET'}); "
                f"ceilings: the SDK's PUT alone into a discarding server {sink_rate:.0f} MB/s = "
                f"{sink_rate / cp_rate:.2f}x of this cp, SHA-256 alone {hash_rate:.0f} MB/s = "
                f"{hash_rate / cp_rate:.2f}x; upload_video reaches {up_rate / sink_rate:.2f}x of the first"
            )
        print(
            f"CPU per upload_video (median): the SDK client {statistics.median(cpu_used['client']):.2f} s, "
            f"the web tier {statistics.median(cpu_used['web']):.2f} s (SHA-256 of the file alone: "
            f"{mb / hash_rate:.2f} s); the client in a PUT into the discarding server "
            f"{statistics.median(times['warm']['sink_client_cpu']):.2f} s of "
            f"{statistics.median(times['warm']['sink']):.2f} s (file page-cached)"
        )
        server_rss = peak_rss_mb(server.pid)
        worker_rss = peak_rss_mb(worker.pid)
        print(
            f"peak RSS: server {server_rss:.0f} MB, worker {worker_rss:.0f} MB "
            f"(target < 200 MB: {'OK' if max(server_rss, worker_rss) < 200 else 'OVER TARGET'})"
        )
    finally:
        for proc in (server, worker, sink):
            proc.terminate()
        for proc in (server, worker, sink):
            proc.wait(30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
