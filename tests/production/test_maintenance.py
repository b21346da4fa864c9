"""Beat upkeep (sdk/maintenance.py through the periodic tasks): expired upload slots and orphan files."""

from __future__ import annotations

import datetime as dt
import os
import time

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from datasets_app import models as m
from datasets_app import periodic
from tests.factories import DataRowFactory, ReEncodeTaskFactory, UploadSlotFactory


def _slot(key: str, *, expires_in: dt.timedelta, consumed: bool = False) -> m.UploadSlot:
    default_storage.save(key, ContentFile(b"uploaded bytes"))
    return UploadSlotFactory(
        object_key=key,
        item_type="image",
        expires_at=timezone.now() + expires_in,
        consumed_at=timezone.now() if consumed else None,
    )


def test_expire_upload_slots_deletes_unused_expired_slots_and_their_files(db, django_capture_on_commit_callbacks):
    expired = _slot("uploads/a/expired.jpg", expires_in=-dt.timedelta(minutes=1))
    live = _slot("uploads/a/live.jpg", expires_in=dt.timedelta(hours=1))
    used = _slot("uploads/a/used.jpg", expires_in=-dt.timedelta(hours=1), consumed=True)

    with django_capture_on_commit_callbacks(execute=True):
        assert periodic.expire_upload_slots_task() == 1
    assert set(m.UploadSlot.objects.values_list("pk", flat=True)) == {live.pk, used.pk}
    assert not default_storage.exists(expired.object_key)
    assert default_storage.exists(live.object_key) and default_storage.exists(used.object_key)

    # Run twice: nothing more to do, nothing else touched.
    with django_capture_on_commit_callbacks(execute=True):
        assert periodic.expire_upload_slots_task() == 0
    assert m.UploadSlot.objects.count() == 2


def _age(key: str, hours: float) -> None:
    path = default_storage.path(key)
    then = time.time() - hours * 3600
    os.utime(path, (then, then))


def test_sweep_orphan_files_removes_only_old_unreferenced_files(db, settings):
    settings.UPLOAD_URL_LIFETIME_SECONDS = 3600
    settings.CELERY_TASK_TIME_LIMIT = 3600
    row = DataRowFactory()
    for key in (row.storage_key, "datasets/x/orphan-old.mp4", "datasets/x/orphan-new.mp4", "uploads/slot.jpg"):
        default_storage.save(key, ContentFile(b"x"))
    UploadSlotFactory(object_key="uploads/slot.jpg", item_type="image", expires_at=timezone.now())
    for key in (row.storage_key, "datasets/x/orphan-old.mp4", "uploads/slot.jpg"):
        _age(key, hours=3)

    assert periodic.sweep_orphan_files_task() == 1
    assert not default_storage.exists("datasets/x/orphan-old.mp4")
    # a young file may belong to a job that has not recorded its row yet
    for key in (row.storage_key, "datasets/x/orphan-new.mp4", "uploads/slot.jpg"):
        assert default_storage.exists(key)
    assert periodic.sweep_orphan_files_task() == 0


def test_requeue_stuck_jobs_queues_each_stuck_reencode_once(db, django_capture_on_commit_callbacks, settings):
    from tests.factories import DatasetFactory

    ds = DatasetFactory()
    stuck = ReEncodeTaskFactory(dataset=ds)
    fresh = ReEncodeTaskFactory(dataset=ds)
    done = ReEncodeTaskFactory(dataset=ds, status="DONE")
    long_ago = timezone.now() - dt.timedelta(hours=8)
    m.ReEncodeTask.objects.filter(pk__in=[stuck.pk, done.pk]).update(updated_at=long_ago)

    from datasets_app.sdk import maintenance

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert maintenance.requeue_stuck_jobs(stuck_after=dt.timedelta(hours=1)) == 1
        # a second beat right after finds it claimed (updated_at moved)
        assert maintenance.requeue_stuck_jobs(stuck_after=dt.timedelta(hours=1)) == 0
    assert len(callbacks) == 1
    stuck.refresh_from_db()
    fresh.refresh_from_db()
    assert stuck.updated_at > long_ago and stuck.status == "SUBMITTED"
