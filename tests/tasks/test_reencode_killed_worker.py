"""A worker SIGKILLed mid-encode leaves the task SUBMITTED; a new worker gets the redelivered
message (acks_late + reject_on_worker_lost) and redoes the work into the same key.

Needs a database and broker that separate processes share: runs on PostgreSQL + Redis (CI's
second pass), skipped on the embedded SQLite/filesystem default."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from datasets_app import models as m
from datasets_app.media import video
from tests.factories import hosted_video_row
from tests.waits import wait_for

pytestmark = pytest.mark.skipif(
    not (
        os.environ.get("DATABASE_URL", "").startswith("postgres")
        and os.environ.get("CELERY_BROKER_URL", "").startswith("redis")
    ),
    reason="separate worker processes need PostgreSQL and Redis (CI's second pass)",
)

ROOT = Path(__file__).resolve().parents[2]


def start_worker_process(name: str, *, preset: str, media_root: Path) -> subprocess.Popen:
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{connection.settings_dict['NAME']}",
        "DATA_DIR": str(settings.DATA_DIR),
        "MEDIA_ROOT": str(media_root),
        "REENCODE_PRESET": preset,
        # outside pytest DEBUG is off, and then the settings want a SECRET_KEY
        "SECRET_KEY": settings.SECRET_KEY,
        # an unacked message of a dead worker comes back after this many seconds
        "CELERY_VISIBILITY_TIMEOUT": "3",
    }
    env.pop("PYTEST_VERSION", None)
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "dashboard", "worker", "-Q", "media", "-P", "solo",
         "-c", "1", "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "--loglevel", "WARNING"],
        cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)  # the worker and its ffmpeg child: both ours
        proc.wait(timeout=30)


@pytest.mark.django_db(transaction=True)
def test_killed_worker_leaves_task_submitted_and_redelivery_redoes_it(tmp_path, settings, dataset, ds_user):
    from datasets_app.sdk import UserClient

    media_root = Path(settings.MEDIA_ROOT)
    # given a video that takes a while to encode at a slow preset (640x360, 400 frames)
    src = tmp_path / "long.mp4"
    subprocess.run(
        [video.ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=16",
         "-c:v", "mpeg4", "-q:v", "5", str(src)],
        check=True,
    )
    row = hosted_video_row(dataset, src)
    editor = UserClient.for_user(ds_user).get_dataset(str(dataset.dataset_hash))

    first = start_worker_process("first", preset="veryslow", media_root=media_root)
    second = None
    try:
        task_id = editor.re_encode_data([str(row.data_hash)])  # enqueued on commit (autocommit here)
        part = m.ReEncodeVideo.objects.get(task_id=task_id)
        # when the worker is killed once it has reported progress
        wait_for(lambda: m.ReEncodeVideo.objects.get(pk=part.pk).frames_done > 0, timeout=90)
        stop(first, signal.SIGKILL)
        # then the task is still SUBMITTED and nothing was recorded
        assert editor.re_encode_data_status(task_id).status == "SUBMITTED"
        row.refresh_from_db()
        assert row.original_storage_key == ""

        # when a new worker starts once the dead worker's delivery is past the visibility timeout
        # (a starting worker restores such messages), the message is redelivered and work redone
        time.sleep(3.5)
        second = start_worker_process("second", preset="ultrafast", media_root=media_root)
        status = wait_for(
            lambda: (s := editor.re_encode_data_status(task_id)).status != "SUBMITTED" and s, timeout=120
        )
        assert status.status == "DONE"
        row.refresh_from_db()
        assert row.storage_key == status.result[0].bucket_path
        assert row.frame_count == 400 and row.media_info["verdict"] == "ok"
        stored = media_root / "reencoded"
        assert sorted(str(p.relative_to(stored)) for p in stored.rglob("*") if p.is_file()) == [
            f"{dataset.dataset_hash}/{row.data_hash}.mp4"
        ]
    finally:
        stop(first, signal.SIGKILL)
        if second is not None:
            stop(second)
