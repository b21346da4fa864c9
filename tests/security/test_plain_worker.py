"""Issue 11, Reliability: a plain Celery worker does all the work, and a job waiting on a queue no
running worker consumes says so.

`celery -A dashboard worker`, started the way Celery's documentation shows (no -Q), consumed only
the `default` queue: every video upload, private video import and re-encode (routed to `media`)
waited forever with "Processing..." and no word to anyone. These tests start REAL worker
processes (the way an operator does, on the suite's broker and database) and drive the SDK layer
and the dashboard pages in this process.
"""

from __future__ import annotations

import html
import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.urls import reverse

from dashboard.celery import app as celery_app
from datasets_app import models as m
from tests.factories import DataRowFactory
from tests.media.mediagen import make_image, make_video

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
WAITING = "no running worker takes the 'media' queue"


def _database_url() -> str:
    db = settings.DATABASES["default"]
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"  # the test database file (committed data: transactional)
    user = db.get("USER") or "postgres"
    auth = f"{user}:{db['PASSWORD']}" if db.get("PASSWORD") else user
    return f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


@contextmanager
def celery_worker(tmp_path: Path, *extra: str):
    """A real `celery -A dashboard worker` process on this suite's broker, database and media
    folder, `extra` arguments appended (none: exactly what Celery's documentation shows)."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_SETTINGS"))},
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "DATA_DIR": str(settings.DATA_DIR),  # the embedded broker's folders live here
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "DATABASE_URL": _database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "0",
    }
    log = tmp_path / f"worker-{uuid.uuid4().hex[:6]}.log"
    argv = [sys.executable, "-m", "celery", "-A", "dashboard", "worker",
            "-n", f"plain-{uuid.uuid4().hex[:8]}@%h", "--concurrency", "1", "--loglevel", "INFO", *extra]
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while " ready." not in log.read_text(errors="replace"):
            assert proc.poll() is None, "worker exited:\n" + log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "not ready:\n" + log.read_text(errors="replace")[-3000:]
            time.sleep(0.2)
        yield log
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass
        connection.close()  # the test database is flushed next


def _wait(predicate, what: str, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out: {what}\n" + log.read_text(errors="replace")[-3000:]
        time.sleep(0.3)


@pytest.fixture(autouse=True)
def _fresh_worker_answers():
    """What workers answered is cached for a few seconds: each test asks afresh. Messages other
    test modules queued (their rows are gone) must not reach this test's workers."""
    celery_app.control.purge()
    cache.clear()
    yield
    cache.clear()


def test_a_plain_worker_runs_video_uploads_and_reencodes(tmp_path, dataset, ds):
    src = make_video(tmp_path / "clip.mp4", frames=20, fps=10, width=64, height=48)
    with celery_worker(tmp_path) as log:  # `celery -A dashboard worker`: no -Q
        info = ds.upload_video(src, timeout_seconds=60)  # run_video_data_job_task: the `media` queue
        row = m.DataRow.objects.get(data_hash=info.data_hash)
        assert row.data_type == m.DataType.VIDEO and row.frame_count == 20
        task_id = ds.re_encode_data([info.data_hash])  # reencode_videos_task: `media` too
        _wait(lambda: m.ReEncodeTask.objects.get(pk=task_id).status != "SUBMITTED", "re-encode finished", log)
        assert m.ReEncodeTask.objects.get(pk=task_id).status == "DONE"
    assert "media" in log.read_text()  # the worker's banner lists the queue it consumes


def _page(client: Client, url: str, **headers) -> str:
    """The page as a person reads it (entities unescaped)."""
    response = client.get(url, **headers)
    assert response.status_code == 200, response.content[:500]
    return html.unescape(response.content.decode())


def test_a_job_waiting_on_a_queue_no_worker_consumes_says_so(tmp_path, dataset, ds, ds_user):
    # A worker for `default` only: what a plain worker was, and a deployment missing its media worker.
    with celery_worker(tmp_path, "-Q", "default") as log:
        image_job = ds.upload_image_start(make_image(tmp_path / "pic.png"))
        video_job = ds.upload_video_start(make_video(tmp_path / "clip.mp4", frames=10))
        row = DataRowFactory(dataset=dataset, title="old.mp4")  # a video row (never re-encoded here)
        task_id = ds.re_encode_data([str(row.data_hash)])
        # the `default` queue has its worker: the image job is taken (its outcome is another matter)
        image = m.DataJob.objects.filter(process_hash=image_job)
        _wait(lambda: image.get().status != "PENDING", "image job taken", log)

        client = Client()
        client.force_login(ds_user)
        job_page = _page(client, reverse("dashboard:data-job", args=[dataset.dataset_hash, video_job]))
        jobs_page = _page(client, reverse("dashboard:jobs"))
        jobs_rows = _page(client, reverse("dashboard:jobs"), HTTP_HX_REQUEST="true")  # the 2 s refresh
        task_page = _page(client, reverse("dashboard:reencode-task", args=[dataset.dataset_hash, task_id]))
        health = Client().get("/healthz")
        image_page = _page(client, reverse("dashboard:data-job", args=[dataset.dataset_hash, image_job]))

    for body in (job_page, jobs_page, jobs_rows, task_page):
        assert WAITING in body, body[:3000]
        assert "celery -A dashboard worker" in body and "-Q media" in body
        assert "'default' queue" not in body  # that one has its worker
    assert m.DataJob.objects.get(process_hash=video_job).status == "PENDING"
    assert WAITING not in image_page
    # /healthz: the web tier is up (200, a load balancer keeps it), and it names the stalled queue.
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok" and body["problems"] == []
    [warning] = body["warnings"]
    assert WAITING in warning and "2 jobs" in warning, body


def test_once_a_worker_takes_the_queue_the_warning_goes(tmp_path, dataset, ds, ds_user):
    video_job = ds.upload_video_start(make_video(tmp_path / "clip.mp4", frames=10))
    client = Client()
    client.force_login(ds_user)
    url = reverse("dashboard:data-job", args=[dataset.dataset_hash, video_job])
    assert WAITING in _page(client, url)  # no worker at all yet
    cache.clear()
    with celery_worker(tmp_path, "-Q", "media") as log:  # a dedicated media worker, as deploy/ runs
        video = m.DataJob.objects.filter(process_hash=video_job)
        _wait(lambda: video.get().status != "PENDING", "video job taken", log)
        cache.clear()
        assert WAITING not in _page(client, reverse("dashboard:jobs"))
        assert "warnings" not in Client().get("/healthz").json()
