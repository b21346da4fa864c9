#!/usr/bin/env python3
"""Datasets of 10,000, 100,000 and 1,000,000 data rows on PostgreSQL, served by gunicorn (one
process, so its peak RSS is the server's): per-request times of

- the dashboard's dataset page (first page, a deep page, a title search),
- the encord SDK's list_data_rows with a title filter (title_eq, and a prefix title_like),
- the SDK's data_rows (every row; the server streams it), as ms per 1,000 rows,
- a page of 100 rows with keyset pagination (Dataset.data_rows_page) at the start, middle and end,

with the server's peak RSS (target < 300 MB) and the 1M/10k ratios (flat = about 1x). Not asserted.

    .venv/bin/python bench/bench_listing_scale.py          # BENCH_DB, BENCH_PORT, BENCH_SIZES=10000,100000,1000000

Rows are inserted once with INSERT ... SELECT generate_series (1M rows: about a minute) and kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TQDM_DISABLE", "1")

DB_URL = os.environ.get("BENCH_DB", "postgres://postgres@127.0.0.1:5432/dd_prod_scale")
PORT = int(os.environ.get("BENCH_PORT", 18530))
SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "10000,100000,1000000").split(",")]
REPEAT = int(os.environ.get("BENCH_REPEAT", 7))
# The same key in this process (which makes the session) and the server (which checks it).
SECRET_KEY = "bench-scale-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
os.environ["SECRET_KEY"] = SECRET_KEY


def _key():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"bench-scale-key").digest())


def seed() -> dict[int, str]:
    """One dataset per size (title "scale <n>"), rows titled frame-0000000.jpg..; returns hashes."""
    from bench.common import ensure_postgres_database, setup_django

    ensure_postgres_database(DB_URL)
    os.environ["DATABASE_URL"] = DB_URL
    setup_django()
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    from django.db import connection, transaction

    from datasets_app import models as m
    from datasets_app.sdk import accounts

    user, _ = m.User.objects.get_or_create(email="scale@example.com", defaults={"username": "scale@example.com"})
    if not user.public_keys.exists():
        pub = _key().public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
        accounts.add_public_key(user, pub + " bench")
    hashes = {}
    for n in SIZES:
        ds = m.Dataset.objects.filter(title=f"scale {n}").first()
        if ds is None:
            folder = m.StorageFolder.objects.create(name=f"scale {n}", owner=user)
            ds = m.Dataset.objects.create(title=f"scale {n}", created_by=user, backing_folder=folder)
            m.DatasetMembership.objects.create(dataset=ds, user=user, role=m.DatasetUserRole.ADMIN)
        have = m.DataRow.objects.filter(dataset=ds).count()
        if have < n:
            t = time.perf_counter()
            with transaction.atomic(), connection.cursor() as cur:
                after = m.StorageItem.objects.order_by("-id").values_list("id", flat=True).first() or 0
                cur.execute(*_insert_items_sql(ds.backing_folder_id, have, n))
                cur.execute(*_link_rows_sql(ds.pk, ds.backing_folder_id, after))
            with connection.cursor() as cur:
                cur.execute("ANALYZE datasets_app_storageitem")
                cur.execute("ANALYZE datasets_app_datarow")
            print(f"inserted {n - have:,} rows into 'scale {n}' in {time.perf_counter() - t:.1f} s", flush=True)
        hashes[n] = str(ds.dataset_hash)
    return hashes


def _link_rows_sql(dataset_id: int, folder_id: int, after_item_id: int) -> tuple[str, list]:
    """The rows linking the folder's items inserted after `after_item_id`, with their times."""
    return (
        "INSERT INTO datasets_app_datarow (data_hash, dataset_id, item_id, created_at, last_edited_at, created_by_job_id) "
        "SELECT gen_random_uuid(), %s, i.id, i.created_at, i.last_edited_at, NULL FROM datasets_app_storageitem i "
        "WHERE i.folder_id = %s AND i.id > %s ORDER BY i.id",
        [dataset_id, folder_id, after_item_id],
    )


