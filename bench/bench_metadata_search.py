#!/usr/bin/env python3
"""Metadata search (sdk/metadata_search.py) on folders of 10,000, 100,000 and (PostgreSQL only)
1,000,000 items with metadata: median latency of the SDK call (folder access, schema, one page of
100) for

- listing: the first page and a deep page (keyset token at 90 %), no condition;
- a filter matching 1 % by equality (`rare:eq:yes`, JSONB containment: the GIN index) and by a
  numeric range (`speed:between:0,9`), first page and deep page;

and, in the same run, the baselines: a bare SELECT of 100 rows by primary-key range, and on
PostgreSQL the same equality filter with the GIN index dropped (inside a rolled-back transaction).

    .venv/bin/python bench/bench_metadata_search.py                      # PostgreSQL (BENCH_DB)
    BENCH_DB=sqlite .venv/bin/python bench/bench_metadata_search.py      # SQLite, 10k and 100k

BENCH_SIZES=10000,100000,1000000, BENCH_REPEAT=7. Items are inserted once with INSERT ... SELECT
(kept between runs, one folder per size); the 1M folder is skipped if seeding took over 3 minutes.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB = os.environ.get("BENCH_DB", "postgres://postgres@127.0.0.1:5432/bench_metadata")
IS_SQLITE = DB == "sqlite"
DEFAULT_SIZES = "10000,100000" if IS_SQLITE else "10000,100000,1000000"
SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", DEFAULT_SIZES).split(",")]
REPEAT = int(os.environ.get("BENCH_REPEAT", 7))
SEED_BUDGET_SECONDS = 180
SCHEMA = {
    "weather": {"ty": "enum", "values": ["fog", "rain", "snow", "sun"]},
    "speed": {"ty": "variant", "hint": "number"},
    "rare": {"ty": "variant", "hint": "varchar"},
    "taken": {"ty": "variant", "hint": "datetime"},
}

# SQL for one generated item number `g` (1..n), per database; other columns get their empty value.
PG_VALUES = {
    "item_uuid": "gen_random_uuid()",
    "name": "'img-' || lpad(g::text, 7, '0') || '.jpg'",
    "item_type": "'IMAGE'",
    "client_metadata": (
        "jsonb_build_object('weather', (ARRAY['rain','sun','fog','snow'])[1 + g % 4], 'speed', g % 1000, "
        "'rare', CASE WHEN g % 100 = 0 THEN 'yes' ELSE 'no' END, "
        "'taken', to_char(timestamp '2024-01-01' + g * interval '1 minute', 'YYYY-MM-DD\"T\"HH24:MI:SS'))"
    ),
    "created_at": "timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second' + interval '1 microsecond'",
    "last_edited_at": "now()",
    "storage_key": "'bench/' || g",
}
SQLITE_VALUES = {
    "item_uuid": "lower(hex(randomblob(16)))",
    "name": "'img-' || printf('%07d', g) || '.jpg'",
    "item_type": "'IMAGE'",
    "client_metadata": (
        "json_object('weather', CASE g % 4 WHEN 0 THEN 'rain' WHEN 1 THEN 'sun' WHEN 2 THEN 'fog' ELSE 'snow' END, "
        "'speed', g % 1000, 'rare', CASE WHEN g % 100 = 0 THEN 'yes' ELSE 'no' END, "
        "'taken', strftime('%Y-%m-%dT%H:%M:%S', '2024-01-01', '+' || g || ' minutes'))"
    ),
    "created_at": "strftime('%Y-%m-%d %H:%M:%S', '2024-01-01', '+' || g || ' seconds') || '.000001'",
    "last_edited_at": "strftime('%Y-%m-%d %H:%M:%f', 'now')",
    "storage_key": "'bench/' || g",
}


def setup() -> None:
    from bench.common import ensure_postgres_database, setup_django

    if IS_SQLITE:
        os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.gettempdir()}/bench_metadata.sqlite3"
    else:
        ensure_postgres_database(DB)
        os.environ["DATABASE_URL"] = DB
    setup_django()


def column_values(folder_id: int) -> tuple[list[str], list[str]]:
    """Every concrete column of StorageItem and the SQL giving its value for item `g`."""
    from django.db import models

    from datasets_app import models as m

    given = SQLITE_VALUES if IS_SQLITE else PG_VALUES
    columns, values = [], []
    for field in m.StorageItem._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        if field.column == "folder_id":
            values.append(str(folder_id))
        elif field.column in given:
            values.append(given[field.column])
        elif field.null:
            values.append("NULL")
        elif isinstance(field, models.JSONField):
            values.append("'{}'")
        elif isinstance(field, models.BooleanField):
            values.append("false")
        elif isinstance(field, (models.IntegerField, models.FloatField)):
            values.append("0")
        else:
            values.append("''")
    return columns, values


def seed_folder(owner, n: int) -> tuple[object, float]:
    """The folder of `n` items (made once); the seconds spent making it now (0 when kept)."""
    from django.db import connection, transaction

    from datasets_app import models as m

    name = f"metadata bench {n}"
    folder = m.StorageFolder.objects.filter(name=name, owner=owner).first()
    if folder is not None and folder.items.count() == n:
        return folder, 0.0
    started = time.perf_counter()
    with transaction.atomic():
        if folder is not None:
            folder.items.all().delete()
        else:
            folder = m.StorageFolder.objects.create(name=name, owner=owner)
        columns, values = column_values(folder.pk)
        series = (
            f"WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {n}) "
            if IS_SQLITE
            else ""
        )
        source = "s" if IS_SQLITE else f"generate_series(1, {n}) g"
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO datasets_app_storageitem ({', '.join(columns)}) "
                f"{series}SELECT {', '.join(values)} FROM {source}"
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE" if IS_SQLITE else "ANALYZE datasets_app_storageitem")
    return folder, time.perf_counter() - started


def deep_token(folder, conditions: list[str]) -> str:
    """The keyset token of the match at 90 % (a deep page)."""
    from datasets_app import models as m
    from datasets_app.sdk.metadata_search import apply_conditions, encode_token, parse_conditions

    qs = apply_conditions(m.StorageItem.objects.filter(folder=folder), parse_conditions(conditions, SCHEMA))
    count = qs.count()
    at = qs.order_by("created_at", "item_uuid").values_list("created_at", "item_uuid")[int(count * 0.9)]
    return encode_token(*at)


def measure(fn) -> float:
    from bench.common import median_seconds

    return median_seconds(fn, repeat=REPEAT, warmup=2) * 1000


def bench_size(principal, folder, n: int) -> dict[str, float]:
    from django.db import connection, transaction

    from datasets_app.sdk.metadata_search import search_folder_items

    def search(conditions, token=None):
        return lambda: search_folder_items(principal, folder.folder_uuid, conditions, page_token=token)

    eq, rng = ["rare:eq:yes"], ["speed:between:0,9"]
    figures = {
        "list first page": measure(search([])),
        "list deep page (90%)": measure(search([], deep_token(folder, []))),
        "eq 1% first page": measure(search(eq)),
        "eq 1% deep page": measure(search(eq, deep_token(folder, eq))),
        "range 1% first page": measure(search(rng)),
        "range 1% deep page": measure(search(rng, deep_token(folder, rng))),
    }
    first_id = folder.items.order_by("id").values_list("id", flat=True)[n // 2]

    def bare_select():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT * FROM datasets_app_storageitem WHERE id >= %s AND id < %s", [first_id, first_id + 100]
            )
            cursor.fetchall()

    figures["baseline: 100 rows by pk range"] = measure(bare_select)
    if not IS_SQLITE:
        # The same equality filter with no GIN index: dropped inside a transaction rolled back after.
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("DROP INDEX datasets_app_storageitem_meta_gin")
            figures["baseline: eq 1% first page, no GIN"] = measure(search(eq))
            transaction.set_rollback(True)
    return figures


def main() -> None:
    setup()
    from datasets_app import models as m
    from datasets_app.sdk.policy import Principal

    owner, _ = m.User.objects.get_or_create(username="metadata-bench", defaults={"email": "metadata-bench@example.com"})
    m.MetadataSchema.objects.update_or_create(pk=1, defaults={"document": SCHEMA})
    principal = Principal(user=owner)
    print(f"Metadata search on {'SQLite' if IS_SQLITE else 'PostgreSQL'}: median ms of {REPEAT} (page of 100)")
    results: dict[int, dict[str, float]] = {}
    for n in SIZES:
        folder, seeded = seed_folder(owner, n)
        if seeded:
            print(f"  seeded {n:,} items in {seeded:.1f} s")
        if seeded > SEED_BUDGET_SECONDS:
            print(f"  {n:,}: seeding took over {SEED_BUDGET_SECONDS} s: not measured")
            continue
        results[n] = bench_size(principal, folder, n)
    sizes = list(results)
    print(f"{'':<38}" + "".join(f"{n:>12,}" for n in sizes) + f"{'ratio':>9}")
    for name in results[sizes[0]]:
        row = [results[n][name] for n in sizes]
        print(f"{name:<38}" + "".join(f"{v:>12.2f}" for v in row) + f"{row[-1] / row[0]:>8.2f}x")


if __name__ == "__main__":
    main()
