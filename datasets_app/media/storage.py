"""The only storage adapter: hosted media goes through Django's default storage (local files
under DATA_DIR, or S3 via django-storages). Keys are ours (dataset/data hash based), never a
file name."""

from __future__ import annotations

import logging
from typing import Iterable

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet

logger = logging.getLogger(__name__)


def hosted_keys_of(rows: QuerySet) -> list[str]:
    """Every hosted file key of these rows and their members (originals, thumbnails, re-encodes).

    Two queries; external URLs are never included, so they are never deleted."""
    from datasets_app.models import DataRowMember

    keys: set[str] = set()
    for storage_key, thumb, original in rows.values_list("storage_key", "thumbnail_key", "original_storage_key"):
        keys.update(k for k in (storage_key, thumb, original) if k)
    for storage_key, thumb in DataRowMember.objects.filter(data_row__in=rows).values_list(
        "storage_key", "thumbnail_key"
    ):
        keys.update(k for k in (storage_key, thumb) if k)
    return sorted(keys)


def delete_after_commit(keys: Iterable[str]) -> None:
    """Queues deletion of hosted files once the surrounding transaction commits."""
    keys = list(keys)
    if not keys:
        return
    from datasets_app.tasks import delete_stored_files_task

    transaction.on_commit(lambda: delete_stored_files_task.delay(keys))


def delete_files(keys: Iterable[str]) -> int:
    """Deletes hosted files; missing ones are fine (a second run is a no-op). Returns how many went."""
    gone = 0
    for key in keys:
        try:
            if default_storage.exists(key):
                default_storage.delete(key)
                gone += 1
        except OSError:
            logger.exception("could not delete stored file %s", key)
            raise
    return gone