def _insert_items_sql(folder_id: int, start: int, stop: int) -> tuple[str, list]:
    """INSERT ... SELECT over generate_series for every concrete column of StorageItem
    (introspected, so columns added later get their defaults)."""
    from datasets_app import models as m

    special = {
        "item_uuid": "gen_random_uuid()",
        "folder_id": "%s",
        "name": "'frame-' || lpad(g::text, 7, '0') || '.jpg'",
        "item_type": "'IMAGE'",
        "mime_type": "'image/jpeg'",
        "width": "640",
        "height": "480",
        "file_size": "20000 + g",
        "storage_key": "'bench/' || g::text || '.jpg'",
        # distinct, increasing times: the listing order is (created_at, id)
        "created_at": "timestamptz '2025-01-01' + g * interval '1 second'",
        "last_edited_at": "timestamptz '2025-01-01' + g * interval '1 second'",
    }
    cols, exprs, params = [], [], []
    for field in m.StorageItem._meta.concrete_fields:
        if field.primary_key:
            continue
        cols.append(f'"{field.column}"')
        if field.column in special:
            exprs.append(special[field.column])
            if special[field.column] == "%s":
                params.append(folder_id)
            continue
        default = field.get_default() if field.has_default() else None
        if default is None:
            if not field.null:
                default = "" if field.get_internal_type() in ("CharField", "TextField") else None
            if default is None:
                exprs.append("NULL")
                continue
        if field.get_internal_type() == "JSONField":
            exprs.append("%s::jsonb")
            params.append(json.dumps(default))
        else:
            exprs.append("%s")
            params.append(default)
    sql = (
        f"INSERT INTO datasets_app_storageitem ({', '.join(cols)}) "
        f"SELECT {', '.join(exprs)} FROM generate_series(%s, %s) AS g"
    )
    return sql, params + [start, stop - 1]


