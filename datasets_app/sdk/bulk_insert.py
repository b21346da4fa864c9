"""Bulk writes without the ORM's per-value compilation (the private import's rows and units).

Django's bulk_create/bulk_update spend ~0.2 ms per row compiling values; an import of 10,000
entries is dominated by it. These write the same columns with one executemany per table (COPY on
PostgreSQL). `blank_row` makes a row with its field defaults without Model.__init__'s cost;
`fast_insert_linked` writes storage items, the data rows linking them and their members."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Max, Model

from datasets_app import models as m

from . import dataset_stats


def _column_converters(model, connection) -> list[tuple[str, str, Any, Any]]:
    """(column, attname, converter or None, field) for every concrete non-pk field."""
    out = []
    ops = connection.ops
    native_uuid = connection.features.has_native_uuid_field

    def memo(convert):
        # Most values repeat (the same `now`, empty metadata): convert each distinct one once.
        last: list = [object(), None]

        def run(v):
            if v is not last[0] and not (isinstance(v, (dict, list)) and not v and v == last[0]):
                last[0], last[1] = v, convert(v)
            return last[1]

        return run

    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        kind = f.get_internal_type()
        if kind == "UUIDField":
            conv = None if native_uuid else (lambda v: v.hex if v is not None else None)
        elif kind == "JSONField":
            conv = memo(lambda v, f=f: ops.adapt_json_value(v, f.encoder))
        elif kind == "DateTimeField":
            conv = memo(ops.adapt_datetimefield_value)
        elif kind in (
            "CharField",
            "TextField",
            "IntegerField",
            "BigIntegerField",
            "SmallIntegerField",
            "FloatField",
            "BooleanField",
            "ForeignKey",
            "PositiveIntegerField",
            "PositiveSmallIntegerField",
        ):
            conv = None
        else:
            conv = lambda v, f=f: f.get_db_prep_save(v, connection)
        out.append((f.column, f.attname, conv, f))
    return out


class _Plain:
    """An attribute bag standing in for a model instance in fast_insert (no Model.__init__ cost)."""


_defaults_cache: dict = {}


def _defaults(model) -> tuple[dict, list]:
    if model not in _defaults_cache:
        consts, calls = {}, []
        for f in model._meta.concrete_fields:
            if f.primary_key:
                continue
            if f.has_default():
                if callable(f.default):
                    calls.append((f.attname, f.default))
                else:
                    consts[f.attname] = f.default
            else:
                consts[f.attname] = None
        _defaults_cache[model] = (consts, calls)
    return _defaults_cache[model]


def blank_row(model, **values) -> _Plain:
    """A row of `model` with its field defaults (fresh UUIDs, empty JSON) and `values` (attnames)."""
    consts, calls = _defaults(model)
    obj = _Plain()
    d = obj.__dict__
    d.update(consts)
    for attname, default in calls:
        d[attname] = default()
    d.update(values)
    return obj


def fast_insert(objs: list, *, now, model=None) -> None:
    """INSERTs model instances of one model in one executemany; auto_now(_add) fields get `now`.
    Primary keys are NOT set on the instances (select them back by a unique column if needed)."""
    from django.db import DEFAULT_DB_ALIAS, connections

    connection = connections[DEFAULT_DB_ALIAS]

    if not objs:
        return
    model = model or type(objs[0])
    columns = _column_converters(model, connection)
    for column, attname, conv, f in columns:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            for o in objs:
                if getattr(o, attname) is None or getattr(f, "auto_now", False):
                    setattr(o, attname, now)
    qn = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(
        qn(model._meta.db_table), ", ".join(qn(c) for c, _, _, _ in columns), ", ".join(["%s"] * len(columns))
    )
    getters = [(attname, conv) for _, attname, conv, _ in columns]
    params = [
        [conv(getattr(o, a)) if conv is not None else getattr(o, a) for a, conv in getters] for o in objs
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY: the server's bulk-load path, no statement per row (psycopg 3 adapts each value).
            names = ", ".join(qn(c) for c, _, _, _ in columns)
            with cursor.cursor.copy(f"COPY {qn(model._meta.db_table)} ({names}) FROM STDIN") as copy:
                for row in params:
                    copy.write_row(row)
        else:
            for start in range(0, len(params), 5000):
                cursor.executemany(sql, params[start : start + 5000])


def fast_mark_done(units: list[m.DataJobUnit], *, now) -> None:
    """PENDING -> DONE with each unit's results, in one executemany of conditional UPDATEs."""
    from django.db import connection

    if not units:
        return
    meta = m.DataJobUnit._meta
    qn = connection.ops.quote_name
    results_field = meta.get_field("results")
    sql = "UPDATE {} SET {} = %s, {} = %s, {} = %s WHERE {} = %s AND {} = %s".format(
        qn(meta.db_table), qn("status"), qn("results"), qn("finished_at"), qn("id"), qn("status")
    )
    when = connection.ops.adapt_datetimefield_value(now)
    params = [
        [
            m.JobStatus.DONE,
            connection.ops.adapt_json_value(u.results, results_field.encoder),
            when,
            u.pk,
            m.JobStatus.PENDING,
        ]
        for u in units
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _new_item_ids(folder_id: int, floor: int) -> tuple[dict, Any]:
    """{uuid key: id} of the folder's items above `floor`, and the key of a UUID. Raw SQL: the
    ORM's UUID conversion of 10,000 values costs more than the query (SQLite stores hex text)."""
    table, qn = m.StorageItem._meta.db_table, connection.ops.quote_name
    sql = f"SELECT {qn('item_uuid')}, {qn('id')} FROM {qn(table)} WHERE {qn('folder_id')} = %s AND {qn('id')} > %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [folder_id, floor])
        found = dict(cursor.fetchall())
    native = connection.features.has_native_uuid_field
    return found, (lambda u: u) if native else (lambda u: u.hex)


def fast_insert_linked(rows: list, *, now, members: list | None = None) -> None:
    """Inserts the rows' storage items (`row.item`, unsaved: models or blank_rows), all of one
    folder, then the rows linking them, then `members` (each `member.item` one of those items), one
    fast_insert per table. The items' primary keys are read back in one query: the folder's items
    above the highest id before the insert (ids only grow; an item someone else adds meanwhile is
    skipped by its uuid). Afterwards each item has its pk and each row and member its item_id."""
    if not rows:
        return
    items = [r.item for r in rows]
    folder_ids = {i.folder_id for i in items}
    if len(folder_ids) != 1:
        raise ValueError("fast_insert_linked writes the items of one folder at a time.")
    floor = m.StorageItem.objects.aggregate(top=Max("id"))["top"] or 0
    fast_insert(items, now=now, model=m.StorageItem)
    ids, key = _new_item_ids(folder_ids.pop(), floor)
    for row in rows:
        item = row.item
        item.id = ids[key(item.item_uuid)]
        if isinstance(row, Model):
            row.item = item  # sets item_id and keeps the item cached (row.title etc. need no query)
        else:
            row.item_id = item.id
    fast_insert(rows, now=now, model=m.DataRow)
    dataset_stats.rows_added(rows)
    if members:
        for member in members:
            member.item_id = member.item.id
        fast_insert(members, now=now, model=m.DataRowMember)
