#!/usr/bin/env python3
"""Ingest into a Files folder against the same into a dataset, in the same run, through the real
encord SDK (0.1.211) against a live server (gunicorn, one process) and a Celery worker (prefork, 2):

- images (bench_images' work): JPEGs 640x480 as image groups of --group, two groups at a time,
  call to DONE: `folder.create_image_group(paths)` against `dataset.create_image_group(paths,
  create_video=False)` (the SDK's default dataset: a mirror of a new backing folder);
- private (bench_private (a)): --private S3 object URLs with imageMetadata (nothing probed), one
  job, call to DONE: `folder.add_private_data_to_folder_start` + `_get_result` against
  `dataset.add_private_data_to_dataset_start` + `_get_result`.

Runs alternate dataset, folder, dataset, folder... so a change of machine load hits both. Prints
medians and folder/dataset ratios (target <= ~1x: no slower than into a dataset).

    .venv/bin/python bench/bench_files_ingest.py [--count 1000] [--group 100] [--private 10000] [--repeat 3]

Database: BENCH_DB (default PostgreSQL dd_files_ingest on 127.0.0.1), storage in a temporary DATA_DIR.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("LOG_LEVEL", "WARNING")
DB_URL = os.environ.get("BENCH_DB", "postgres://postgres@127.0.0.1:5432/dd_files_ingest")
PORT = int(os.environ.get("BENCH_PORT", 18542))
SECRET_KEY = "bench-files-ingest-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
os.environ["SECRET_KEY"] = SECRET_KEY
os.environ["DATABASE_URL"] = DB_URL
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/7")
DATA_DIR = Path(os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="bench-files-ingest-")))


def signing_key():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"bench-files-ingest-key").digest())


def setup_user():
    """The org admin the SDK signs as (made once)."""
    from bench.common import ensure_postgres_database, setup_django

    if DB_URL.startswith("postgres"):
        ensure_postgres_database(DB_URL)
    setup_django()
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from datasets_app import models as m
    from datasets_app.sdk import accounts

    user, _ = m.User.objects.get_or_create(
        username="files-ingest-bench", defaults={"email": "files-ingest-bench@example.com", "is_org_admin": True}
    )
    if not user.public_keys.exists():
        pub = signing_key().public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
        accounts.add_public_key(user, pub + " bench")
    return user


def start_worker() -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "dashboard", "worker", "-Q", "default,media", "-c", "2",
         "--pool", "prefork", "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=dict(os.environ), stdout=(DATA_DIR / "worker.log").open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def alternate(runs: dict[str, object], repeat: int) -> dict[str, list[float]]:
    """Seconds of each run, the kinds taking turns `repeat` times."""
    seconds: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(repeat):
        for kind, run in runs.items():
            seconds[kind].append(run())
    return seconds


def print_pair(what: str, seconds: dict[str, list[float]], per: int, unit: str) -> None:
    med = {k: statistics.median(v) for k, v in seconds.items()}
    for kind, runs in seconds.items():
        print(f"  {what} into {kind:<8} median {med[kind]:7.2f} s = {per / med[kind]:7.0f} {unit}/s "
              f"(runs {', '.join(f'{r:.2f}' for r in runs)})", flush=True)
    ratio = med["folder"] / med["dataset"]
    print(f"  {what}: folder/dataset time ratio {ratio:.2f}x (target <= ~1x) {'OK' if ratio <= 1.1 else 'OVER'}; "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)


def bench_images(sdk, args) -> None:
    from encord.orm.dataset import StorageLocation

    from bench.bench_images import make_jpegs

    src = Path(tempfile.mkdtemp(prefix="bench-files-jpegs-"))
    paths = make_jpegs(src, args.count)
    chunks = [paths[i : i + args.group] for i in range(0, len(paths), args.group)]
    print(f"{args.count} JPEGs 640x480 ({sum(p.stat().st_size for p in paths) / 1e6:.1f} MB), "
          f"image groups of {args.group}, 2 at a time", flush=True)

    job_seconds: dict[str, list[float]] = {"dataset": [], "folder": []}

    def timed(upload, groups, kind: str) -> float:
        from django.db import connection
        from django.utils import timezone

        from datasets_app import models as m

        since = timezone.now()
        t = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(upload, groups))
        took = time.perf_counter() - t
        # the server's part: each group's job, from the SDK's start call to DONE
        jobs = m.DataJob.objects.filter(created_at__gte=since, finished_at__isnull=False)
        job_seconds[kind] += [(j.finished_at - j.created_at).total_seconds() for j in jobs]
        connection.close()
        return took

    def into_dataset(groups=chunks) -> float:
        made = sdk.create_dataset(f"ingest bench {time.time_ns()}", StorageLocation.CORD_STORAGE)
        ds = sdk.get_dataset(made.dataset_hash)
        took = timed(lambda c: ds.create_image_group(c, title=c[0].stem, create_video=False), groups, "dataset")
        assert len(ds.list_data_rows()) == len(groups)
        return took

    def into_folder(groups=chunks) -> float:
        folder = sdk.create_storage_folder(f"ingest bench {time.time_ns()}")
        took = timed(lambda c: folder.create_image_group(c, title=c[0].stem), groups, "folder")
        assert len(list(folder.list_items())) == len(groups)
        return took

    # warm-up, not timed: both paths' first requests and the worker's first tasks
    into_dataset([paths[:2]])
    into_folder([paths[:2]])
    job_seconds["dataset"], job_seconds["folder"] = [], []
    print_pair("images", alternate({"dataset": into_dataset, "folder": into_folder}, args.repeat), args.count, "images")
    # The SDK's dataset path PUTs a group's files from a thread pool, its folder path one after
    # another (encord 0.1.211 StorageFolder._create_image_group_or_sequence): the server's own part is this.
    jobs = {k: statistics.median(v) for k, v in job_seconds.items()}
    print(f"  images, server job per group of {args.group} (start call to DONE): dataset median {jobs['dataset']:.2f} s, "
          f"folder {jobs['folder']:.2f} s, ratio {jobs['folder'] / jobs['dataset']:.2f}x "
          f"({len(job_seconds['dataset'])} and {len(job_seconds['folder'])} jobs)", flush=True)


def bench_private(sdk, user, args) -> None:
    from encord.orm.dataset import StorageLocation

    from tests.cloud_servers import start_moto

    proc, s3 = start_moto()
    try:
        iid = str(s3.integration(user, f"ingest bench {time.time_ns()}").integration_uuid)
        md = {"mime_type": "image/jpeg", "file_size": 1234, "width": 64, "height": 48}
        spec = {"images": [{"objectUrl": f"s3://bench-private/img/{i:05d}.jpg", "imageMetadata": md}
                           for i in range(args.private)]}
        print(f"{args.private:,} S3 object URLs with imageMetadata (nothing probed), one job", flush=True)

        def into_dataset() -> float:
            made = sdk.create_dataset(f"private bench {time.time_ns()}", StorageLocation.CORD_STORAGE)
            ds = sdk.get_dataset(made.dataset_hash)
            t = time.perf_counter()
            job = ds.add_private_data_to_dataset_start(iid, spec)
            result = ds.add_private_data_to_dataset_get_result(job)
            took = time.perf_counter() - t
            assert str(result.status).endswith("DONE") and result.units_done_count == args.private, result
            return took

        def into_folder() -> float:
            folder = sdk.create_storage_folder(f"private bench {time.time_ns()}")
            t = time.perf_counter()
            job = folder.add_private_data_to_folder_start(iid, spec)
            result = folder.add_private_data_to_folder_get_result(job)
            took = time.perf_counter() - t
            assert str(result.status).endswith("DONE") and result.units_done_count == args.private, result
            return took

        print_pair("private (a)", alternate({"dataset": into_dataset, "folder": into_folder}, args.repeat),
                   args.private, "URLs")
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--group", type=int, default=100)
    parser.add_argument("--private", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=["images", "private"])
    args = parser.parse_args()

    # A SIGTERM (a timeout) must still stop the server and the worker (the finally clause).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    if os.environ.get("BENCH_TRACE_AFTER"):
        import faulthandler

        faulthandler.dump_traceback_later(int(os.environ["BENCH_TRACE_AFTER"]))
    user = setup_user()
    from django.db import connection

    from bench.common import start_web_server

    connection.close()
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
    from encord.user_client import EncordUserClient

    server = start_web_server(DATA_DIR, db_url=DB_URL, port=PORT, secret_key=SECRET_KEY)
    worker = start_worker()
    try:
        pem = signing_key().private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()).decode()
        sdk = EncordUserClient.create_with_ssh_private_key(pem, domain=f"http://127.0.0.1:{PORT}")
        time.sleep(3)  # the worker connects to the broker
        print(f"load average at start {os.getloadavg()[0]:.1f}", flush=True)
        if args.only != "private":
            bench_images(sdk, args)
        if args.only != "images":
            bench_private(sdk, user, args)
    finally:
        for proc in (worker, server):
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in (worker, server):
            proc.wait(timeout=60)


if __name__ == "__main__":
    main()
