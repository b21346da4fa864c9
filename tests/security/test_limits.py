"""Issue 11, item 9: resource limits.

- The web tier read every request body (up to REQUEST_MAX_BODY_BYTES) before authentication, with
  no limit on how many at once and no deadline: one client holding many slow bodies pinned the
  process. Now: at most WEB_MAX_BODY_READS at once per process (503 + Retry-After beyond), at most
  WEB_MAX_BODY_READS_PER_CLIENT from one address, and a deadline (408).
- Nothing limited the upload slots (and staged bytes) one caller holds open.
- The API rate limiter and the sign-in throttle counted in a per-process cache unless configured.

The ASGI tests drive dashboard/asgi.py's application with ASGI messages, as
tests/production/test_asgi.py does.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dashboard.asgi import application
from datasets_app.sdk.exceptions import InvalidArgumentError
from datasets_app.sdk.policy import Principal
from datasets_app.sdk.uploads import issue_upload_urls
from tests.asgi_scopes import http_scope
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]


def _scope(client_addr: str, length: int) -> dict:
    headers = {"content-type": "application/json", "content-length": str(length)}
    return http_scope("POST", "/public", headers, client_addr=client_addr)


class SlowClient:
    """Sends one byte of its body, then nothing (a slow-loris body)."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.first = True

    async def receive(self) -> dict:
        if self.first:
            self.first = False
            return {"type": "http.request", "body": b"{", "more_body": True}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(self, message: dict) -> None:
        self.sent.append(message)

    @property
    def status(self):
        return next((m["status"] for m in self.sent if m["type"] == "http.response.start"), None)

    def header(self, name: bytes):
        start = next(m for m in self.sent if m["type"] == "http.response.start")
        return dict(start["headers"]).get(name)


def _run_slow(clients_and_addrs, settle: float = 0.3):
    async def main():
        tasks = []
        for c, addr in clients_and_addrs:
            tasks.append(asyncio.ensure_future(application(_scope(addr, 1000), c.receive, c.send)))
            await asyncio.sleep(0.01)
        await asyncio.sleep(settle)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())


def test_slow_bodies_cannot_fill_the_process(settings):
    settings.WEB_MAX_BODY_READS = 3
    settings.WEB_MAX_BODY_READS_PER_CLIENT = 100
    settings.REQUEST_BODY_TIMEOUT_SECONDS = 60
    clients = [SlowClient() for _ in range(5)]
    _run_slow([(c, f"192.0.2.{i}") for i, c in enumerate(clients)])
    statuses = [c.status for c in clients]
    assert statuses[:3] == [None, None, None]  # still being read
    assert statuses[3:] == [503, 503]
    assert clients[3].header(b"retry-after") == b"5"
    assert b"too many request bodies" in clients[3].sent[1]["body"]


def test_one_client_gets_only_its_share(settings):
    settings.WEB_MAX_BODY_READS = 32
    settings.WEB_MAX_BODY_READS_PER_CLIENT = 2
    settings.REQUEST_BODY_TIMEOUT_SECONDS = 60
    mine = [SlowClient() for _ in range(3)]
    other = SlowClient()
    _run_slow([(c, "192.0.2.50") for c in mine] + [(other, "192.0.2.51")])
    assert [c.status for c in mine] == [None, None, 503]
    assert other.status is None


def test_a_body_that_does_not_arrive_in_time_is_refused(settings):
    settings.REQUEST_BODY_TIMEOUT_SECONDS = 0.3
    settings.REQUEST_BODY_MIN_RATE = 10**9
    slow = SlowClient()
    started = time.monotonic()
    _run_slow([(slow, "192.0.2.60")], settle=1.5)
    assert slow.status == 408
    assert b"did not arrive within" in slow.sent[1]["body"]
    assert time.monotonic() - started < 1.6


@pytest.mark.django_db
def test_open_upload_slots_per_caller_are_bounded(settings):
    settings.UPLOAD_MAX_OPEN_SLOTS = 5
    user = UserFactory()
    issue_upload_urls(Principal(user=user), 4, "video")
    with pytest.raises(InvalidArgumentError, match="You have 4 uploads in progress; the limit is 5"):
        issue_upload_urls(Principal(user=user), 2, "video")
    issue_upload_urls(Principal(user=user), 1, "video")
    issue_upload_urls(Principal(user=UserFactory()), 5, "video")  # another caller has its own


@pytest.mark.django_db
def test_staged_bytes_of_browser_uploads_are_bounded(settings):
    from datasets_app.sdk import UserClient
    from datasets_app.sdk.chunked_uploads import start_upload

    settings.UPLOAD_MAX_STAGING_BYTES = 1000
    user = UserFactory()
    client = UserClient.for_user(user)
    ds = client.get_dataset(client.create_dataset("d", "CORD_STORAGE").dataset_hash)
    start_upload(ds, file_name="a.mp4", size=600, mode="videos")
    with pytest.raises(InvalidArgumentError, match="unfinished uploads hold 600 bytes"):
        start_upload(ds, file_name="b.mp4", size=600, mode="videos")


def test_limits_count_in_a_shared_cache_by_default(tmp_path):
    """Outside tests, with no CACHE_URL, the limiter and the throttle count in the database (shared by
    every process and machine), not in one process's memory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "CACHE_URL", "DEBUG"))}
    env.update(DATA_DIR=str(tmp_path), SECRET_KEY="x" * 50, DJANGO_SETTINGS_MODULE="dashboard.settings")
    code = (
        "import django; django.setup()\n"
        "from django.core.management import call_command; call_command('migrate', verbosity=0)\n"
        "from django.core.cache import caches\n"
        "cache = caches['default']; cache.set('k', 1); print(type(cache).__name__, cache.get('k'))\n"
    )
    if "DATABASE_URL" in env:  # do not migrate a shared database from a test
        env.pop("DATABASE_URL")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["DatabaseCache", "1"]
