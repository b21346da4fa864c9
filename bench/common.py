"""Helpers shared by benchmarks: Django set-up on a chosen database, timing with medians."""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent


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
