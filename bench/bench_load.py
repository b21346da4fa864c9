#!/usr/bin/env python3
"""50 concurrent clients for 60 s through the real encord SDK (0.1.211) against the production
topology on this machine: gunicorn (deploy/gunicorn.conf.py), a `default` and a `media` Celery
worker, PostgreSQL, Redis. The mix: dataset listing, data-row reads, job polls, small image uploads
(signed URL + PUT + data job + long poll until the worker made the row). Printed next to the same
server answering a trivial view (/livez) under the same 50 clients in the same run; not asserted.

    .venv/bin/python bench/bench_load.py
    BENCH_CLIENTS=50 BENCH_SECONDS=60 BENCH_DB=postgres://... BENCH_BROKER=redis://... BENCH_PORT=18520

Clients run in BENCH_PROCS processes (threads inside) on the same 2 cores as the server, so the
client's own CPU (Ed25519 signing, JSON) is part of what is measured.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import bulk_rows, peak_rss_mb_each, process_tree

os.environ.setdefault("TQDM_DISABLE", "1")  # the SDK draws progress bars for uploads
CLIENTS = int(os.environ.get("BENCH_CLIENTS", 50))
SECONDS = float(os.environ.get("BENCH_SECONDS", 60))
BASELINE_SECONDS = float(os.environ.get("BENCH_BASELINE_SECONDS", 20))
PROCS = int(os.environ.get("BENCH_PROCS", 5))
DB_URL = os.environ.get("BENCH_DB", "postgres://postgres@127.0.0.1:5432/dd_prod_bench")
BROKER = os.environ.get("BENCH_BROKER", "redis://127.0.0.1:6379/6")
PORT = int(os.environ.get("BENCH_PORT", 18520))
WEB_WORKERS = os.environ.get("BENCH_WEB_WORKERS", "2")
# asgi: deploy/gunicorn.conf.py as production runs it (uvicorn workers, Django on WEB_THREADS threads
# a process); wsgi: the same gunicorn with gthread workers, the web tier before, for comparison.
SERVER = os.environ.get("BENCH_SERVER", "asgi")
WEB_THREADS = os.environ.get("BENCH_WEB_THREADS", "8")
ROWS = 200
# op -> weight in the mix
MIX = {"list_datasets": 30, "list_data_rows": 30, "job_poll": 25, "upload_image": 15}


def _key_seed(i: int) -> bytes:
    return hashlib.sha256(f"bench-load-key-{i}".encode()).digest()


def _private_openssh() -> str:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    key = Ed25519PrivateKey.from_private_bytes(_key_seed(0))
    return key.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()).decode()


def seed(media_root: Path) -> dict:
    """A user with a registered key, a dataset of ROWS rows, 20 more datasets. Idempotent."""
    from bench.common import ensure_postgres_database, setup_django

    ensure_postgres_database(DB_URL)
    os.environ["DATABASE_URL"] = DB_URL
    os.environ["MEDIA_ROOT"] = str(media_root)
    setup_django()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from datasets_app import models as m
    from datasets_app.sdk import accounts

    user, _ = m.User.objects.get_or_create(email="load@example.com", defaults={"username": "load@example.com"})
    if not user.public_keys.exists():
        pub = Ed25519PrivateKey.from_private_bytes(_key_seed(0)).public_key()
        accounts.add_public_key(user, pub.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode() + " bench")
    ds = m.Dataset.objects.filter(title="load main").first()
    if ds is None:
        folder = m.StorageFolder.objects.create(name="load main", owner=user)
        ds = m.Dataset.objects.create(title="load main", description="bench", created_by=user, backing_folder=folder)
        m.DatasetMembership.objects.create(dataset=ds, user=user, role=m.DatasetUserRole.ADMIN)
        bulk_rows(
            ds,
            (dict(name=f"frame-{i:05d}.jpg", item_type="IMAGE", storage_key=f"bench/{i}.jpg",
                  width=64, height=48, mime_type="image/jpeg") for i in range(ROWS)),
        )
        for i in range(20):
            other = m.Dataset.objects.create(title=f"load other {i}", created_by=user)
            m.DatasetMembership.objects.create(dataset=other, user=user, role=m.DatasetUserRole.USER)
    # uploads from earlier runs would make listing slower each run: keep the dataset at ROWS rows
    uploaded = m.DataRow.objects.filter(dataset=ds, item__name__startswith="up-")
    items = list(uploaded.values_list("item_id", flat=True))
    uploaded.delete()
    m.StorageItem.objects.filter(pk__in=items).delete()
    return {"dataset_hash": str(ds.dataset_hash)}


def start_topology(tmp: Path, media_root: Path) -> dict[str, subprocess.Popen]:
    env = {
        **os.environ,
        "DATABASE_URL": DB_URL,
        "CELERY_BROKER_URL": BROKER,
        "MEDIA_ROOT": str(media_root),
        "DATA_DIR": str(tmp / "data"),
        "DEBUG": "0",
        "SECRET_KEY": "bench-load-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "WARNING",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "prom"),
        "PORT": str(PORT),
        "WEB_CONCURRENCY": WEB_WORKERS,
        "WEB_THREADS": WEB_THREADS,
        "API_RATE_LIMIT_PER_MINUTE": "1000000",
    }
    (tmp / "prom").mkdir(parents=True, exist_ok=True)
    py = sys.executable
    celery = [py, "-m", "celery", "-A", "dashboard", "worker", "--loglevel", "WARNING", "--concurrency", "1",
              "--without-gossip", "--without-mingle"]
    argvs = {
        "web": [py, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "dashboard.asgi:application"]
        if SERVER == "asgi"
        else [py, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "-k", "gthread", "--threads", WEB_THREADS,
              "dashboard.wsgi:application"],
        "worker-default": celery + ["-Q", "default", "-n", "bench-default@%h"],
        "worker-media": celery + ["-Q", "media", "-n", "bench-media@%h"],
    }
    procs = {}
    for name, argv in argvs.items():
        procs[name] = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=(tmp / f"{name}.log").open("wb"),
                                       stderr=subprocess.STDOUT, start_new_session=True)
    import requests

    for _ in range(300):
        try:
            if requests.get(f"http://127.0.0.1:{PORT}/healthz", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            pass
        time.sleep(0.2)
    else:
        raise SystemExit("web tier did not start; see " + str(tmp / "web.log"))
    return procs


def stop_topology(procs: dict[str, subprocess.Popen]) -> None:
    for p in procs.values():
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for p in procs.values():
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


def peak_rss_mb(pid: int) -> float:
    """Sum of VmHWM (peak RSS) of a process and its children, in MB."""
    return sum(peak_rss_mb_each(process_tree(pid)))


# ---- clients ------------------------------------------------------------------------------------


def _client_thread(kind: str, base: str, ctx: dict, start_at: float, stop_at: float, out: list, tmp: str, n: int):
    import requests

    rng = random.Random(n)
    if kind == "trivial":
        session = requests.Session()
        while time.time() < start_at:
            time.sleep(0.01)
        while time.time() < stop_at:
            t = time.perf_counter()
            try:
                status = session.get(f"{base}/livez", timeout=30).status_code
                out.append(("livez", time.perf_counter() - t, None if status == 200 else f"HTTP {status}"))
            except Exception as exc:  # noqa: BLE001 - every failure is counted as an error
                out.append(("livez", time.perf_counter() - t, repr(exc)[:200]))
        return
    from encord.user_client import EncordUserClient
    from PIL import Image

    client = EncordUserClient.create_with_ssh_private_key(_private_openssh(), domain=base)
    dataset = client.get_dataset(ctx["dataset_hash"])
    image = Path(tmp) / f"img-{n}.png"
    Image.new("RGB", (64, 48), (n % 255, 80, 160)).save(image)
    ops, weights = zip(*MIX.items())
    while time.time() < start_at:
        time.sleep(0.01)
    i = 0
    while time.time() < stop_at:
        op = rng.choices(ops, weights)[0]
        t = time.perf_counter()
        err = None
        try:
            if op == "list_datasets":
                client.get_datasets(title_like="load%")
            elif op == "list_data_rows":
                dataset.list_data_rows(title_like=f"frame-000{rng.randint(0, 9)}%")
            elif op == "job_poll":
                dataset.add_private_data_to_dataset_get_result(rng.choice(ctx["jobs"]), timeout_seconds=0)
            else:
                i += 1
                # the SDK's own path: signed URL, PUT, data job, long poll until the worker made the row
                dataset.upload_image(image, title=f"up-{n}-{i}.png")
        except Exception as exc:  # noqa: BLE001
            err = f"{type(exc).__name__}: {exc}"[:200]
        out.append((op, time.perf_counter() - t, err))


def _time_http_requests(out: list) -> None:
    """Records every HTTP request the SDK makes (method + first path segment, seconds, error) in
    `out`, so request latency is measured on the client side, not only per SDK operation."""
    import logging

    import requests

    logging.getLogger("encord").setLevel(logging.WARNING)
    original = requests.Session.send

    def send(self, request, **kwargs):
        path = request.path_url.split("?")[0]
        label = f"{request.method} " + ("/upload" if path.startswith("/upload/") else path)
        if path.startswith("/public") and request.body:
            try:
                body = json.loads(request.body)
                label += f" {body.get('query_type')} {body.get('query_method')}"
                # the upload's wait for its job: held open by the server on purpose (long poll)
                if body.get("query_type") == "datasetdatalongpolling" and (body.get("values") or {}).get(
                    "payload", {}
                ).get("timeout_seconds"):
                    label = "LONG-POLL " + label
            except (ValueError, AttributeError):
                pass
        t = time.perf_counter()
        try:
            response = original(self, request, **kwargs)
        except Exception as exc:
            out.append((label, time.perf_counter() - t, repr(exc)[:200], time.time()))
            raise
        took = time.perf_counter() - t
        out.append((label, took, None if response.status_code < 500 else f"HTTP {response.status_code}", time.time()))
        return response

    requests.Session.send = send


def _client_process(kind, base, ctx, start_at, stop_at, tmp, first, count, queue):
    out: list = []
    http: list = []
    _time_http_requests(http)
    threads = [
        threading.Thread(target=_client_thread, args=(kind, base, ctx, start_at, stop_at, out, tmp, first + k))
        for k in range(count)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # only requests inside the measured window count (sign-in happens before it)
    queue.put((out, [h[:3] for h in http if start_at <= h[3] - h[1] < stop_at]))


def _server_requests(base: str) -> float:
    import requests
    from prometheus_client.parser import text_string_to_metric_families

    text = requests.get(f"{base}/metrics", timeout=30).text
    return sum(
        s.value for f in text_string_to_metric_families(text) for s in f.samples
        if s.name == "dd_http_request_duration_seconds_count" and s.labels.get("route") != "metrics"
    )


def run_phase(kind: str, base: str, ctx: dict, seconds: float, tmp: Path) -> tuple[list, float, float]:
    """Runs CLIENTS clients for `seconds`; returns (samples, window seconds, server requests)."""
    ctxq = mp.get_context("fork")
    queue = ctxq.Queue()
    start_at = time.time() + (3 if kind == "trivial" else 10)  # time for clients to sign in
    stop_at = start_at + seconds
    per = [CLIENTS // PROCS + (1 if k < CLIENTS % PROCS else 0) for k in range(PROCS)]
    procs, first = [], 0
    for count in per:
        p = ctxq.Process(target=_client_process, args=(kind, base, ctx, start_at, stop_at, str(tmp), first, count, queue))
        p.start()
        procs.append(p)
        first += count
    while time.time() < start_at:
        time.sleep(0.05)
    before = _server_requests(base)
    samples, http = [], []
    for _ in procs:
        ops, reqs = queue.get()
        samples.extend(ops)
        http.extend(reqs)
    after = _server_requests(base)
    for p in procs:
        p.join()
    return samples, http, seconds, after - before - 1  # minus the first /metrics scrape


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def summarise(title: str, samples: list, http: list, seconds: float, server_requests: float) -> dict:
    print(f"\n{title}: {len(samples)} operations in {seconds:.0f} s, server answered {server_requests:.0f} HTTP requests "
          f"({server_requests / seconds:.1f}/s)")
    rows = _table("operation", samples, seconds)
    if http:
        rows["http"] = _table("HTTP request", http, seconds)
    return rows


def _table(what: str, samples: list, seconds: float) -> dict:
    print(f"  {what:<44}{'count':>8}{'per s':>9}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    by_op: dict[str, list] = {}
    for op, took, err in samples:
        by_op.setdefault(op, []).append((took, err))
    rows = {}
    for op in sorted(by_op, key=lambda o: -len(by_op[o])) + ["ALL"]:
        items = [(t, e) for o, t, e in samples] if op == "ALL" else by_op[op]
        ok = [t for t, e in items if e is None]
        errors = [e for t, e in items if e is not None]
        rows[op] = {"count": len(items), "rps": len(items) / seconds, "p50": _pct(ok, 0.5), "p99": _pct(ok, 0.99),
                    "errors": len(errors)}
        r = rows[op]
        print(f"  {op[:44]:<44}{r['count']:>8}{r['rps']:>9.1f}{r['p50'] * 1000:>10.1f}{r['p99'] * 1000:>10.1f}{r['errors']:>8}")
        if errors and op != "ALL":
            print(f"    first error: {errors[0]}")
    return rows


def seed_jobs(ctx: dict, media_root: Path) -> None:
    """A few finished upload jobs to poll (made through the in-process SDK, run by the workers)."""
    from PIL import Image

    from datasets_app import models as m
    from datasets_app.sdk import UserClient

    user = m.User.objects.get(email="load@example.com")
    ds = UserClient.for_user(user).get_dataset(ctx["dataset_hash"])
    ctx["jobs"] = []
    for k in range(10):
        path = media_root.parent / f"seed-{k}.png"
        Image.new("RGB", (32, 32), (k * 20, 0, 0)).save(path)
        ctx["jobs"].append(ds.upload_image_start(path, title=f"up-seed-{k}.png"))


def wait_jobs_done(ctx: dict) -> None:
    from datasets_app import models as m

    for _ in range(600):
        if not m.DataJob.objects.filter(process_hash__in=ctx["jobs"], status="PENDING").exists():
            return
        time.sleep(0.2)
    raise SystemExit("seed upload jobs did not finish: is the default worker running?")


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    media_root = tmp / "media"
    os.environ["CELERY_BROKER_URL"] = BROKER
    ctx = seed(media_root)
    seed_jobs(ctx, media_root)
    from django.db import connections

    connections.close_all()
    procs = start_topology(tmp, media_root)
    base = f"http://127.0.0.1:{PORT}"
    try:
        wait_jobs_done(ctx)
        connections.close_all()
        server = f"{'uvicorn (ASGI)' if SERVER == 'asgi' else 'gthread (WSGI)'} x {WEB_THREADS} threads"
        print(f"topology: gunicorn {WEB_WORKERS} processes, {server}, a default and a media "
              f"worker, PostgreSQL, Redis; {CLIENTS} clients in {PROCS} processes on the same machine", flush=True)
        trivial = summarise("trivial view GET /livez", *run_phase("trivial", base, ctx, BASELINE_SECONDS, tmp))
        phase = run_phase("mix", base, ctx, SECONDS, tmp)
        mixed_http = phase[1]
        mixed = summarise("SDK mix (encord 0.1.211)", *phase)
        web_rss = peak_rss_mb(procs["web"].pid)
        # long polls wait for the worker on purpose: they are listed, but not part of the latency figures
        http_all = [r for r in mixed_http if not r[0].startswith("LONG-POLL")]
        print("\nSDK HTTP requests without long polls:")
        mixed["http"] = _table("HTTP request", http_all, SECONDS)
        t, mx = trivial["ALL"], mixed["http"]["ALL"]
        print(f"\nSDK HTTP requests vs trivial view, same server, same 50 clients: p50 {mx['p50'] * 1000:.0f} ms vs "
              f"{t['p50'] * 1000:.0f} ms ({mx['p50'] / t['p50']:.1f}x), p99 {mx['p99'] * 1000:.0f} ms vs "
              f"{t['p99'] * 1000:.0f} ms ({mx['p99'] / t['p99']:.1f}x), {mx['rps']:.0f}/s vs {t['rps']:.0f}/s "
              f"({mx['rps'] / t['rps']:.2f}x); errors {mixed['ALL']['errors'] + mx['errors']} (target 0); "
              f"HTTP p99 {'under' if mx['p99'] < 1 else 'OVER'} 1 s; web tier peak RSS {web_rss:.0f} MB")
        (tmp / "result.json").write_text(json.dumps({"trivial": trivial, "mix": mixed}, indent=1))
    finally:
        stop_topology(procs)
        shutil.rmtree(tmp / "media", ignore_errors=True)


if __name__ == "__main__":
    main()
