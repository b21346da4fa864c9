"""Which hosted files may go when items are deleted: one rule for deleting items
(storage_item_changes.delete_items) and whole folders (storage_folders.folder_tree_delete).

A file is kept while any other item, or any child (frame, DICOM file) of another item, names it
in any of its key columns: originals, thumbnails, re-encodes, sequence videos."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from datasets_app import models as m
from datasets_app.media import storage

ITEM_KEY_COLUMNS = ("storage_key", "thumbnail_key", "original_storage_key", "sequence_video_key")
MEMBER_KEY_COLUMNS = ("storage_key", "thumbnail_key")
# Keys per query: each is sent once per key column (4 x 5,000 parameters stays under SQLite's 32,766).
CHUNK = 5000


def naming_any(columns: tuple[str, ...], keys: list[str]) -> Q:
    q = Q()
    for column in columns:
        q |= Q(**{f"{column}__in": keys})
    return q


def keys_used_elsewhere(items: QuerySet, keys: list[str]) -> set[str]:
    """Those of `keys` some item outside `items` (or a child of one) still names. Two queries per
    CHUNK keys; the items are excluded by a subquery, so any number of them costs the same."""
    inside = items.values("pk")
    used: set[str] = set()
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        others = m.StorageItem.objects.exclude(pk__in=inside).filter(naming_any(ITEM_KEY_COLUMNS, chunk))
        members = m.DataRowMember.objects.exclude(item_id__in=inside).filter(naming_any(MEMBER_KEY_COLUMNS, chunk))
        for row in (*others.values_list(*ITEM_KEY_COLUMNS), *members.values_list(*MEMBER_KEY_COLUMNS)):
            used.update(row)
    return used & set(keys)


def unshared_files(items: QuerySet) -> list[str]:
    """Hosted file keys of these items and their children (media.storage.hosted_keys_of; external
    URLs never) that no other item still uses: the files to delete with them. Read before the
    items are deleted."""
    keys = storage.hosted_keys_of(items)
    return sorted(set(keys) - keys_used_elsewhere(items, keys))
