"""A dataset's data table (issue 14): rows sorted by title, type, size, created or duration, either
way, in keyset pages that stay correct in both directions (next, previous, last), with a stable
tie-break; and how many rows a filter matches, from the maintained counters where they answer it
and else counted only up to a cap.

Sort keys: created -> (row.created_at, row.id), served by the rows' (dataset, created_at, id)
index; the item's columns -> (value, item.id, row.id). A missing size or duration sorts as larger
than any value (last going up, first going down: PostgreSQL's own NULL order for either index
direction)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django.db.models import F, Q, QuerySet

from datasets_app import models as m

from . import dataset_stats
from .exceptions import InvalidArgumentError

# sort name -> (the column, whether it can be NULL, its Python type on the cursor)
SORTS: dict[str, tuple[str, bool, type]] = {
    "created": ("created_at", False, dt.datetime),
    "title": ("item__name", False, str),
    "type": ("item__item_type", False, str),
    "size": ("item__file_size", True, int),
    "duration": ("item__duration", True, float),
}
DEFAULT_SORT = "created"
COUNT_CAP = 10_000


@dataclass(frozen=True)
class Sort:
    key: str = DEFAULT_SORT
    desc: bool = False

    @classmethod
    def parse(cls, text: str | None) -> Sort:
        """"title", "-size", ...; anything else is the default (oldest first)."""
        text = (text or "").strip()
        desc = text.startswith("-")
        key = text[1:] if desc else text
        return cls(key, desc) if key in SORTS else cls()

    @property
    def param(self) -> str:
        return f"-{self.key}" if self.desc else self.key

    @property
    def column(self) -> str:
        return SORTS[self.key][0]

    @property
    def ties(self) -> tuple[str, ...]:
        return ("id",) if self.key == "created" else ("item_id", "id")


@dataclass(frozen=True)
class TablePage:
    """One page of rows; cursors to the pages around it (None where there is none)."""

    rows: list[m.DataRow]
    next_cursor: str | None
    prev_cursor: str | None


def encode_cursor(sort: Sort, row: m.DataRow) -> str:
    value = row.created_at if sort.key == "created" else getattr(row.item, SORTS[sort.key][0].split("__", 1)[1])
    return encode_key(sort, (value, *(getattr(row, t) for t in sort.ties)))


def encode_key(sort: Sort, key: tuple) -> str:
    """The cursor of a row whose sort key is (value, *ties)."""
    value, *ties = key
    if isinstance(value, dt.datetime):
        value = value.isoformat()
    raw = json.dumps([sort.key, value, *ties], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(sort: Sort, cursor: str) -> tuple[Any, tuple[int, ...]]:
    """(value, ties) of a cursor made for this sort; InvalidArgumentError for anything else."""
    bad = InvalidArgumentError("The page cursor is not valid; start again from the first page.", field="after")
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        key, value, *ties = raw
    except (ValueError, TypeError):
        raise bad from None
    _column, nullable, kind = SORTS[sort.key]
    if key != sort.key or len(ties) != len(sort.ties) or not all(type(t) is int for t in ties):
        raise bad
    if value is None and not nullable:
        raise bad
    if value is not None:
        try:
            if kind is dt.datetime:
                value = dt.datetime.fromisoformat(value)
                if value.tzinfo is None:
                    raise ValueError("naive")
            elif kind is float and type(value) in (int, float):
                value = float(value)
            elif type(value) is not kind:
                raise ValueError(key)
        except (ValueError, TypeError):
            raise bad from None
    return value, tuple(ties)


def _ties_beyond(sort: Sort, ties: tuple[int, ...], up: bool) -> Q:
    """The rows whose tie-break columns come after `ties` (up) or before them."""
    op = "gt" if up else "lt"
    first, *rest = sort.ties
    if not rest:
        return Q(**{f"{first}__{op}": ties[0]})
    return Q(**{f"{first}__{op}": ties[0]}) | (Q(**{first: ties[0]}) & Q(**{f"{rest[0]}__{op}": ties[1]}))


def beyond(sort: Sort, value: Any, ties: tuple[int, ...], up: bool) -> list[Q]:
    """Rows strictly after the cursor in ascending order (up) or strictly before it, as segments
    read one after another (NULL counts as larger than every value). Each segment is one index
    range: an OR with `IS NULL` would make PostgreSQL filter instead of seek."""
    col, nullable, _ = SORTS[sort.key]
    if value is None:  # only nullable columns
        same = Q(**{f"{col}__isnull": True}) & _ties_beyond(sort, ties, up)
        return [same] if up else [same, Q(**{f"{col}__isnull": False})]
    op = "gt" if up else "lt"
    # The redundant bound (>= or <=) lets PostgreSQL seek the index instead of filtering the OR.
    cond = (Q(**{f"{col}__{op}": value}) | (Q(**{col: value}) & _ties_beyond(sort, ties, up))) & Q(
        **{f"{col}__{'gte' if up else 'lte'}": value}
    )
    return [cond, Q(**{f"{col}__isnull": True})] if (nullable and up) else [cond]


def ordered(qs: QuerySet[m.DataRow], sort: Sort, up: bool) -> QuerySet[m.DataRow]:
    """`qs` in ascending order (up) or descending; NULLs last going up, first going down."""
    col = F(sort.column)
    first = col.asc(nulls_last=True) if up else col.desc(nulls_first=True)
    rest = [F(t).asc() if up else F(t).desc() for t in sort.ties]
    return qs.order_by(first, *rest)


def rows_page(
    qs: QuerySet[m.DataRow],
    sort: Sort,
    *,
    after: str | None = None,
    before: str | None = None,
    last: bool = False,
    limit: int = 100,
) -> TablePage:
    """One page of `qs` in `sort` order: after the cursor `after`, or the page before `before`, or
    the last page (`last`: read in reverse from the end), else the first. One index range read
    (a second where a size or duration page reaches the missing values); no OFFSET, no COUNT."""
    forward = not (before or last)
    up = forward != sort.desc  # the direction this query reads the sort in
    cursor = after if forward else before
    segments = [Q()]
    if cursor:
        value, ties = decode_cursor(sort, cursor)
        segments = beyond(sort, value, ties, up)
    rows: list[m.DataRow] = []
    for segment in segments:
        rows += ordered(qs.filter(segment), sort, up)[: limit + 1 - len(rows)]
        if len(rows) > limit:
            break
    more = len(rows) > limit
    rows = rows[:limit]
    if forward:
        return TablePage(
            rows=rows,
            next_cursor=encode_cursor(sort, rows[-1]) if more else None,
            prev_cursor=encode_cursor(sort, rows[0]) if (after and rows) else None,
        )
    rows.reverse()
    return TablePage(
        rows=rows,
        next_cursor=encode_cursor(sort, rows[-1]) if (before and rows) else None,
        prev_cursor=encode_cursor(sort, rows[0]) if (more and rows) else None,
    )


def _keys(qs: QuerySet[m.DataRow], sort: Sort, cursor: str, up: bool, n: int) -> list[tuple]:
    """Sort keys (value, *ties) of up to n rows beyond the cursor: index entries only."""
    value, ties = decode_cursor(sort, cursor)
    keys: list[tuple] = []
    for segment in beyond(sort, value, ties, up):
        keys += ordered(qs.filter(segment), sort, up).values_list(sort.column, *sort.ties)[: n - len(keys)]
        if len(keys) >= n:
            break
    return keys


def nearby_pages(qs: QuerySet[m.DataRow], sort: Sort, page: TablePage, *, limit: int, reach: int = 2) -> dict:
    """Cursors of up to `reach` pages on either side of `page`, for numbered links: {"ahead":
    [after-cursor of page +1, +2, ...], "behind": [before-cursor of page -1, -2, ...]}. One
    keys-only query each way (at most reach x limit index entries), none where there is no page."""
    ahead, behind = [], []
    if page.next_cursor:
        ahead.append(page.next_cursor)
        keys = _keys(qs, sort, page.next_cursor, not sort.desc, limit * (reach - 1) + 1)
        ahead += [encode_key(sort, keys[k * limit - 1]) for k in range(1, reach) if len(keys) > k * limit]
    if page.prev_cursor:
        behind.append(page.prev_cursor)
        keys = _keys(qs, sort, page.prev_cursor, sort.desc, limit * (reach - 1) + 1)
        behind += [encode_key(sort, keys[k * limit - 1]) for k in range(1, reach) if len(keys) > k * limit]
    return {"ahead": ahead, "behind": behind}


@dataclass(frozen=True)
class Count:
    """How many rows match: `exact` unless the count stopped at the cap (then "10,000+")."""

    value: int
    exact: bool


def matching_count(
    figures: dataset_stats.Figures, qs: QuerySet[m.DataRow], *, title_like: str | None, data_types: list[str] | None
) -> Count:
    """The number of rows a filter matches: no title filter -> the dataset's maintained counters
    (`figures`, no query); else COUNT over at most COUNT_CAP + 1 rows."""
    if title_like is None:
        if not data_types:
            return Count(figures.rows, True)
        return Count(sum(figures.count_of(t) for t in set(data_types)), True)
    n = qs.order_by().values("pk")[: COUNT_CAP + 1].count()
    return Count(min(n, COUNT_CAP), n <= COUNT_CAP)


def table_queryset(dataset: m.Dataset, qs: QuerySet[m.DataRow]) -> QuerySet[m.DataRow]:
    """`qs` (the dataset's rows) ready for sorting. A mirror's rows link only items of its backing
    folder (uploads create them there; moving an item out takes its row away): saying so lets
    PostgreSQL walk the items' (folder, column, id) index in sort order and stop after a page,
    instead of sorting every row (bench/bench_dataset_table.py)."""
    if dataset.backing_folder_id is not None:
        return qs.filter(item__folder_id=dataset.backing_folder_id)
    return qs
