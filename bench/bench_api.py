#!/usr/bin/env python3
"""The HTTP API's cost, printed (not asserted):

1. Signed v1 `dataset`/`GET` round trips per second through the real encord SDK (0.1.211,
   `user_client.get_dataset`), next to the same server answering an unsigned view that runs the same
   handler and returns the same JSON (bench/bench_api_site_urls.py); target >= 0.7x.
2. `get_dataset` + `data_rows` of a 100,000-row dataset: seconds, and the server worker's peak RSS
   (VmHWM); the response is streamed, target < 250 MB.

The server is gunicorn (1 process, 1 thread) on PostgreSQL, started here on 127.0.0.1:BENCH_PORT.

    .venv/bin/python bench/bench_api.py
    BENCH_DB=postgres://postgres@127.0.0.1:5432/dd_api BENCH_PORT=18010 BENCH_ROUND_TRIPS=300 BENCH_BIG_ROWS=100000
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import bulk_rows, ensure_postgres_database, setup_django

DB_URL = os.environ.get("BENCH_DB", "postgres://postgres@127.0.0.1:5432/dd_api")
PORT = int(os.environ.get("BENCH_PORT", "18010"))
ROUND_TRIPS = int(os.environ.get("BENCH_ROUND_TRIPS", "300"))
SMALL_ROWS = int(os.environ.get("BENCH_SMALL_ROWS", "10"))
BIG_ROWS = int(os.environ.get("BENCH_BIG_ROWS", "100000"))
EMAIL = "bench-api@example.com"
URL = f"http://127.0.0.1:{PORT}"


def private_key():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"bench-api-key").digest())


def prepare() -> tuple[str, str]:
    """(small dataset hash, big dataset hash), made fresh for this run."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from datasets_app import models as m
    from datasets_app.sdk import UserClient, accounts

    user = m.User.objects.filter(email=EMAIL).first() or accounts.create_user(EMAIL)
    if not user.public_keys.exists():
        line = private_key().public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
        accounts.add_public_key(user, line + " bench")
    m.Dataset.objects.filter(created_by=user).delete()
    client = UserClient(user)
    hashes = []
    for title, count in (("bench small", SMALL_ROWS), ("bench 100k", BIG_ROWS)):
        ds = m.Dataset.objects.get(dataset_hash=client.create_dataset(title).dataset_hash)
        bulk_rows(
            ds,
            (
                dict(
                    name=f"video-{i:06d}.mp4",
                    item_type="VIDEO",
                    mime_type="video/mp4",
                    storage_key=f"datasets/{ds.dataset_hash}/{i}.mp4",
                    width=1280,
                    height=720,
                    fps=25.0,
                    duration=12.0,
                    frame_count=300,
                    file_size=123_456,
                    client_metadata={"camera": i % 7},
                )
                for i in range(count)
            ),
            batch=5000,
        )
        hashes.append(str(ds.dataset_hash))
    return hashes[0], hashes[1]


