"""Deleting data rows, and the storage items behind them when nothing else links them (issue 13,
/work/shared/encord-storage-protocol.md §4.2): the one place that decides which items and hosted
files go with a row or a dataset.

- Rows of a MIRROR dataset (one with a backing folder) take their items with them, unless another
  dataset links an item; rows of a plain dataset are only links, so only the links go.
- A mirror dataset takes the items of its backing folder that no other dataset links, then the
  folder if nothing is left in it (else it stays, an ordinary folder).
Hosted files are deleted by a job once the transaction commits (queue.delete_files_after_commit);
external URLs never are. Callers hold a transaction."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Exists, OuterRef, QuerySet

from datasets_app import models as m

from . import dataset_stats, hosted_files, queue


def _unlinked(items: QuerySet[m.StorageItem]) -> QuerySet[m.StorageItem]:
    return items.exclude(Exists(m.DataRow.objects.filter(item=OuterRef("pk"))))


def items_delete_unlinked(item_ids: Iterable[int]) -> int:
    """Deletes those of these items that no row links (their members with them); their hosted
    files follow after commit. Returns how many items went. Three queries."""
    ids = list(item_ids)
    if not ids:
        return 0
    items = _unlinked(m.StorageItem.objects.filter(pk__in=ids))
    keys = hosted_files.unshared_files(items)
    gone = items.delete()[1].get(m.StorageItem._meta.label, 0)
    queue.delete_files_after_commit(keys)
    return gone


def data_rows_delete(rows: QuerySet[m.DataRow], *, with_items: bool) -> int:
    """Deletes the rows; `with_items`: also their items that no other row links (a mirror
    dataset's rows, or a rolled-back job's). Returns how many rows went."""
    item_ids = set(rows.values_list("item_id", flat=True))
    count = dataset_stats.counted_delete(rows)
    if with_items:
        items_delete_unlinked(item_ids)
    return count


def dataset_rows_delete(ds: m.Dataset, rows: QuerySet[m.DataRow]) -> int:
    """Deletes rows of `ds` by its kind: a mirror's with their unlinked items, a plain one's links."""
    return data_rows_delete(rows, with_items=ds.backing_folder_id is not None)


def dataset_delete(ds: m.Dataset) -> None:
    """Deletes the dataset and its rows (cascade: keys, jobs, memberships); for a mirror, the items of
    its backing folder that no other dataset links, with their files, then the folder if it is empty."""
    folder_id = ds.backing_folder_id
    ds.delete()
    if folder_id is None:
        return
    items = _unlinked(m.StorageItem.objects.filter(folder_id=folder_id))
    keys = hosted_files.unshared_files(items)
    items.delete()
    queue.delete_files_after_commit(keys)
    folder = m.StorageFolder.objects.filter(pk=folder_id)
    folder.exclude(Exists(m.StorageItem.objects.filter(folder=OuterRef("pk")))).exclude(
        Exists(m.StorageFolder.objects.filter(parent=OuterRef("pk")))
    ).delete()
