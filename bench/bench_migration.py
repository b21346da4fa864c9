#!/usr/bin/env python3
"""Issue 13's storage-model migration (0006-0008) on 100,000 data rows: how long `migrate` takes
from 0005 to the latest, against a baseline measured in the same run on the same data, the time
of one bare `INSERT INTO scratch SELECT * FROM datasets_app_datarow` (copying every row once).

    .venv/bin/python bench/bench_migration.py                       # SQLite (a scratch file)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x .venv/bin/python bench/bench_migration.py

On PostgreSQL the server of DATABASE_URL is used, never its database: the bench makes its own
scratch databases (bench_migration_template, bench_migration_run) and drops them at the end.
BENCH_ROWS (100000) and BENCH_RUNS (3) change the size and the number of runs. A database at 0005
is built once with bulk inserts (historical models): 10 datasets; rows: 5% image groups with 3
members each, 20% private (URL + integration), 5% re-encoded videos, the rest hosted videos; a
third carry client metadata. Each run migrates a fresh copy of it (SQLite: a file copy,
PostgreSQL: CREATE DATABASE ... TEMPLATE). Prints each migration's time and the median total of
the runs (one run only if the first takes over a minute), the baseline and the ratio, and checks
that every row links the item whose uuid was its backing_item_uuid (and the members theirs).
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import ensure_postgres_database  # noqa: E402  (sets SECRET_KEY first)

APP = "datasets_app"
BEFORE = (APP, "0005_token_revocation_key_reveals")
ROWS = int(os.environ.get("BENCH_ROWS", 100_000))
RUNS = int(os.environ.get("BENCH_RUNS", 3))
ONE_RUN_OVER_S = 60.0
DATASETS = 10
PG_URL = os.environ.get("DATABASE_URL", "")
PG = PG_URL.startswith("postgres")
TMP = Path(tempfile.mkdtemp(prefix="bench_migration_"))
TEMPLATE, RUN = "bench_migration_template", "bench_migration_run"


def setup() -> None:
    if PG:
        server = PG_URL.rsplit("/", 1)[0]
        ensure_postgres_database(f"{server}/{TEMPLATE}")
        os.environ["DATABASE_URL"] = f"{server}/{TEMPLATE}"
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{TMP / TEMPLATE}.sqlite3"
    os.environ["DATA_DIR"] = str(TMP)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    import django

    django.setup()


def admin_sql(*statements: str) -> None:
    """Statements on the PostgreSQL server's maintenance database (CREATE/DROP DATABASE)."""
    import psycopg

    with psycopg.connect(PG_URL.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def use_database(name: str) -> None:
    from django.db import connection

    connection.close()
    connection.settings_dict["NAME"] = name if PG else str(TMP / f"{name}.sqlite3")


def build_template() -> list[tuple[str, str]]:
    """The database at 0005 with ROWS rows; returns (data_hash, backing_item_uuid) of every row."""
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    if PG:
        use_database("postgres")
        admin_sql(f'DROP DATABASE IF EXISTS "{TEMPLATE}"', f'CREATE DATABASE "{TEMPLATE}"')
    use_database(TEMPLATE)
    call_command("migrate", APP, BEFORE[1], verbosity=0)
    apps = MigrationExecutor(connection).loader.project_state(BEFORE).apps
    t = time.perf_counter()
    pairs = populate(apps)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    print(f"built a 0005 database with {ROWS:,} rows in {time.perf_counter() - t:.1f} s", flush=True)
    connection.close()
    return pairs


def populate(apps) -> list[tuple[str, str]]:
    model = lambda name: apps.get_model(APP, name)  # noqa: E731
    owner = model("User").objects.create(username="bench@example.com", email="bench@example.com")
    integration = model("CloudIntegration").objects.create(
        owner=owner, title="bucket", provider="s3", config={"bucket": "b"}, credentials_encrypted="enc"
    )
    datasets = model("Dataset").objects.bulk_create(
        [model("Dataset")(title=f"bench {i}", created_by=owner) for i in range(DATASETS)]
    )
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    DataRow = model("DataRow")
    rows = []
    for i in range(ROWS):
        kind = i % 100
        common = {"dataset": datasets[i % DATASETS], "title": f"file-{i:07d}", "created_at": t0 + timedelta(seconds=i),
                  "last_edited_at": t0 + timedelta(seconds=i), "data_hash": uuid.uuid4(), "backing_item_uuid": uuid.uuid4()}
        if i % 3 == 0:
            common["client_metadata"] = {"camera": f"cam-{i % 17}", "score": i % 101, "night": i % 2 == 0}
        if kind < 5:  # image group (3 members below)
            rows.append(DataRow(data_type="IMG_GROUP", is_optimised_image_group=True, width=640, height=480, **common))
        elif kind < 25:  # private
            rows.append(DataRow(data_type="VIDEO", url=f"s3://b/v/{i}.mp4", integration=integration,
                                mime_type="video/mp4", file_size=1_000_000 + i, **common))
        else:  # hosted video, some re-encoded
            extra = {}
            if kind < 30:
                extra = {"original_storage_key": f"data/v/{i}.mov",
                         "media_info": {"verdict": "at risk", "reasons": ["variable frame rate"], "codec": "h264"}}
            rows.append(DataRow(data_type="VIDEO", storage_key=f"data/v/{i}.mp4", mime_type="video/mp4",
                                width=1920, height=1080, fps=29.97, duration=60.0, frame_count=1798,
                                file_size=50_000_000 + i, sha256=f"{i:064x}", thumbnail_key=f"thumbs/{i}.jpg",
                                **extra, **common))
    DataRow.objects.bulk_create(rows, batch_size=2000)
    Member = model("DataRowMember")
    groups = DataRow.objects.filter(data_type="IMG_GROUP").values_list("id", flat=True)
    Member.objects.bulk_create(
        [Member(data_row_id=row_id, data_sequence=s, title=f"{s}.jpg", storage_key=f"data/m/{row_id}/{s}.jpg",
                mime_type="image/jpeg", width=640, height=480, created_at=t0, last_edited_at=t0)
         for row_id in groups.iterator() for s in range(3)],
        batch_size=2000,
    )
    return [(str(r.data_hash), str(r.backing_item_uuid)) for r in rows]


def fresh_copy() -> None:
    from django.db import connection

    connection.close()
    if PG:
        admin_sql(f'DROP DATABASE IF EXISTS "{RUN}"', f'CREATE DATABASE "{RUN}" TEMPLATE "{TEMPLATE}"')
    else:
        for suffix in ("", "-wal", "-shm"):
            (TMP / f"{RUN}.sqlite3{suffix}").unlink(missing_ok=True)
        shutil.copyfile(TMP / f"{TEMPLATE}.sqlite3", TMP / f"{RUN}.sqlite3")
    use_database(RUN)


def baseline_seconds() -> float:
    """One bare INSERT ... SELECT copying every data row into a scratch table of the same columns."""
    from django.db import connection, transaction

    with connection.cursor() as cur:
        cur.execute("CREATE TABLE bench_scratch AS SELECT * FROM datasets_app_datarow WHERE 1 = 0")
    t = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("INSERT INTO bench_scratch SELECT * FROM datasets_app_datarow")
    seconds = time.perf_counter() - t
    with connection.cursor() as cur:
        cur.execute("DROP TABLE bench_scratch")
    return seconds


def migrate_timed() -> tuple[float, dict[str, float]]:
    """Migrates the app from 0005 to its latest migration; total seconds and each migration's."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    each: dict[str, float] = {}
    started: dict[str, float] = {}

    def progress(action, migration=None, fake=False):
        if action == "apply_start":
            started[migration.name] = time.perf_counter()
        elif action == "apply_success":
            each[migration.name] = time.perf_counter() - started[migration.name]

    executor = MigrationExecutor(connection, progress)
    t = time.perf_counter()
    executor.migrate(executor.loader.graph.leaf_nodes(APP))
    return time.perf_counter() - t, each


def check(pairs: list[tuple[str, str]]) -> None:
    """Every row links the item with its old backing_item_uuid; members are on their row's item."""
    from django.db import connection

    from datasets_app import models as m

    expected = dict(pairs)
    got = {str(h): str(u) for h, u in m.DataRow.objects.values_list("data_hash", "item__item_uuid").iterator()}
    assert got == expected, "rows and items do not match their old uuids"
    assert m.StorageItem.objects.count() == ROWS
    assert m.StorageFolder.objects.count() == DATASETS == m.Dataset.objects.filter(backing_folder__isnull=False).count()
    with connection.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM datasets_app_datarowmember mb JOIN datasets_app_storageitem i ON i.id = mb.item_id"
                    " WHERE i.item_type = 'IMG_GROUP'")
        assert cur.fetchone()[0] == m.DataRowMember.objects.count() == 3 * ROWS * 5 // 100


