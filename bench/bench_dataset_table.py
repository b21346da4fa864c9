#!/usr/bin/env python3
"""The dataset data table at 100,000 rows (issue 14) on PostgreSQL: medians of

- one page of 100 rows (sdk/data_table.rows_page) for every sort, up and down, first and a deep
  page (a cursor from the middle), for a MIRROR dataset (items in its backing folder) and a PLAIN
  dataset linking the same items;
- the page count: the maintained counter (dataset_stats.figures_for) against COUNT(*) of the rows,
  and the capped COUNT of a title filter (LIMIT 10,001);

against a baseline measured in the same run: a bare 100-row index range SELECT of the rows table by
(dataset_id, created_at, id). Not asserted; prints medians and ratios.

    .venv/bin/python bench/bench_dataset_table.py        # BENCH_DB, BENCH_ROWS=100000, BENCH_REPEAT=7

Rows are seeded once with INSERT ... SELECT generate_series and kept (drop the database to reseed).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ensure_postgres_database, median_seconds, setup_django  # noqa: E402

DB_URL = os.environ.get("BENCH_DB", "postgres://postgres@127.0.0.1:5432/dd_bench_table")
ROWS = int(os.environ.get("BENCH_ROWS", 100_000))
REPEAT = int(os.environ.get("BENCH_REPEAT", 7))


def seed():
    from django.db import connection

    from datasets_app import models as m
    from datasets_app.sdk import dataset_stats

    title = f"table {ROWS}"
    mirror = m.Dataset.objects.filter(title=title).select_related("backing_folder").first()
    if mirror is not None:
        return mirror, m.Dataset.objects.get(title=f"{title} plain")
    folder = m.StorageFolder.objects.create(name=title)
    mirror = m.Dataset.objects.create(title=title, backing_folder=folder)
    plain = m.Dataset.objects.create(title=f"{title} plain")
    with connection.cursor() as c:
        # names repeat (ties), sizes and durations are sometimes missing (NULLs), four kinds
        c.execute(
            """
            INSERT INTO datasets_app_storageitem (item_uuid, folder_id, name, item_type, file_size, mime_type,
                duration, client_metadata, created_at, last_edited_at, storage_key, url, sha256, thumbnail_key,
                sequence_video_status, sequence_video_key, media_info, original_storage_key, original_url)
            SELECT gen_random_uuid(), %s, 'frame-' || lpad((g %% 50000)::text, 6, '0') || '.jpg',
                (ARRAY['VIDEO','IMAGE','IMG_GROUP','DICOM'])[1 + g %% 4],
                CASE WHEN g %% 10 = 0 THEN NULL ELSE (g * 7919) %% 1000000 END, '',
                CASE WHEN g %% 7 = 0 THEN NULL ELSE ((g * 31) %% 3600) / 10.0 END, '{}',
                now() - (g || ' seconds')::interval, now(), '', '', '', '', '', '', '{}', '', ''
            FROM generate_series(1, %s) g
            """,
            [folder.pk, ROWS],
        )
        for ds in (mirror, plain):
            c.execute(
                """
                INSERT INTO datasets_app_datarow (data_hash, dataset_id, item_id, created_at, last_edited_at)
                SELECT gen_random_uuid(), %s, i.id, i.created_at, now()
                FROM datasets_app_storageitem i WHERE i.folder_id = %s
                """,
                [ds.pk, folder.pk],
            )
        c.execute("ANALYZE")
    dataset_stats.reconcile([mirror.pk, plain.pk])
    return mirror, plain


def main() -> None:
    ensure_postgres_database(DB_URL)
    os.environ["DATABASE_URL"] = DB_URL
    setup_django()
    from django.db import connection

    from datasets_app import models as m
    from datasets_app.sdk import data_table, dataset_stats

    mirror, plain = seed()
    with connection.cursor() as c:
        c.execute("SELECT count(*) FROM datasets_app_datarow WHERE dataset_id = %s", [mirror.pk])
        print(f"rows in the mirror dataset: {c.fetchone()[0]:,}; in the plain one: {ROWS:,}")

    def baseline():
        with connection.cursor() as c:
            c.execute(
                "SELECT id, data_hash, item_id, created_at FROM datasets_app_datarow WHERE dataset_id = %s "
                "ORDER BY created_at, id LIMIT 100",
                [mirror.pk],
            )
            c.fetchall()

    base = median_seconds(baseline, repeat=REPEAT)
    print(f"{'baseline: bare 100-row index range SELECT':<52} {base * 1000:8.2f} ms")

    def table_qs(ds):
        return data_table.table_queryset(ds, m.DataRow.objects.filter(dataset=ds).select_related("item"))

    for ds, kind in ((mirror, "mirror"), (plain, "plain")):
        qs = table_qs(ds)
        for key in data_table.SORTS:
            for desc in (False, True):
                sort = data_table.Sort(key, desc)
                first = median_seconds(lambda: data_table.rows_page(qs, sort, limit=100), repeat=REPEAT)
                middle = list(data_table.ordered(qs, sort, not desc)[ROWS // 2 : ROWS // 2 + 1])[0]
                cursor = data_table.encode_cursor(sort, middle)
                deep = median_seconds(lambda: data_table.rows_page(qs, sort, after=cursor, limit=100), repeat=REPEAT)
                last = median_seconds(lambda: data_table.rows_page(qs, sort, last=True, limit=100), repeat=REPEAT)
                name = f"{kind} sort {sort.param}"
                print(
                    f"{name:<24} first {first * 1000:8.2f} ms ({first / base:6.1f}x)  deep {deep * 1000:8.2f} ms "
                    f"({deep / base:6.1f}x)  last {last * 1000:8.2f} ms ({last / base:6.1f}x)"
                )

    counter = median_seconds(lambda: dataset_stats.figures_for([mirror.pk]), repeat=REPEAT)
    full = median_seconds(lambda: m.DataRow.objects.filter(dataset=mirror).count(), repeat=REPEAT)
    qs = m.DataRow.objects.filter(dataset=mirror, item__name__icontains="frame-01")
    capped = median_seconds(
        lambda: data_table.matching_count(dataset_stats.Figures(), qs, title_like="%frame-01%", data_types=None),
        repeat=REPEAT,
    )
    print(f"{'count: maintained counter':<52} {counter * 1000:8.2f} ms ({counter / base:6.1f}x)")
    print(f"{'count: COUNT(*) of the rows (what it replaces)':<52} {full * 1000:8.2f} ms ({full / base:6.1f}x)")
    print(f"{'count: title filter, COUNT over LIMIT 10,001':<52} {capped * 1000:8.2f} ms ({capped / base:6.1f}x)")


if __name__ == "__main__":
    main()
