#!/usr/bin/env python3
"""get_datasets(title_like=...) over 100,000 datasets and list_data_rows() of a 100,000-row dataset,
on PostgreSQL, next to the equivalent raw SQL in the same run. Target: within 3x of raw SQL.

    .venv/bin/python bench/bench_listing.py            # DATABASE_URL defaults to postgres dd_bench
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import bulk_rows, ensure_postgres_database, median_seconds, report, setup_django  # noqa: E402

N_DATASETS = int(os.environ.get("BENCH_DATASETS", 100_000))
N_ROWS = int(os.environ.get("BENCH_ROWS", 100_000))
URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dd_bench")


def seed():
    from django.db import connection, transaction

    from datasets_app import models as m

    user, _ = m.User.objects.get_or_create(email="bench@example.com", defaults={"username": "bench@example.com"})
    have = m.Dataset.objects.count()
    if have < N_DATASETS:
        t = time.perf_counter()
        words = ["traffic", "night", "boats", "cars", "drone", "scan", "retail", "field"]
        batch = 10_000
        for start in range(have, N_DATASETS, batch):
            with transaction.atomic():
                created = m.Dataset.objects.bulk_create(
                    [
                        m.Dataset(title=f"{words[i % 8]} {words[(i // 8) % 8]} {i}", description=f"set {i}", created_by=user)
                        for i in range(start, min(start + batch, N_DATASETS))
                    ]
                )
                m.DatasetMembership.objects.bulk_create(
                    [m.DatasetMembership(dataset=d, user=user, role=i % 2) for i, d in enumerate(created)]
                )
        print(f"seeded {N_DATASETS - have} datasets in {time.perf_counter() - t:.1f}s")
    big = m.Dataset.objects.filter(title="BIG rows dataset").first()
    made = big is None
    if made:
        folder = m.StorageFolder.objects.create(name="BIG rows dataset", owner=user)
        big = m.Dataset.objects.create(title="BIG rows dataset", created_by=user, backing_folder=folder)
    if made:
        m.DatasetMembership.objects.create(dataset=big, user=user, role=0)
    have_rows = big.data_rows.count()
    if have_rows < N_ROWS:
        t = time.perf_counter()
        bulk_rows(
            big,
            (
                dict(
                    name=f"clip-{i:06d}.mp4", item_type="VIDEO", storage_key=f"datasets/{big.dataset_hash}/{uuid.uuid4()}",
                    mime_type="video/mp4", width=1280, height=720, fps=30.0, duration=12.5, file_size=1_000_000 + i,
                    client_metadata={"camera": i % 7},
                )
                for i in range(have_rows, N_ROWS)
            ),
        )
        print(f"seeded {N_ROWS - have_rows} data rows in {time.perf_counter() - t:.1f}s")
    with connection.cursor() as c:
        c.execute("ANALYZE")
    return user, big


def main():
    if URL.startswith("postgres"):
        ensure_postgres_database(URL)
    setup_django(URL)
    from django.db import connection

    from datasets_app.sdk import UserClient

    user, big = seed()
    client = UserClient.for_user(user)
    pattern = "%night cars%"

    def sdk_datasets():
        return client.get_datasets(title_like=pattern)

    def raw_datasets():
        with connection.cursor() as c:
            c.execute(
                """SELECT d.dataset_hash, u.user_hash, d.title, d.description, d.storage_location, d.created_at,
                          d.last_edited_at, f.folder_uuid, m.role
                   FROM datasets_app_dataset d
                   JOIN datasets_app_datasetmembership m ON m.dataset_id = d.id
                   LEFT JOIN datasets_app_user u ON u.id = d.created_by_id
                   LEFT JOIN datasets_app_storagefolder f ON f.id = d.backing_folder_id
                   WHERE m.user_id = %s AND d.title::text ILIKE %s
                   ORDER BY d.created_at DESC, d.id DESC""",
                [user.pk, pattern],
            )
            return c.fetchall()

    dataset = client.get_dataset(str(big.dataset_hash))

    def sdk_rows():
        return dataset.list_data_rows()

    def raw_rows():
        with connection.cursor() as c:
            c.execute(
                """SELECT r.data_hash, i.name, i.item_type, r.created_at, r.last_edited_at, i.width, i.height,
                          i.storage_key, i.url, i.file_size, i.mime_type, i.fps, i.duration, i.frame_count,
                          i.item_uuid, i.client_metadata, i.is_optimised_image_group, i.media_info
                   FROM datasets_app_datarow r JOIN datasets_app_storageitem i ON i.id = r.item_id
                   WHERE r.dataset_id = %s ORDER BY r.created_at, r.id""",
                [big.pk],
            )
            return c.fetchall()

    n_match = len(sdk_datasets())
    assert n_match == len(raw_datasets())
    assert len(sdk_rows()) == len(raw_rows()) == N_ROWS
    print(f"database: {connection.vendor}; {N_DATASETS} datasets ({n_match} match {pattern!r}); {N_ROWS} rows")
    report("get_datasets(title_like)", median_seconds(sdk_datasets), median_seconds(raw_datasets), 3.0)
    report("list_data_rows() of 100k rows", median_seconds(sdk_rows, repeat=5), median_seconds(raw_rows, repeat=5), 3.0)


if __name__ == "__main__":
    main()
