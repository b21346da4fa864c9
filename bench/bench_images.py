"""2,000 JPEGs (640x480) into image groups, end to end: upload (stream + SHA-256 into hosted
storage) + data job done (probe, 256 px thumbnail per image, rows), through the SDK layer with a
real Celery worker (prefork, 2 processes), into an empty dataset and into one of 100,000 rows.
Baseline, same files, same run: Pillow alone making 256 px thumbnails with 2 processes.

Usage: python bench/bench_images.py [--count 2000] [--group 100] [--repeat 3] [--rows 100000]
Database: DATABASE_URL if set (use your own), else PostgreSQL dd_media on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dd_media")
os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="bench-images-"))
os.environ.setdefault("LOG_LEVEL", "WARNING")
# Redis (db 2) as the broker, as deployed; the embedded filesystem broker polls once a second.
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/2")

from bench.common import bulk_rows, ensure_postgres_database, setup_django

if os.environ["DATABASE_URL"].startswith("postgres"):
    ensure_postgres_database(os.environ["DATABASE_URL"])
setup_django()

from PIL import Image

from datasets_app import models as m
from datasets_app.sdk import UserClient
from tests.factories import DatasetFactory, UserFactory


def make_jpegs(folder: Path, count: int) -> list[Path]:
    # Photo-like content (smooth gradients plus mild sensor noise): ~40-60 KB at quality 85.
    base = Image.merge(
        "RGB",
        [
            Image.radial_gradient("L").resize((640, 480)),
            Image.linear_gradient("L").resize((640, 480)),
            Image.effect_noise((640, 480), 12),
        ],
    )
    paths = []
    for i in range(count):
        img = base.copy()
        img.paste((i * 37 % 256, i * 91 % 256, i * 13 % 256), (0, 0, 80, 60))  # distinct content
        path = folder / f"img_{i:05d}.jpg"
        img.save(path, quality=85)
        paths.append(path)
    return paths


def _thumb(path: str) -> int:
    with Image.open(path) as im:
        im.thumbnail((256, 256))
        out = io.BytesIO()
        im.convert("RGB").save(out, format="JPEG", quality=80)
    return len(out.getvalue())


def pillow_ceiling(paths: list[Path]) -> float:
    with Pool(2) as pool:
        t = time.perf_counter()
        pool.map(_thumb, [str(p) for p in paths], chunksize=20)
        return len(paths) / (time.perf_counter() - t)


def start_worker() -> subprocess.Popen:
    env = dict(os.environ)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "dashboard",
            "worker",
            "-Q",
            "default,media",
            "-c",
            "2",
            "--pool",
            "prefork",
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
    )


def fill_rows(dataset, n: int) -> None:
    bulk_rows(
        dataset,
        (
            dict(
                name=f"existing-{i}.jpg",
                item_type=m.DataType.IMAGE,
                storage_key=f"x/{i}",
                sha256=f"{i:064x}",
                width=640,
                height=480,
            )
            for i in range(n)
        ),
    )


def end_to_end(ds, paths: list[Path], group: int) -> float:
    """Seconds from the first byte uploaded to the last job DONE; uploads in 2 threads, jobs
    processed by the worker meanwhile."""
    chunks = [paths[i : i + group] for i in range(0, len(paths), group)]
    t = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        hashes = list(
            pool.map(lambda c: ds.create_image_group_start(c, title=c[0].stem, create_video=False), chunks)
        )
    for h in hashes:
        result = ds.wait_data_job(h, 600)
        assert result.status == "DONE", result.errors[:3]
    elapsed = time.perf_counter() - t
    from django.db import connection

    connection.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--group", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-jpegs-"))
    paths = make_jpegs(folder, args.count)
    size_mb = sum(p.stat().st_size for p in paths) / 1e6
    print(f"{args.count} JPEGs 640x480, {size_mb:.1f} MB, groups of {args.group}", flush=True)

    ceilings = [pillow_ceiling(paths) for _ in range(args.repeat)]
    ceiling = statistics.median(ceilings)
    print(f"Pillow-only 256 px thumbnails, 2 processes: median {ceiling:.0f} images/s", flush=True)

    user = UserFactory(is_org_admin=True, email=f"bench-images-{time.time_ns()}@example.com")
    worker = start_worker()
    try:
        time.sleep(4)
        results = {}
        for label, rows in (("empty dataset", 0), (f"dataset of {args.rows:,} rows", args.rows)):
            rates = []
            for _ in range(args.repeat):
                dataset = DatasetFactory()
                if rows:
                    fill_rows(dataset, rows)
                ds = UserClient.for_user(user).get_dataset(str(dataset.dataset_hash))
                rates.append(args.count / end_to_end(ds, paths, args.group))
                assert m.DataRowMember.objects.filter(item__rows__dataset=dataset).count() == args.count
            results[label] = statistics.median(rates)
            print(
                f"end to end into {label:<24} median {results[label]:.0f} images/s "
                f"(runs: {', '.join(f'{r:.0f}' for r in rates)}); ratio to Pillow ceiling {results[label] / ceiling:.2f}x; "
                f"target >= 250 images/s: {'OK' if results[label] >= 250 else 'UNDER TARGET'}",
                flush=True,
            )
        labels = list(results)
        print(
            f"large/empty rate ratio: {results[labels[1]] / results[labels[0]]:.2f}x (1.00 = no growth with size)"
        )
    finally:
        worker.terminate()
        worker.wait(30)


if __name__ == "__main__":
    main()
