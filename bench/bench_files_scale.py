#!/usr/bin/env python3
"""A Files folder of 10,000, 100,000 and 1,000,000 items with metadata, served by gunicorn (one
process): median per-request times of

- the wire's `list_items` (GET storage/folders/<f>/items, page of 100 by name) through the real
  encord SDK: the first page (`folder.list_items()`), and a deep page (the SDK's own signed client
  with the page token of the item at 90 %);
- the dashboard's folder view over HTTP with a signed-in session: the first page, a deep keyset page
  (`?after=` at 90 %), and a metadata filter matching 1 % (`?meta=rare:eq:yes`, JSONB containment on
  the GIN index; `?meta=speed:between:0,9`, a numeric range) first and deep page;

and, in the same run, the baselines: a bare SELECT of 100 items by primary-key range (in this
process) and the HTTP floor (GET /livez on the same server). Prints a table per size, the
largest/smallest ratios (target: flat) and, per view at the largest size, its queries in-process
(count, slowest; BENCH_EXPLAIN=1 prints the slowest one's EXPLAIN ANALYZE).

    .venv/bin/python bench/bench_files_scale.py     # BENCH_DB, BENCH_PORT, BENCH_SIZES, BENCH_REPEAT
    BENCH_DB=sqlite .venv/bin/python bench/bench_files_scale.py      # SQLite, 10k and 100k

Items are inserted once (bench_metadata_search's INSERT ... SELECT, not timed) and kept.
"""

from __future__ import annotations

import hashlib
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("BENCH_DB", "postgres://postgres@127.0.0.1:5432/datasets_filesbench")

DB = os.environ["BENCH_DB"]
IS_SQLITE = DB == "sqlite"
DB_URL = f"sqlite:///{tempfile.gettempdir()}/bench_files.sqlite3" if IS_SQLITE else DB
PORT = int(os.environ.get("BENCH_PORT", 18541))
SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "10000,100000" if IS_SQLITE else "10000,100000,1000000").split(",")]
REPEAT = int(os.environ.get("BENCH_REPEAT", 7))
# The same key in this process (which makes the session cookie) and the server (which checks it).
SECRET_KEY = "bench-files-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
os.environ["SECRET_KEY"] = SECRET_KEY
EQ, RANGE = "rare:eq:yes", "speed:between:0,9"


def signing_key():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"bench-files-key").digest())


def seed() -> tuple[object, dict[int, object]]:
    """The bench user (with the signing key) and one folder per size it owns."""
    from bench.common import ensure_postgres_database, setup_django

    if not IS_SQLITE:
        ensure_postgres_database(DB_URL)
    os.environ["DATABASE_URL"] = DB_URL
    setup_django()
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from bench.bench_metadata_search import SCHEMA, seed_folder
    from datasets_app import models as m
    from datasets_app.sdk import accounts

    user, _ = m.User.objects.get_or_create(username="files-bench", defaults={"email": "files-bench@example.com"})
    if not user.public_keys.exists():
        pub = signing_key().public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
        accounts.add_public_key(user, pub + " bench")
    m.MetadataSchema.objects.update_or_create(pk=1, defaults={"document": SCHEMA})
    folders = {}
    for n in SIZES:
        folder, took = seed_folder(user, n)
        if took:
            print(f"seeded {n:,} items in {took:.1f} s (not timed below)", flush=True)
        folders[n] = folder
    return user, folders


def median_ms(fn, repeat: int = REPEAT) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1000


def at_90(qs, order: tuple[str, ...]):
    """The item 90 % of the way through `qs` in `order` (where a deep page starts; earlier in a
    small set, so that a full page follows it)."""
    count = qs.count()
    return qs.order_by(*order)[min(int(count * 0.9), max(count - 101, 0))]


def dashboard_urls(folder) -> dict[str, str]:
    """The folder view's URLs per figure: first pages, and keyset pages starting at 90 %."""
    from urllib.parse import urlencode

    from datasets_app import models as m
    from datasets_app.sdk.metadata_search import apply_conditions, encode_token, parse_conditions, stored_document

    def deep(condition: str | None) -> str:
        qs = m.StorageItem.objects.filter(folder=folder)
        if condition:
            qs = apply_conditions(qs, parse_conditions([condition], stored_document()))
        item = at_90(qs, ("created_at", "item_uuid"))
        query = {"after": encode_token(item.created_at, item.item_uuid)}
        return urlencode({**({"meta": condition} if condition else {}), **query})

    page = f"/files/{folder.folder_uuid}"
    return {
        "dashboard folder: first page": page,
        "dashboard folder: deep page (90%)": f"{page}?{deep(None)}",
        "dashboard filter eq 1%: first page": f"{page}?{urlencode({'meta': EQ})}",
        "dashboard filter eq 1%: deep page": f"{page}?{deep(EQ)}",
        "dashboard filter range 1%: first page": f"{page}?{urlencode({'meta': RANGE})}",
    }


