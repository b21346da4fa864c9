"""Helpers shared by benchmarks: Django set-up on a chosen database, timing with medians, and the
CPU time and peak memory of server processes (from /proc)."""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent

# Benchmarks run the production settings (DEBUG off, the default) on loopback: they need a secret
# key of their own, and their clients speak plain HTTP as a TLS proxy in front would deliver it.
os.environ.setdefault("SECRET_KEY", "bench-" + os.urandom(16).hex())
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")


def setup_django(default_db_url: str | None = None) -> None:
    sys.path.insert(0, str(ROOT))
    if default_db_url and not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = default_db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def ensure_postgres_database(url: str) -> None:
    """Creates the database named in a postgres:// URL if it does not exist."""
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname=%s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def median_seconds(fn: Callable[[], object], repeat: int = 7, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def report(name: str, ours: float, baseline: float, target: float, unit: str = "s") -> None:
    ratio = ours / baseline if baseline else float("inf")
    verdict = "OK" if ratio <= target else "OVER TARGET"
    print(f"{name:<44} ours {ours * 1000:9.1f} ms   baseline {baseline * 1000:9.1f} ms   ratio {ratio:5.2f}x  (target <= {target}x) {verdict}")


def process_tree(pid: int) -> list[int]:
    """A process and its direct children (a gunicorn master and its workers)."""
    try:
        return [pid, *(int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]
    except OSError:
        return [pid]


def cpu_seconds(*pids: int) -> float:
    """User + system CPU seconds these processes have used so far (those that have exited: 0)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def peak_rss_mb_each(pids: list[int]) -> list[float]:
    """VmHWM (peak resident set) of each process, in MB (processes that have exited are left out)."""
    peaks = []
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        except OSError:
            continue
    return peaks


def bulk_rows(dataset, items, *, batch: int = 10_000) -> int:
    """Seeds rows the storage model's way: one storage item per dict of item fields (`name`,
    `item_type`, media fields), in the dataset's backing folder (a folder is made for a plain
    dataset), and the row linking it; bulk inserts of `batch`. Returns how many rows were made."""
    from datasets_app import models as m  # Django is set up by the caller

    folder = dataset.backing_folder or m.StorageFolder.objects.create(name=f"{dataset.title[:200]} files")
    made = 0
    chunk: list = []

    def flush() -> None:
        created = m.StorageItem.objects.bulk_create(chunk)
        m.DataRow.objects.bulk_create([m.DataRow(dataset=dataset, item=item) for item in created])

    for fields in items:
        chunk.append(m.StorageItem(folder=folder, owner=dataset.created_by, **fields))
        made += 1
        if len(chunk) == batch:
            flush()
            chunk = []
    if chunk:
        flush()
    return made


def start_web_server(tmp: Path, *, db_url: str, port: int, secret_key: str, workers: int = 1):
    """The production web tier (gunicorn + uvicorn workers, deploy/gunicorn.conf.py) on loopback,
    in its own session (stop it with os.killpg); returns once /livez answers. Logs in tmp/web.log."""
    import subprocess

    import requests

    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "DATA_DIR": str(tmp),
        "DEBUG": "0",
        "SECRET_KEY": secret_key,
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "PORT": str(port),
        "WEB_CONCURRENCY": str(workers),
        "API_RATE_LIMIT_PER_MINUTE": "1000000",
        # the broker a bench's own worker reads, when it starts one
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/6"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "dashboard.asgi:application"],
        cwd=ROOT, env=env, stdout=(tmp / "web.log").open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    for _ in range(300):
        try:
            if requests.get(f"http://127.0.0.1:{port}/livez", timeout=2).status_code == 200:
                return proc
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit(f"server did not start; see {tmp / 'web.log'}")
