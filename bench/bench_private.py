"""Private-cloud import: 10,000 object URLs on a loopback S3 (moto's server) in one import job.

(a) every entry carries imageMetadata, so nothing is probed; baseline: Label Studio imports 10,000
    URL tasks in about 1.3 s on this machine (target: under it).
(b) every object is probed through the integration (one ranged GET each, Pillow reads the header);
    target: under 30 s. Timed with the batch runner (private_import.run_private_job) and with the
    media job runner (jobs.run_data_job, which hands a private job to that same batch runner).

Seconds from the SDK call to DONE, in this process (the worker's queue wait is not included).
Usage: python bench/bench_private.py [--count 10000] [--repeat 3]
Database: DATABASE_URL if set (use your own), else SQLite in a temporary DATA_DIR.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="bench-private-"))
os.environ.setdefault("LOG_LEVEL", "WARNING")

import bench.common  # noqa: E402,F401  (the benchmarks' environment, before Django reads it)
import django

django.setup()

from django.core.management import call_command

from datasets_app import models as m
from datasets_app.sdk import UserClient, jobs, private_import
from bench.common import cpu_seconds
from tests.cloud_servers import make_jpeg, start_moto


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--per-unit", action="store_true", help="also time the media job runner unit by unit")
    parser.add_argument("--only", choices=["a", "b"], help="run one part only")
    args = parser.parse_args()
    n = args.count

    call_command("migrate", verbosity=0)
    # A SIGTERM must still stop the moto server below (the finally clause).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    proc, s3 = start_moto()
    try:
        client = s3.client()
        client.create_bucket(Bucket="bench-private")
        body = make_jpeg(64, 48)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            list(
                pool.map(
                    lambda i: client.put_object(
                        Bucket="bench-private", Key=f"img/{i:05d}.jpg", Body=body, ContentType="image/jpeg"
                    ),
                    range(n),
                )
            )
        print(f"setup: {n} objects put in {time.perf_counter() - t0:.1f} s", flush=True)

        user = m.User.objects.filter(email="bench-private@example.com").first() or m.User.objects.create_user(
            "bench-private@example.com", "x", is_org_admin=True
        )
        uc = UserClient.for_user(user)
        integration = s3.integration(user, "bench moto")
        iid = str(integration.integration_uuid)
        md = {"mime_type": "image/jpeg", "file_size": len(body), "width": 64, "height": 48}
        with_md = {
            "images": [
                {"objectUrl": f"s3://bench-private/img/{i:05d}.jpg", "imageMetadata": md} for i in range(n)
            ]
        }
        probed = {"images": [{"objectUrl": f"s3://bench-private/img/{i:05d}.jpg"} for i in range(n)]}

        def fresh_dataset():
            return uc.get_dataset(uc.create_dataset(f"bench {time.time()}").dataset_hash)

        cpu_a: list[float] = []

        def run_a() -> float:
            ds = fresh_dataset()
            t, cpu = time.perf_counter(), time.process_time()
            ph = ds.add_private_data_to_dataset_start(iid, with_md)
            result = ds.add_private_data_to_dataset_get_result(ph, 60)
            elapsed = time.perf_counter() - t
            cpu_a.append(time.process_time() - cpu)
            assert result.status == "DONE" and result.units_done_count == n, result.status
            return elapsed

        cpu_b: list[tuple[float, float]] = []

        def run_b(runner) -> float:
            ds = fresh_dataset()
            t, cpu, s3_cpu = time.perf_counter(), time.process_time(), cpu_seconds(proc.pid)
            ph = ds.add_private_data_to_dataset_start(iid, probed)
            job = m.DataJob.objects.get(process_hash=ph)
            runner(job.pk)
            result = ds.add_private_data_to_dataset_get_result(ph, 0)
            elapsed = time.perf_counter() - t
            cpu_b.append((time.process_time() - cpu, cpu_seconds(proc.pid) - s3_cpu))
            assert result.status == "DONE" and result.units_done_count == n, (
                result.status,
                result.errors[:3],
            )
            return elapsed

        a = [run_a() for _ in range(args.repeat)] if args.only != "b" else [float("nan")]
        print(
            f"(a) imageMetadata given, nothing probed: median {statistics.median(a):.2f} s "
            f"(runs {', '.join(f'{x:.2f}' for x in a)}); ratio to the Label Studio baseline (1.3 s): "
            f"{statistics.median(a) / 1.3:.2f}; CPU of this process {statistics.median(cpu_a or [0]):.2f} s "
            f"(wall time above includes waiting on a busy machine: load average {os.getloadavg()[0]:.1f})",
            flush=True,
        )
        if args.only == "a":
            return
        b = [run_b(private_import.run_private_job) for _ in range(args.repeat)]
        print(
            f"(b) every object probed, batch runner: median {statistics.median(b):.2f} s "
            f"(runs {', '.join(f'{x:.2f}' for x in b)}); target 30 s -> {statistics.median(b) / 30:.2f} of it; "
            f"{n / statistics.median(b):.0f} objects/s; CPU per object: ours "
            f"{statistics.median(c for c, _ in cpu_b) / n * 1e3:.2f} ms, the S3 server's "
            f"{statistics.median(s for _, s in cpu_b) / n * 1e3:.2f} ms; load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        if args.per_unit:
            c = run_b(jobs.run_data_job)
            print(
                f"(b') every object probed, media job runner unit by unit: {c:.2f} s ({n / c:.0f} objects/s)",
                flush=True,
            )
        print(f"database: {django.db.connection.vendor}")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