def bench_size(n: int, folder, base: str, session, sdk) -> dict[str, float]:
    from django.db import connection
    from encord.orm.storage import FoldersSortBy, ListItemsParams, StorageItem
    from encord.http.v2.payloads import Page

    from datasets_app.sdk.storage_items import encode_token

    r: dict[str, float] = {}
    sdk_folder = sdk.get_storage_folder(folder.folder_uuid)

    def wire_first():
        # the SDK's iterator fetches page 1 (100 items, parsed) on the first next()
        first = next(iter(sdk_folder.list_items(page_size=100)))
        assert first.name == "img-0000001.jpg", first.name

    deep_item = at_90(folder.items.all(), ("name", "id"))
    params = ListItemsParams(
        search=None, is_in_dataset=None, item_types=[], order=FoldersSortBy.NAME, desc=False, page_token=encode_token(deep_item.name, deep_item.pk), page_size=100,
        sign_urls=False, include_client_metadata=True,
    )

    def wire_deep():
        page = sdk_folder._api_client.get(f"storage/folders/{folder.folder_uuid}/items", params=params,
                                          result_type=Page[StorageItem])
        assert len(page.results) == 100 and page.results[0].name > deep_item.name, page.results[:1]

    r["wire list_items: first page (SDK)"] = median_ms(wire_first)
    r["wire list_items: deep page (90%)"] = median_ms(wire_deep)

    def get(path: str, marker: str = "img-"):
        # no redirects: a lost session would otherwise time the sign-in page
        response = session.get(base + path, timeout=600, allow_redirects=False)
        assert response.status_code == 200 and marker in response.text, (path, response.status_code)

    urls = dashboard_urls(folder)
    for name, path in urls.items():
        r[name] = median_ms(lambda: get(path))

    first_id = folder.items.order_by("id").values_list("id", flat=True)[n // 2]

    def bare_select():
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM datasets_app_storageitem WHERE id >= %s AND id < %s", [first_id, first_id + 100])
            assert len(cursor.fetchall()) == 100

    r["baseline: SELECT 100 items by pk range"] = median_ms(bare_select)
    r["baseline: HTTP floor (GET /livez)"] = median_ms(lambda: get("/livez", ""))
    connection.close()
    return r


def queries_of(user, folder) -> None:
    """Each figure's call run in-process (the dashboard's views through Django's test client, the
    wire's list_items through the SDK layer): queries, and the slowest (EXPLAIN ANALYZE of it with
    BENCH_EXPLAIN=1), to name a missing index or an N+1 precisely."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from datasets_app.sdk import storage_items
    from datasets_app.sdk.policy import Principal

    client = Client()
    client.force_login(user)
    calls = {name: (lambda p=path: client.get(p)) for name, path in dashboard_urls(folder).items()}
    deep = at_90(folder.items.all(), ("name", "id"))
    for name, token in (("wire list_items: first page", None),
                        ("wire list_items: deep page (90%)", storage_items.encode_token(deep.name, deep.pk))):
        query = storage_items.ItemQuery(page_token=token)
        calls[name] = lambda q=query: storage_items.list_items(Principal(user=user), folder.folder_uuid, q)
    for name, call in calls.items():
        with CaptureQueriesContext(connection) as captured:
            call()
        slowest = max(captured.captured_queries, key=lambda q: float(q["time"]))
        print(f"  {name:<40} {len(captured):3d} queries, slowest {float(slowest['time']) * 1000:7.1f} ms: "
              f"{slowest['sql'][:160]}")
        if os.environ.get("BENCH_EXPLAIN") and not IS_SQLITE:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN ANALYZE " + slowest["sql"])
                print("\n".join("      " + row[0] for row in cursor.fetchall()))


def main() -> None:
    user, folders = seed()
    from django.db import connection
    from django.test import Client

    from bench.common import start_web_server

    web_client = Client()
    web_client.force_login(user)
    cookie = web_client.cookies["sessionid"].value
    connection.close()

    import requests
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
    from encord.user_client import EncordUserClient

    tmp = Path(tempfile.mkdtemp(prefix="bench-files-"))
    server = start_web_server(tmp, db_url=DB_URL, port=PORT, secret_key=SECRET_KEY)
    base = f"http://127.0.0.1:{PORT}"
    results: dict[int, dict[str, float]] = {}
    try:
        session = requests.Session()
        session.cookies.set("sessionid", cookie)
        pem = signing_key().private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()).decode()
        sdk = EncordUserClient.create_with_ssh_private_key(pem, domain=base)
        for n in SIZES:
            load = os.getloadavg()[0]
            results[n] = bench_size(n, folders[n], base, session, sdk)
            print(f"\n{n:,} items ({connection.vendor}, load average {load:.1f} -> {os.getloadavg()[0]:.1f}); "
                  f"median ms of {REPEAT}", flush=True)
            for k, v in results[n].items():
                print(f"  {k:<42} {v:9.1f}")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    lo, hi = SIZES[0], SIZES[-1]
    print(f"\n{'':<44}" + "".join(f"{n:>11,}" for n in SIZES) + f"   {hi // 1000:,}k/{lo // 1000:,}k")
    for k in results[lo]:
        row = [results[n][k] for n in SIZES]
        print(f"  {k:<42}" + "".join(f"{v:>11.1f}" for v in row) + f"   {row[-1] / row[0]:6.2f}x")
    worst = max(v for k, v in results[hi].items() if not k.startswith("baseline"))
    print(f"slowest figure at {hi:,} items: {worst:.1f} ms (target p50 < 100 ms at 1M on PostgreSQL): "
          f"{'OK' if worst < 100 else 'OVER TARGET'}")
    print(f"\nqueries per figure at {hi:,} items (in-process):")
    queries_of(user, folders[hi])


if __name__ == "__main__":
    main()
