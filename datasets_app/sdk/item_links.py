"""Linking storage items into a dataset (Encord's `Dataset.link_items`): a data row is a dataset's
link to an item, so linking makes rows and copies no bytes.

Who may: WRITE_DATA on the dataset (policy.require) and READ_FILES on the folder of every item
(folder rows of the policy table, once per distinct folder). All or nothing: one refused item
refuses the call and nothing is linked. A mirror dataset's contents are its folder: linking into
it is refused (move or upload items into the folder instead). Child items (frames of a group,
files of a DICOM series) are refused: link their parent.

Bulk in SQL: the wanted items go into a temporary table (request position, item id) in one
statement, from a JSON array (SQLite) or a uuid[] (PostgreSQL) of the uuids, or from a queryset
for "everything matching a filter" (link_items_matching); the checks are a few queries over that
table (one GROUP BY gives the distinct folders and the stats counts), the rows one
INSERT ... SELECT whose data_hash the database makes. No item is loaded into Python; the answer
holds row ids and reads rows as it is iterated. bench/bench_link_items.py measures it against a
bare INSERT ... SELECT of the same rows.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from datasets_app import models as m

from . import dataset_stats
from .exceptions import AuthorisationError, InvalidArgumentError, ResourceExistsError
from .folder_access import parse_uuid
from .policy import Op, Principal, require
from .storage_items import FolderGate

DUPLICATE_MODES = ("SKIP", "FAIL", "DUPLICATE")
MAX_LINK_ITEMS = 1_000_000
# Rows read back per query (under SQLite's 32,766 bound parameters).
CHUNK = 5000
SHOWN = 20
# The call's temporary table: pos (request order, from 0) and item_id (NULL when no item has the uuid).
WANTED = "item_links_wanted"
# A request of canonical uuid strings, joined by commas, dashes dropped and lower-cased.
HEX_LIST = re.compile(r"[0-9a-f]{32}(?:,[0-9a-f]{32})*")
ROWS = m.DataRow._meta.db_table
ITEMS = m.StorageItem._meta.db_table


def chunks(values: list, size: int = CHUNK) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def named(uuids: list, noun: str) -> str:
    shown = ", ".join(map(str, uuids[:SHOWN]))
    more = f" and {len(uuids) - SHOWN} more" if len(uuids) > SHOWN else ""
    return f"{noun}{'s' if len(uuids) > 1 else ''} {shown}{more}"


class LinkedRows(Sequence):
    """The rows of a link call in request order. Holds only their ids: rows (each with its item
    loaded) are read as they are used, one query per CHUNK when iterated, so 100,000 rows stream."""

    def __init__(self, row_ids: list[int]) -> None:
        self.ids = row_ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [row for part in chunks(self.ids[index]) for row in rows_by_ids(part)]
        return rows_by_ids([self.ids[index]])[0]

    def __iter__(self) -> Iterator[m.DataRow]:
        for part in chunks(self.ids):
            yield from rows_by_ids(part)


def rows_by_ids(ids: list[int]) -> list[m.DataRow]:
    """The rows with these ids, in this order, each with its item (one query)."""
    found = m.DataRow.objects.select_related("item").in_bulk(ids)
    return [found[pk] for pk in ids]


def check_request(dataset: m.Dataset, duplicates: str) -> None:
    if duplicates not in DUPLICATE_MODES:
        raise InvalidArgumentError(
            f"duplicates must be one of {', '.join(DUPLICATE_MODES)}, not {str(duplicates)[:40]!r}.",
            field="duplicates",
        )
    if dataset.backing_folder_id is not None:
        raise InvalidArgumentError(
            f"Dataset {dataset.title!r} mirrors a folder: its data units are that folder's items. "
            "Move or upload items into the folder instead of linking them.",
            field="dataset_hash",
        )


def clean_uuids(item_uuids: Iterable[object]) -> list[str]:
    """The distinct item uuids in request order as 32 lower-case hex digits; InvalidArgumentError
    for a bad list. A list of uuid strings is checked in one regular-expression pass (parsing
    100,000 UUID objects costs a third of a second); anything else goes through parse_uuid."""
    if isinstance(item_uuids, (str, bytes)):
        raise InvalidArgumentError("item_uuids must be a list of item UUIDs.", field="item_uuids")
    given = list(item_uuids)
    joined = ",".join(given).replace("-", "").lower() if all(type(u) is str for u in given) else ""
    if given and HEX_LIST.fullmatch(joined):
        hexes = joined.split(",")
    else:
        hexes = [parse_uuid(u, "item_uuids").hex for u in given]
    wanted = list(dict.fromkeys(hexes))
    if not wanted:
        raise InvalidArgumentError("Give at least one item to link.", field="item_uuids")
    if len(wanted) > MAX_LINK_ITEMS:
        raise InvalidArgumentError(f"Link at most {MAX_LINK_ITEMS} items per call.", field="item_uuids")
    return wanted


# ---- the temporary table of wanted items ------------------------------------------------------


def postgres() -> bool:
    return connection.vendor == "postgresql"


def new_data_hash_sql() -> str:
    """A fresh version 4 UUID per row, as the backend stores a UUIDField: PostgreSQL's uuid;
    on SQLite 32 hex digits, the version nibble 4 and the variant nibble 8-b (SQLite's random()
    is its ChaCha20 generator, the one randomblob() uses)."""
    if postgres():
        return "gen_random_uuid()"
    return (
        "printf('%%012x4%%03x%%x%%03x%%012x', random() & 281474976710655, random() & 4095, "
        "8 + (random() & 3), random() & 4095, random() & 281474976710655)"
    )


def wanted_create(cursor) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {WANTED}")
    cursor.execute(f"CREATE TEMPORARY TABLE {WANTED} (pos integer NOT NULL, item_id bigint)")


def wanted_fill_uuids(cursor, wanted: list[str]) -> None:
    """One statement: the uuids (32 hex digits) with their positions and item ids, looked up in
    uuid order (the index's pages in order, not at random; the table has no index of its own,
    so it is appended to). Only the uuid index is read: it holds the id."""
    if postgres():
        source = "unnest(%s::uuid[]) WITH ORDINALITY AS u(item_uuid, n)"
        pos, on = "u.n - 1", "i.item_uuid = u.item_uuid"
        param = wanted
    else:
        source = "(SELECT key, value FROM json_each(%s) ORDER BY value) AS u"
        pos, on = "u.key", "i.item_uuid = u.value"
        param = json.dumps(wanted)
    cursor.execute(
        f"INSERT INTO {WANTED} (pos, item_id) SELECT {pos}, i.id FROM {source} LEFT JOIN {ITEMS} i ON {on}",
        [param],
    )


def wanted_fill_query(cursor, items: QuerySet, *, at_most: int) -> int:
    """One statement: the queryset's items, oldest first (then by uuid), at most `at_most` + 1 of
    them; returns how many went in."""
    picked = items.order_by("created_at", "item_uuid").values_list("id", "created_at", "item_uuid")
    sql, params = picked[: at_most + 1].query.sql_with_params()
    cursor.execute(
        f"INSERT INTO {WANTED} (pos, item_id) "
        f"SELECT ROW_NUMBER() OVER (ORDER BY s.created_at, s.item_uuid) - 1, s.id FROM ({sql}) s",
        params,
    )
    cursor.execute(f"SELECT COUNT(*) FROM {WANTED}")
    return cursor.fetchone()[0]


def wanted_summary(cursor, where: str = "", params: tuple = ()) -> list[tuple[int, str, int, int]]:
    """(folder id, item type, count, bytes) of the wanted items (matching `where` on w): one
    GROUP BY reading the items in id order."""
    cursor.execute(
        f"SELECT i.folder_id, i.item_type, COUNT(*), SUM(i.file_size) FROM {ITEMS} i "
        f"WHERE i.id IN (SELECT w.item_id FROM {WANTED} w {where}) GROUP BY i.folder_id, i.item_type",
        list(params),
    )
    return cursor.fetchall()


def wanted_uuids(cursor, where: str, params: list) -> list[uuid.UUID]:
    """The uuids of the wanted items matching `where` (on w), in request order."""
    cursor.execute(
        f"SELECT i.item_uuid FROM {WANTED} w JOIN {ITEMS} i ON i.id = w.item_id WHERE {where} ORDER BY w.pos",
        params,
    )
    return [uuid.UUID(str(u)) for (u,) in cursor.fetchall()]


# ---- checks -----------------------------------------------------------------------------------


def check_found(cursor, principal: Principal, wanted: list[str]) -> None:
    """Every uuid names an item; child items are named as such to a caller who may read them,
    other unknown uuids get the same answer as hidden items."""
    cursor.execute(f"SELECT pos FROM {WANTED} WHERE item_id IS NULL ORDER BY pos")
    absent = [uuid.UUID(wanted[pos]) for (pos,) in cursor.fetchall()]
    if not absent:
        return
    gate = FolderGate(principal)
    children = []
    for part in chunks(absent):
        members = m.DataRowMember.objects.select_related("item__folder").filter(image_hash__in=part)
        # Only a child the caller may read is named as a child; others are simply not found.
        children += [c.image_hash for c in members if gate.may(c.item.folder, Op.READ_FILES)]
    if children:
        raise InvalidArgumentError(
            f"{named(children, 'Item')} {'are child items' if len(children) > 1 else 'is a child item'} "
            "(a frame of an image group or a file of a DICOM series): link the group or series instead.",
            field="item_uuids",
        )
    raise AuthorisationError(f"{named(absent, 'Item')} do not exist or you do not have access to them")


def check_folders(cursor, principal: Principal, folder_ids: set[int]) -> None:
    """READ_FILES on the folder of every wanted item: decided once per distinct folder."""
    gate = FolderGate(principal)
    folders = m.StorageFolder.objects.in_bulk(folder_ids)
    refused = [pk for pk, folder in folders.items() if not gate.may(folder, Op.READ_FILES)]
    if refused:
        marks = ", ".join(["%s"] * len(refused))
        hidden = wanted_uuids(cursor, f"i.folder_id IN ({marks})", refused)
        raise AuthorisationError(f"{named(hidden, 'Item')} do not exist or you do not have access to them")


def check_not_linked(cursor, dataset: m.Dataset) -> None:
    """FAIL: ResourceExistsError naming the wanted items the dataset already links."""
    cursor.execute(
        f"SELECT i.item_uuid, i.name FROM {WANTED} w JOIN {ITEMS} i ON i.id = w.item_id "
        f"WHERE EXISTS (SELECT 1 FROM {ROWS} r WHERE r.dataset_id = %s AND r.item_id = w.item_id) ORDER BY w.pos",
        [dataset.pk],
    )
    already = [(uuid.UUID(str(u)), name) for u, name in cursor.fetchall()]
    if already:
        shown = ", ".join(f"{name!r} ({u})" for u, name in already[:SHOWN])
        raise ResourceExistsError(
            f"Dataset {dataset.title!r} already links {len(already)} of these items: {shown}.",
            item_uuids=[str(u) for u, _ in already[:SHOWN]],
        )


# ---- linking ----------------------------------------------------------------------------------


def link_wanted(cursor, principal: Principal, dataset: m.Dataset, duplicates: str) -> list[int]:
    """Checks READ_FILES on the wanted items' folders, inserts the rows (one INSERT ... SELECT),
    counts them on the dataset's stats and returns the row ids in request order: SKIP answers an
    already linked item with its oldest row, DUPLICATE with the new one. Called under the
    dataset's lock, once every wanted uuid is known to name an item.

    The rows go in in item order, so the dataset lists them in their folders' order and the
    indexes on item grow at their end: in request order a shuffled request of 100,000 items
    costs twice as much (random B-tree inserts through SQLite's 2 MB page cache)."""
    summary = wanted_summary(cursor)
    check_folders(cursor, principal, {folder_id for folder_id, *_ in summary})
    cursor.execute(f"SELECT 1 FROM {ROWS} WHERE dataset_id = %s LIMIT 1", [dataset.pk])
    had_rows = cursor.fetchone() is not None
    if had_rows and duplicates == "FAIL":
        check_not_linked(cursor, dataset)
    skip = had_rows and duplicates == "SKIP"
    where, params = "", ()
    if skip:
        where = f"WHERE NOT EXISTS (SELECT 1 FROM {ROWS} r WHERE r.dataset_id = %s AND r.item_id = w.item_id)"
        params = (dataset.pk,)
        summary = wanted_summary(cursor, where, params)
    now = timezone.now()
    stamp = connection.ops.adapt_datetimefield_value(now)
    cursor.execute(
        f"INSERT INTO {ROWS} (data_hash, dataset_id, item_id, created_at, last_edited_at) "
        f"SELECT {new_data_hash_sql()}, %s, w.item_id, %s, %s FROM {WANTED} w {where} ORDER BY w.item_id"
        + ("" if skip else " RETURNING id, item_id"),
        [dataset.pk, stamp, stamp, *params],
    )
    made = {} if skip else {item_id: pk for pk, item_id in cursor.fetchall()}
    if summary:
        dataset_stats.apply({dataset.pk: stats_delta(summary)})
        m.Dataset.objects.filter(pk=dataset.pk).update(last_edited_at=now)
    if not skip:
        # Every wanted item has its new row.
        cursor.execute(f"SELECT item_id FROM {WANTED} ORDER BY pos")
        return [made[item_id] for (item_id,) in cursor.fetchall()]
    cursor.execute(
        f"SELECT (SELECT r.id FROM {ROWS} r WHERE r.dataset_id = %s AND r.item_id = w.item_id "
        f"ORDER BY r.created_at, r.id LIMIT 1) FROM {WANTED} w ORDER BY w.pos",
        [dataset.pk],
    )
    return [pk for (pk,) in cursor.fetchall()]


def stats_delta(summary: list[tuple[int, str, int, int]]) -> dict[str, int]:
    """The dataset stats' increments for rows of these items (rows by type, bytes)."""
    delta: dict[str, int] = {}
    for _folder_id, item_type, count, size in summary:
        field = dataset_stats.TYPE_FIELDS[item_type]
        delta[field] = delta.get(field, 0) + count
        delta["total_bytes"] = delta.get("total_bytes", 0) + (size or 0)
    return delta


def link_items(
    principal: Principal, dataset_hash: object, item_uuids: Iterable[object], duplicates: str = "SKIP"
) -> LinkedRows:
    """One row per distinct requested item, in request order (a sequence reading rows with their
    items as used). `duplicates` decides items the dataset already links: SKIP returns the
    existing row, FAIL raises ResourceExistsError naming them (nothing linked), DUPLICATE makes
    another row. Bulk: about ten queries whatever the count, plus the checks per distinct folder."""
    dataset = require(principal, dataset_hash, Op.WRITE_DATA)
    check_request(dataset, duplicates)
    wanted = clean_uuids(item_uuids)
    with transaction.atomic(), connection.cursor() as cursor:
        # One linker per dataset at a time, so two SKIP calls never both add the same item.
        m.Dataset.objects.select_for_update().filter(pk=dataset.pk).values_list("pk").first()
        wanted_create(cursor)
        try:
            wanted_fill_uuids(cursor, wanted)
            check_found(cursor, principal, wanted)
            return LinkedRows(link_wanted(cursor, principal, dataset, duplicates))
        finally:
            cursor.execute(f"DROP TABLE IF EXISTS {WANTED}")


def link_items_matching(
    principal: Principal, dataset_hash: object, items: QuerySet, *, duplicates: str = "SKIP", at_most: int
) -> LinkedRows:
    """link_items for every item of a queryset (e.g. a folder's items matching a metadata filter),
    oldest first, without reading them into Python: the same checks (READ_FILES on each distinct
    folder of the items) and answer. InvalidArgumentError when none or more than `at_most` match."""
    dataset = require(principal, dataset_hash, Op.WRITE_DATA)
    check_request(dataset, duplicates)
    with transaction.atomic(), connection.cursor() as cursor:
        m.Dataset.objects.select_for_update().filter(pk=dataset.pk).values_list("pk").first()
        wanted_create(cursor)
        try:
            count = wanted_fill_query(cursor, items, at_most=at_most)
            if not count:
                raise InvalidArgumentError("No item matches: nothing to link.", field="item_uuids")
            if count > at_most:
                raise InvalidArgumentError(f"The filter matches more than {at_most} items: narrow it first.")
            return LinkedRows(link_wanted(cursor, principal, dataset, duplicates))
        finally:
            cursor.execute(f"DROP TABLE IF EXISTS {WANTED}")