def main() -> None:
    setup()
    from django.db import connection

    print(f"bench_migration on {connection.vendor}: {ROWS:,} rows, {DATASETS} datasets", flush=True)
    pairs = build_template()
    totals, baselines, each_runs = [], [], []
    try:
        for run in range(RUNS):
            fresh_copy()
            baselines.append(baseline_seconds())
            total, each = migrate_timed()
            totals.append(total)
            each_runs.append(each)
            parts = "  ".join(f"{name} {s:6.2f} s" for name, s in each.items())
            print(f"run {run + 1}: migrate {total:6.2f} s ({parts}); baseline {baselines[-1]:5.2f} s", flush=True)
            if run == 0:
                check(pairs)
                print("checked: every row links the item with its old backing_item_uuid; members on their items")
                if total > ONE_RUN_OVER_S:
                    print(f"first run took over {ONE_RUN_OVER_S:.0f} s: one run only")
                    break
    finally:
        connection.close()
        if PG:
            admin_sql(f'DROP DATABASE IF EXISTS "{RUN}"', f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
        shutil.rmtree(TMP, ignore_errors=True)
    ours, base = statistics.median(totals), statistics.median(baselines)
    print(f"\n{connection.vendor}: {ROWS:,} rows, median of {len(totals)} run(s)")
    for name in each_runs[0]:
        print(f"  {name:<40} {statistics.median(r[name] for r in each_runs):7.2f} s")
    print(f"  {'migrate 0005 -> latest':<40} {ours:7.2f} s   ({ROWS / ours:,.0f} rows/s)")
    print(f"  {'baseline: INSERT INTO scratch SELECT *':<40} {base:7.2f} s")
    print(f"  ratio {ours / base:.1f}x the baseline (target: minutes at most; seconds expected)")


if __name__ == "__main__":
    main()