def start_server(data_dir: str) -> subprocess.Popen:
    env = dict(
        os.environ,
        DATABASE_URL=DB_URL,
        DATA_DIR=data_dir,
        DEBUG="0",
        SECRET_KEY="bench-" + "x" * 40,
        DJANGO_SETTINGS_MODULE="bench.bench_api_site",
        BENCH_API_USER=EMAIL,
        API_RATE_LIMIT_PER_MINUTE="100000000",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    env.pop("PYTEST_VERSION", None)
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "--workers",
            "1",
            "--threads",
            "1",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--timeout",
            "600",
            "dashboard.wsgi",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    import requests

    for _ in range(300):
        try:
            requests.get(URL + "/healthz", timeout=10)
            return proc
        except requests.RequestException:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("gunicorn did not start: " + proc.stderr.read().decode()[-2000:])


def worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(children[0])


def memory_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MB, from /proc."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def interleaved(fns: dict, n: int, rounds: int = 10) -> dict[str, float]:
    """Median seconds per call of each fn, run in alternating rounds so that load from other
    processes on this shared machine falls on all of them alike."""
    for fn in fns.values():
        for _ in range(5):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            for _ in range(max(1, n // rounds)):
                t = time.perf_counter()
                fn()
                samples[name].append(time.perf_counter() - t)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    import logging

    ensure_postgres_database(DB_URL)
    setup_django(DB_URL)
    logging.getLogger("encord").setLevel(logging.WARNING)  # it logs every request at INFO
    import requests
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )
    from encord.user_client import EncordUserClient

    t = time.perf_counter()
    small, big = prepare()
    print(
        f"setup: datasets of {SMALL_ROWS} and {BIG_ROWS} rows in {time.perf_counter() - t:.1f} s (PostgreSQL {DB_URL.rsplit('/', 1)[1]})"
    )
    data_dir = tempfile.mkdtemp(prefix="bench-api-")
    server = start_server(data_dir)
    try:
        worker = worker_pid(server.pid)
        pem = private_key().private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()).decode()
        client = EncordUserClient.create_with_ssh_private_key(pem, domain=URL)
        body = json.dumps(
            {
                "query_type": "dataset",
                "query_method": "GET",
                "values": {
                    "uid": None,
                    "payload": {
                        "dataset_access_settings": {"fetch_client_metadata": False, "fetch_rows": True}
                    },
                },
            }
        ).encode()
        session = requests.Session()
        key = private_key()
        headers = {"Content-Type": "application/json", "ResourceID": small, "ResourceType": "dataset"}
        pub = private_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()

        def signed_sdk():
            assert len(client.get_dataset(small).data_rows) == SMALL_ROWS

        def unsigned_raw():
            r = session.post(URL + "/bench/unsigned", data=body, headers=headers)
            assert len(r.json()["response"]["data_rows"]) == SMALL_ROWS

        def signed_raw():
            sig = key.sign(hashlib.sha256(body).digest()).hex()
            r = session.post(URL + "/public", data=body, headers={**headers, "Authorization": f"{pub}:{sig}"})
            assert len(r.json()["response"]["data_rows"]) == SMALL_ROWS

        # The same JSON either way (the baseline is a fair one).
        same = session.post(URL + "/bench/unsigned", data=body, headers=headers).json()
        sig = private_key().sign(hashlib.sha256(body).digest()).hex()
        assert (
            same
            == session.post(
                URL + "/public", data=body, headers={**headers, "Authorization": f"{pub}:{sig}"}
            ).json()
        )

        med = interleaved(
            {"unsigned": unsigned_raw, "signed_raw": signed_raw, "sdk": signed_sdk}, ROUND_TRIPS
        )
        base = med["unsigned"]
        print(
            f"\nv1 dataset/GET, {SMALL_ROWS} rows, {ROUND_TRIPS} round trips each (interleaved), 1 gunicorn process:"
        )
        print(
            f"  unsigned view (requests)          {1 / base:7.1f} /s   median {base * 1000:6.2f} ms   (baseline)"
        )
        for label, key in (
            ("signed POST /public (requests)", "signed_raw"),
            ("signed, real SDK get_dataset", "sdk"),
        ):
            print(
                f"  {label:<33} {1 / med[key]:7.1f} /s   median {med[key] * 1000:6.2f} ms   "
                f"ratio {base / med[key]:4.2f}x  (target >= 0.7x)"
            )

        rss_before, peak_before = memory_mb(worker)
        t = time.perf_counter()
        r = session.post(
            URL + "/public",
            data=body,
            stream=True,
            headers={**headers, "ResourceID": big, "Authorization": f"{pub}:{sig}"},
        )
        size = sum(len(c) for c in r.iter_content(1 << 16))
        raw_seconds = time.perf_counter() - t
        _, peak_mid = memory_mb(worker)
        t = time.perf_counter()
        ds = client.get_dataset(big)
        n = len(ds.data_rows)
        sdk_seconds = time.perf_counter() - t
        _, peak_after = memory_mb(worker)
        assert n == BIG_ROWS
        print(f"\nget_dataset + data_rows, {BIG_ROWS:,} rows ({size / 1e6:.1f} MB of JSON, streamed):")
        print(f"  raw download (requests)           {raw_seconds:6.2f} s")
        print(f"  real SDK get_dataset().data_rows  {sdk_seconds:6.2f} s  (client parsing included)")
        print(
            f"  server worker RSS: {rss_before:.0f} MB before, peak {max(peak_mid, peak_after):.0f} MB "
            f"(peak before the big requests {peak_before:.0f} MB; target < 250 MB)"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
        from datasets_app import models as m

        m.Dataset.objects.filter(created_by__email=EMAIL).delete()


if __name__ == "__main__":
    main()
