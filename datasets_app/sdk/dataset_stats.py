"""Per-dataset counters (issue 14): rows by type and the bytes of their items, so pages say
"1-100 of 12,345" and the datasets list shows sizes without counting a million rows per request.

Every SDK write that adds or removes rows calls `rows_added` / `rows_removed` (or `counted_delete`)
inside its own transaction: the stats row moves by F() increments, so two writers never lose each
other's change. `reconcile` recounts datasets one at a time under the stats row's lock and fixes
any drift (a beat task and `manage.py reconcile_dataset_stats` run it)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Count, F, QuerySet, Sum

from datasets_app import models as m

# Item type -> the counter that counts it.
TYPE_FIELDS = {
    m.DataType.VIDEO: "videos",
    m.DataType.IMG_GROUP: "image_groups",
    m.DataType.IMAGE: "images",
    m.DataType.DICOM: "dicoms",
}
FIELDS = (*TYPE_FIELDS.values(), "total_bytes")

Deltas = dict[int, dict[str, int]]


@dataclass(frozen=True)
class Figures:
    """A dataset's counts and bytes as plain values (no query)."""

    videos: int = 0
    image_groups: int = 0
    images: int = 0
    dicoms: int = 0
    total_bytes: int = 0

    @property
    def rows(self) -> int:
        return self.videos + self.image_groups + self.images + self.dicoms

    def count_of(self, item_type: str) -> int:
        return getattr(self, TYPE_FIELDS[item_type])

    def kinds(self) -> list[tuple[str, int]]:
        """("videos", 1000), ... for the kinds present, largest first (for "1,204 rows: ...")."""
        named = [
            ("videos", self.videos),
            ("image groups", self.image_groups),
            ("images", self.images),
            ("DICOM series", self.dicoms),
        ]
        return sorted([(n, c) for n, c in named if c], key=lambda nc: -nc[1])


def figures_of(stats: m.DatasetStats | None) -> Figures:
    if stats is None:
        return Figures()
    return Figures(**{f: getattr(stats, f) for f in FIELDS})


def figures_for(dataset_ids: Iterable[int]) -> dict[int, Figures]:
    """Figures by dataset pk (zeros for a dataset with no stats row yet). One query."""
    ids = list(dataset_ids)
    found = {s.dataset_id: figures_of(s) for s in m.DatasetStats.objects.filter(dataset_id__in=ids)}
    return {pk: found.get(pk, Figures()) for pk in ids}


def apply(deltas: Deltas, *, sign: int = 1) -> None:
    """Adds `sign` x each delta to the datasets' counters with F() increments (one UPDATE per
    dataset; an INSERT the first time a dataset is counted). Call inside the writer's transaction."""
    for dataset_id, delta in deltas.items():
        changes = {f: sign * v for f, v in delta.items() if v}
        if not changes:
            continue
        updated = m.DatasetStats.objects.filter(dataset_id=dataset_id).update(
            **{f: F(f) + v for f, v in changes.items()}
        )
        if updated:
            continue
        try:
            with transaction.atomic():
                m.DatasetStats.objects.create(dataset_id=dataset_id, **changes)
        except IntegrityError:  # another writer made it meanwhile: increment theirs
            m.DatasetStats.objects.filter(dataset_id=dataset_id).update(**{f: F(f) + v for f, v in changes.items()})


def deltas_of_rows(rows: Iterable) -> Deltas:
    """Counts of rows in memory (models or bulk_insert blank_rows with `dataset_id` and `item`)."""
    deltas: Deltas = defaultdict(lambda: dict.fromkeys(FIELDS, 0))
    for row in rows:
        item = row.item
        if row.dataset_id is None:  # not a row of any dataset (yet)
            continue
        delta = deltas[row.dataset_id]
        delta[TYPE_FIELDS[item.item_type]] += 1
        delta["total_bytes"] += item.file_size or 0
    return dict(deltas)


def deltas_of_queryset(rows: QuerySet[m.DataRow]) -> Deltas:
    """Counts of the rows a queryset matches, by dataset and type: one GROUP BY query."""
    deltas: Deltas = defaultdict(lambda: dict.fromkeys(FIELDS, 0))
    grouped = (
        rows.order_by()
        .values("dataset_id", "item__item_type")
        .annotate(n=Count("pk"), size=Sum("item__file_size"))
    )
    for g in grouped:
        delta = deltas[g["dataset_id"]]
        delta[TYPE_FIELDS[g["item__item_type"]]] += g["n"]
        delta["total_bytes"] += g["size"] or 0
    return dict(deltas)


def rows_added(rows: Iterable) -> None:
    """Counts rows just inserted (in the inserting transaction)."""
    apply(deltas_of_rows(rows))


def counted_delete(rows: QuerySet[m.DataRow]) -> int:
    """Deletes the rows and takes them off their datasets' counters; returns how many went.
    Two queries more than the delete (the GROUP BY, one UPDATE per dataset)."""
    deltas = deltas_of_queryset(rows)
    count = rows.delete()[1].get(m.DataRow._meta.label, 0)
    apply(deltas, sign=-1)
    return count


def item_resized(item_id: int, old_size: int | None, new_size: int | None) -> None:
    """An item's file changed size (a re-encode): every dataset linking it, once per link."""
    change = (new_size or 0) - (old_size or 0)
    if not change:
        return
    links = m.DataRow.objects.filter(item_id=item_id).values("dataset_id").annotate(n=Count("pk")).order_by()
    apply({g["dataset_id"]: {"total_bytes": change * g["n"]} for g in links})


def recount(dataset_id: int) -> Figures:
    """The dataset's true figures (one GROUP BY over its rows joined to their items)."""
    delta = deltas_of_queryset(m.DataRow.objects.filter(dataset_id=dataset_id)).get(dataset_id, {})
    return Figures(**{f: delta.get(f, 0) for f in FIELDS})


def reconcile(dataset_ids: Iterable[int] | None = None) -> int:
    """Recounts each dataset (all by default) under its stats row's lock, so a writer's increment
    is never lost, and fixes the rows that drifted; returns how many were fixed."""
    ids = list(dataset_ids) if dataset_ids is not None else list(m.Dataset.objects.values_list("pk", flat=True))
    fixed = 0
    for dataset_id in ids:
        with transaction.atomic():
            stats = m.DatasetStats.objects.select_for_update().filter(dataset_id=dataset_id).first()
            if stats is None:
                if not m.Dataset.objects.filter(pk=dataset_id).exists():
                    continue
                stats, _ = m.DatasetStats.objects.get_or_create(dataset_id=dataset_id)
                stats = m.DatasetStats.objects.select_for_update().get(dataset_id=dataset_id)
            truth = recount(dataset_id)
            if figures_of(stats) != truth:
                m.DatasetStats.objects.filter(dataset_id=dataset_id).update(**{f: getattr(truth, f) for f in FIELDS})
                fixed += 1
    return fixed
