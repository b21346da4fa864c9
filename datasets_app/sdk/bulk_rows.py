"""Acting on every row a filter matches (issue 14): the dataset page's "Select all N matching", then
delete, re-encode the videos, add to another dataset, or export the list. Each function takes the
filter (never a list of a million ids in a form), checks the policy through the Dataset it is
given, and works in bulk SQL, in chunks, so memory stays flat whatever the count."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from datasets_app import models as m

from . import dataset_stats
from .client import UserClient
from .dataset import Dataset
from .exceptions import InvalidArgumentError
from .item_deletion import dataset_rows_delete
from .item_links import MAX_LINK_ITEMS, link_items_matching
from .policy import Op, allowed, grants_of

CHUNK = 5000
REENCODE_CHUNK = 10_000  # re_encode_data's own limit per task
EXPORT_FIELDS = ("data_hash", "title", "type", "size", "item_uuid", "folder", "client_metadata")


@dataclass(frozen=True)
class RowFilter:
    """The data table's filter: title contains `q` (taken literally), type `data_type`."""

    q: str = ""
    data_type: str = ""

    def as_kwargs(self) -> dict:
        """Keyword arguments of Dataset.data_rows_queryset."""
        title_like = None
        if self.q:
            escaped = self.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            title_like = f"%{escaped}%"
        return {"title_like": title_like, "data_types": [self.data_type] if self.data_type else None}

    @property
    def is_empty(self) -> bool:
        return not (self.q or self.data_type)


def matching(dataset: Dataset, row_filter: RowFilter) -> QuerySet[m.DataRow]:
    """The rows the filter matches (checks READ). Lazy."""
    return dataset.data_rows_queryset(**row_filter.as_kwargs())


def summary(dataset: Dataset, row_filter: RowFilter) -> dataset_stats.Figures:
    """How many rows match, by kind, and their bytes: the maintained counters when only the type
    is filtered, else one GROUP BY over the matching rows."""
    qs = matching(dataset, row_filter)
    pk = dataset.model.pk
    if not row_filter.q:
        figures = dataset_stats.figures_for([pk])[pk]
        if not row_filter.data_type:
            return figures
        field = dataset_stats.TYPE_FIELDS[row_filter.data_type]
        return dataset_stats.Figures(**{field: figures.count_of(row_filter.data_type)})
    delta = dataset_stats.deltas_of_queryset(qs).get(pk, {})
    return dataset_stats.Figures(**{f: delta.get(f, 0) for f in dataset_stats.FIELDS})


def delete_matching(dataset: Dataset, row_filter: RowFilter) -> int:
    """Deletes every matching row (DELETE_DATA), CHUNK rows per transaction so a retry after a
    failure carries on where it stopped; a mirror's rows take their unlinked items and files along
    (item_deletion). Returns how many rows went."""
    dataset.require(Op.DELETE_DATA)
    ds = dataset.model
    qs = matching(dataset, row_filter).order_by()
    gone = 0
    while True:
        with transaction.atomic():
            ids = list(qs.values_list("pk", flat=True)[:CHUNK])
            if not ids:
                break
            gone += dataset_rows_delete(ds, m.DataRow.objects.filter(pk__in=ids))
            m.Dataset.objects.filter(pk=ds.pk).update(last_edited_at=timezone.now())
    return gone


def reencode_matching(dataset: Dataset, row_filter: RowFilter) -> list[int]:
    """Queues a re-encode of every matching video (WRITE_DATA): one task per REENCODE_CHUNK videos
    (Dataset.re_encode_data). Returns the task ids; none when no video matches."""
    dataset.require(Op.WRITE_DATA)
    videos = matching(dataset, row_filter).filter(item__item_type=m.DataType.VIDEO).order_by("created_at", "id")
    hashes = [str(h) for h in videos.values_list("data_hash", flat=True).iterator(chunk_size=CHUNK)]
    return [dataset.re_encode_data(hashes[i : i + REENCODE_CHUNK]) for i in range(0, len(hashes), REENCODE_CHUNK)]


def link_matching(dataset: Dataset, row_filter: RowFilter, target_hash: str) -> int:
    """Links the matching rows' items into another dataset (item_links.link_items_matching:
    WRITE_DATA there, READ_FILES on the items' folders; a mirror target is refused, saying why;
    items it already links are skipped). Returns how many rows the target has for them."""
    if str(target_hash) == dataset.dataset_hash:
        raise InvalidArgumentError("Choose another dataset: these rows are already in this one.", field="target")
    # The items go to the linker as a subquery: none is read into Python, whatever the count.
    items = m.StorageItem.objects.filter(pk__in=matching(dataset, row_filter).order_by().values("item_id"))
    return len(link_items_matching(dataset.principal, target_hash, items, duplicates="SKIP", at_most=MAX_LINK_ITEMS))


@dataclass(frozen=True)
class LinkTarget:
    dataset_hash: str
    title: str
    is_mirror: bool


def link_targets(dataset: Dataset, *, limit: int = 200) -> list[LinkTarget]:
    """Other datasets this user may add data to (WRITE_DATA), by title, at most `limit`; a mirror is
    listed with its flag so the page can say it will be refused and why. One query."""
    client = UserClient.for_principal(dataset.principal)
    candidates = client.visible_datasets(include_org_access=True).exclude(pk=dataset.model.pk).order_by("title", "id")
    return [
        LinkTarget(str(d.dataset_hash), d.title, d.backing_folder_id is not None)
        for d in candidates[:limit]
        if allowed(Op.WRITE_DATA, grants_of(dataset.principal, d, d.user_role))
    ]


def _export_values(dataset: Dataset, row_filter: RowFilter) -> Iterator[dict]:
    qs = matching(dataset, row_filter).order_by("created_at", "id").values(
        "data_hash", "item__name", "item__item_type", "item__file_size", "item__item_uuid",
        "item__folder__folder_uuid", "item__client_metadata",
    )
    for v in qs.iterator(chunk_size=2000):
        yield {
            "data_hash": str(v["data_hash"]),
            "title": v["item__name"],
            "type": v["item__item_type"],
            "size": v["item__file_size"],
            "item_uuid": str(v["item__item_uuid"]),
            "folder": str(v["item__folder__folder_uuid"]),
            "client_metadata": v["item__client_metadata"] or {},
        }


def export_rows(dataset: Dataset, row_filter: RowFilter, fmt: str) -> Iterator[str]:
    """The matching rows as CSV lines (header first; metadata a JSON object) or one JSON array,
    streamed: read 2,000 at a time through a server-side cursor, never held all at once. READ is
    checked now, before the first line is asked for."""
    dataset.require(Op.READ)
    if fmt == "csv":
        return _csv_lines(_export_values(dataset, row_filter))
    if fmt == "json":
        return _json_chunks(_export_values(dataset, row_filter))
    raise InvalidArgumentError("Export as csv or json.", field="format")


def _csv_lines(values: Iterator[dict]) -> Iterator[str]:
    buf = io.StringIO()
    out = csv.writer(buf)

    def line(cells) -> str:
        buf.seek(0)
        buf.truncate()
        out.writerow(cells)
        return buf.getvalue()

    yield line(EXPORT_FIELDS)
    for v in values:
        v["client_metadata"] = json.dumps(v["client_metadata"], sort_keys=True)
        yield line([v[f] if v[f] is not None else "" for f in EXPORT_FIELDS])


def _json_chunks(values: Iterator[dict]) -> Iterator[str]:
    yield "["
    for n, v in enumerate(values):
        yield ("," if n else "") + "\n" + json.dumps(v)
    yield "\n]\n"