def start_server(tmp: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": DB_URL,
        "DATA_DIR": str(tmp),
        "DEBUG": "0",
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "PORT": str(PORT),
        "WEB_CONCURRENCY": "1",
        "API_RATE_LIMIT_PER_MINUTE": "1000000",
        "CELERY_BROKER_URL": os.environ.get("BENCH_BROKER", "redis://127.0.0.1:6379/6"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "dashboard.asgi:application"],
        cwd=ROOT, env=env, stdout=(tmp / "web.log").open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    import requests

    for _ in range(300):
        try:
            if requests.get(f"http://127.0.0.1:{PORT}/livez", timeout=2).status_code == 200:
                return proc
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit(f"server did not start; see {tmp / 'web.log'}")


def worker_pids(master: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
    except OSError:
        return []


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def median_ms(fn, repeat: int = REPEAT) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1000


def main() -> None:
    hashes = seed()
    from django.db import connection
    from django.test import Client

    from datasets_app import models as m
    from datasets_app.sdk import UserClient

    user = m.User.objects.get(email="scale@example.com")
    web_client = Client()
    web_client.force_login(user)
    cookie = web_client.cookies["sessionid"].value
    connection.close()

    import requests
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
    from encord.user_client import EncordUserClient

    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    server = start_server(tmp)
    base = f"http://127.0.0.1:{PORT}"
    results: dict[int, dict[str, float]] = {}
    try:
        session = requests.Session()
        session.cookies.set("sessionid", cookie)
        pem = _key().private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()).decode()
        sdk = EncordUserClient.create_with_ssh_private_key(pem, domain=base)
        sdk_user = UserClient.for_user(user)
        for n in SIZES:
            h = hashes[n]
            r: dict[str, float] = {}
            page = f"{base}/datasets/{h}"

            def get(url):
                # no redirects: a lost session would otherwise time the sign-in page
                response = session.get(url, timeout=600, allow_redirects=False)
                assert response.status_code == 200 and "frame-" in response.text, (url, response.status_code)
                return response

            r["page 1 (dashboard)"] = median_ms(lambda: get(page))
            # the dashboard pages by keyset cursor: the "Next" link of the page before the last one
            from urllib.parse import quote

            from datasets_app.sdk.dataset import _encode_cursor

            tail = m.DataRow.objects.filter(dataset__dataset_hash=h).order_by("-created_at", "-id")[150]
            deep = f"{page}?after={quote(_encode_cursor(tail))}"
            r["last pages (dashboard, deep, keyset)"] = median_ms(lambda: get(deep), repeat=3)
            r["title search (dashboard)"] = median_ms(lambda: get(f"{page}?q=frame-{n // 2:07d}"), repeat=3)
            ds = sdk.get_dataset(h, include_data_rows=False)
            middle = f"frame-{n // 2:07d}.jpg"
            r["SDK list_data_rows(title_eq)"] = median_ms(lambda: ds.list_data_rows(title_eq=middle))
            r["SDK list_data_rows(title_like prefix)"] = median_ms(
                lambda: ds.list_data_rows(title_like=f"frame-{n // 2 // 10:06d}%")
            )
            # every row, through the real SDK where the client can hold them; at 1M the same server
            # response is streamed and discarded by a signed raw request (the SDK would need GBs)
            if n <= int(os.environ.get("BENCH_SDK_MAX_ROWS", 100_000)):
                t = time.perf_counter()
                count = len(ds.list_data_rows())
                took = time.perf_counter() - t
            else:
                count, took = _stream_all_rows(base, h, pem)
            assert count == n, (count, n)
            r["SDK data_rows: ms per 1,000 rows"] = took * 1000 / (n / 1000)
            r["SDK data_rows: total s"] = took
            # keyset pages (in-process SDK layer, PostgreSQL)
            sds = sdk_user.get_dataset(h)
            _, cursor_start = sds.data_rows_page(limit=100)
            mid_row = m.DataRow.objects.filter(dataset__dataset_hash=h, item__name=middle).first()
            end_row = m.DataRow.objects.filter(dataset__dataset_hash=h).order_by("-created_at", "-id")[150]
            from datasets_app.sdk.dataset import _encode_cursor

            r["keyset page of 100 (start)"] = median_ms(lambda: sds.data_rows_page(limit=100))
            r["keyset page of 100 (middle)"] = median_ms(lambda: sds.data_rows_page(after=_encode_cursor(mid_row)))
            r["keyset page of 100 (end)"] = median_ms(lambda: sds.data_rows_page(after=_encode_cursor(end_row)))
            connection.close()
            results[n] = r
            rss = max(peak_rss_mb(p) for p in worker_pids(server.pid))
            print(f"\n{n:,} rows (server peak RSS so far {rss:.0f} MB)", flush=True)
            for k, v in r.items():
                print(f"  {k:<40} {v:10.1f}{'' if k.endswith('total s') else ' ms' if 'per 1,000' not in k else ''}")
        rss = max(peak_rss_mb(p) for p in worker_pids(server.pid))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    lo, hi = SIZES[0], SIZES[-1]
    print(f"\nratio {hi:,} / {lo:,} rows (flat = 1x):")
    for k in results[lo]:
        if k.endswith("total s"):
            continue
        a, b = results[lo][k], results[hi].get(k)
        if b is None:
            continue
        print(f"  {k:<40} {a:8.1f} -> {b:8.1f}   {b / a:6.2f}x")
    print(f"server (gunicorn worker) peak RSS: {rss:.0f} MB (target < 300 MB)")
    print(f"keyset page of 100 at {hi:,} rows: {max(results[hi][k] for k in results[hi] if k.startswith('keyset')):.1f} ms "
          f"(target < 50 ms; Label Studio on this machine: 86 ms at 10k, 103 ms at 100k)")


def _stream_all_rows(base: str, dataset_hash: str, pem: str) -> tuple[int, float]:
    """POST /public datarows GET exactly as encord 0.1.211 signs it; counts rows in the streamed
    JSON without holding it (ijson-free: counts "data_hash" keys across chunk borders)."""
    import requests

    key = _key()
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    body = json.dumps(
        {"query_type": "datarows", "query_method": "GET",
         "values": {"uid": None, "payload": {"title_eq": None, "title_like": None, "created_before": None,
                                             "created_after": None, "data_types": None, "data_hashes": None}}}
    ).encode()
    pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"{pub}:{key.sign(hashlib.sha256(body).digest()).hex()}",
        "ResourceID": dataset_hash,
        "ResourceType": "dataset",
    }
    needle = b'"data_hash"'
    count, tail = 0, b""
    t = time.perf_counter()
    with requests.post(f"{base}/public", data=body, headers=headers, stream=True, timeout=3600) as response:
        assert response.status_code == 200, response.text[:500]
        for chunk in response.iter_content(1 << 20):
            buf = tail + chunk
            count += buf.count(needle)
            tail = buf[-(len(needle) - 1):]
            # a needle split across the border is counted once: drop it from the next buffer's head
            if needle in tail:
                tail = b""
    return count, time.perf_counter() - t


if __name__ == "__main__":
    main()
