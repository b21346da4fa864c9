#!/usr/bin/env python3
"""link_items of 100,000 storage items into a plain dataset (issue 13), next to a bare
`INSERT INTO datasets_app_datarow (...) SELECT ... FROM datasets_app_storageitem WHERE folder_id = ...`
of the same rows in the same run. Target: within 2x of the bare INSERT ... SELECT.

Three ways in, each into a fresh dataset, median of 3 (the ways interleaved, so load hits all):
  link_items        sdk.item_links.link_items with the 100,000 item uuids as strings (the wire's call)
  by filter         sdk.files_browse.link_selection(all_matching=True): the dashboard's "Add to
                    dataset" of everything in the folder
  bare SQL          the baseline
and, not part of the ratio, reading the returned rows back (what the wire serialises).

    .venv/bin/python bench/bench_link_items.py      # SQLite in /tmp unless DATABASE_URL is set
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/datasets_linkbench .venv/bin/python bench/bench_link_items.py
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import ensure_postgres_database, setup_django

N_ITEMS = int(os.environ.get("BENCH_ITEMS", "100000"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
TARGET = 2.0
URL = os.environ.get("DATABASE_URL", "sqlite:////tmp/bench_link_items.sqlite3")


def seed():
    """The bench user and a folder of N_ITEMS images (bulk_create, not timed; reused across runs)."""
    from django.db import connection, transaction

    from datasets_app import models as m

    user, _ = m.User.objects.get_or_create(
        email="linkbench@example.com", defaults={"username": "linkbench@example.com"}
    )
    folder, _ = m.StorageFolder.objects.get_or_create(name=f"linkbench {N_ITEMS}", owner=user)
    have = folder.items.count()
    if have < N_ITEMS:
        t = time.perf_counter()
        with transaction.atomic():
            m.StorageItem.objects.bulk_create(
                (
                    m.StorageItem(
                        folder=folder,
                        owner=user,
                        name=f"img-{i:06d}.jpg",
                        item_type=m.DataType.IMAGE,
                        file_size=100_000 + i,
                        mime_type="image/jpeg",
                        width=640,
                        height=480,
                        client_metadata={"camera": i % 7},
                    )
                    for i in range(have, N_ITEMS)
                ),
                batch_size=5000,
            )
        print(f"seeded {N_ITEMS - have} items in {time.perf_counter() - t:.1f} s")
        with connection.cursor() as c:
            c.execute("ANALYZE")
    return user, folder


def fresh_dataset(user, title: str):
    from datasets_app import models as m

    ds = m.Dataset.objects.create(title=title, created_by=user, backing_folder=None)
    m.DatasetMembership.objects.create(dataset=ds, user=user, role=m.DatasetUserRole.ADMIN)
    return ds


def drop_dataset(ds) -> None:
    """Removes the dataset and its rows with plain SQL (untimed), so every run starts from the same table."""
    from django.db import connection, transaction

    from datasets_app import models as m

    with transaction.atomic(), connection.cursor() as c:
        c.execute(f"DELETE FROM {m.DataRow._meta.db_table} WHERE dataset_id = %s", [ds.pk])
        ds.delete()


def bare_insert_select(ds, folder) -> None:
    """The baseline: one INSERT ... SELECT of the folder's items as rows of `ds`, a data_hash each
    in the backend's UUID storage format (PostgreSQL uuid; SQLite 32 hex characters)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from datasets_app import models as m

    new_hash = "gen_random_uuid()" if connection.vendor == "postgresql" else "lower(hex(randomblob(16)))"
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    sql = (
        f"INSERT INTO {m.DataRow._meta.db_table} (data_hash, dataset_id, item_id, created_at, last_edited_at) "
        f"SELECT {new_hash}, %s, id, %s, %s FROM {m.StorageItem._meta.db_table} WHERE folder_id = %s"
    )
    with transaction.atomic(), connection.cursor() as c:
        c.execute(sql, [ds.pk, now, now, folder.pk])


def timed(fn) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> None:
    if URL.startswith("postgres"):
        ensure_postgres_database(URL)
    setup_django(URL)
    from django.db import connection

    from datasets_app import models as m
    from datasets_app.sdk.files_browse import link_selection
    from datasets_app.sdk.item_links import link_items
    from datasets_app.sdk.policy import Principal

    user, folder = seed()
    me = Principal(user=user)
    # The request as the wire brings it: uuid strings, in an order unrelated to the table's.
    wanted = [str(u) for u in folder.items.values_list("item_uuid", flat=True)]
    random.Random(13).shuffle(wanted)
    print(f"{connection.vendor}: {N_ITEMS:,} items, median of {RUNS} (fresh dataset each)")

    samples: dict[str, list[float]] = {"bare": [], "link_items": [], "by filter": [], "read rows": []}
    for run in range(RUNS):
        ds = fresh_dataset(user, f"bare {run}")
        took, _ = timed(lambda ds=ds: bare_insert_select(ds, folder))
        samples["bare"].append(took)
        assert m.DataRow.objects.filter(dataset=ds).count() == N_ITEMS
        drop_dataset(ds)

        ds = fresh_dataset(user, f"link_items {run}")
        took, rows = timed(lambda ds=ds: link_items(me, str(ds.dataset_hash), wanted))
        samples["link_items"].append(took)
        assert len(rows) == N_ITEMS and m.DataRow.objects.filter(dataset=ds).count() == N_ITEMS
        took, first = timed(lambda rows=rows: [r.item.item_uuid for r in rows][:3])
        samples["read rows"].append(took)
        assert [str(u) for u in first] == wanted[:3]
        drop_dataset(ds)

        ds = fresh_dataset(user, f"by filter {run}")
        took, rows = timed(
            lambda ds=ds: link_selection(me, str(ds.dataset_hash), folder.folder_uuid, all_matching=True)
        )
        samples["by filter"].append(took)
        assert len(rows) == N_ITEMS and m.DataRow.objects.filter(dataset=ds).count() == N_ITEMS
        drop_dataset(ds)
        print(f"  run {run + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in samples.items()))

    bare = statistics.median(samples["bare"])
    print(f"{'bare INSERT ... SELECT':<34} {bare:6.2f} s  {N_ITEMS / bare:>10,.0f} rows/s")
    for name in ("link_items", "by filter"):
        ours = statistics.median(samples[name])
        ratio = ours / bare
        verdict = "OK" if ratio <= TARGET else "OVER TARGET"
        print(
            f"{name:<34} {ours:6.2f} s  {N_ITEMS / ours:>10,.0f} rows/s  ratio {ratio:5.2f}x (target <= {TARGET}x) {verdict}"
        )
    read = statistics.median(samples["read rows"])
    print(
        f"{'reading the returned rows (+item)':<34} {read:6.2f} s  {N_ITEMS / read:>10,.0f} rows/s  (not in the ratio)"
    )


if __name__ == "__main__":
    main()
