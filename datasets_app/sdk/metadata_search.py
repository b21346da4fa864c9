"""Search by custom metadata (ours; Encord's Files API has no server-side filter): typed
conditions on items' client_metadata, for a folder's items or a dataset's rows.

A condition is `key:op[:value]` (it fits in a URL: `?meta=weather:eq:rain&meta=speed:between:10,20`);
conditions are ANDed. The key's type comes from the organisation's metadata schema:

| type                     | operators                                           |
|--------------------------|-----------------------------------------------------|
| number                   | eq ne lt le gt ge between in exists                 |
| datetime (ISO strings)   | eq ne lt le gt ge between in exists                 |
| varchar, text, uuid      | eq ne in contains (case-insensitive) exists         |
| enum                     | eq ne in exists (values must be the enum's)         |
| boolean                  | eq ne exists                                        |
| embedding, geospatial... | exists                                              |

A key the schema does not type (or has deleted) allows `exists` only. `ne` matches items that
have the key with another value; `exists:false` those without it. A value of another JSON type
than the key's never matches (a string "10" is not the number 10).

PostgreSQL: eq/in/ne are JSONB containment (`client_metadata @> '{"k": v}'`), served by the GIN
jsonb_path_ops index of migration 0009; ranges, contains and exists read the candidate rows
(the folder's or dataset's index narrows them). SQLite: JSON1 (json_extract / json_type).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import Case, CharField, F, FloatField, Func, Q, QuerySet, TextField, When
from django.db.models.fields.json import KeyTextTransform, KeyTransform, compile_json_path
from django.db.models.functions import Cast, Collate
from django.db.models.lookups import In

from datasets_app import models as m

from .exceptions import InvalidArgumentError
from .folder_access import require_folder
from .metadata_schema import live_key_types, stored_document
from .policy import Op, Principal, require

MAX_CONDITIONS = 20
MAX_VALUE_LENGTH = 1000
MAX_IN_VALUES = 100
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

RANGE_OPS = frozenset({"lt", "le", "gt", "ge", "between"})
OPS_OF_TYPE: dict[str, frozenset[str]] = {
    "number": frozenset({"eq", "ne", "in", "exists"}) | RANGE_OPS,
    "datetime": frozenset({"eq", "ne", "in", "exists"}) | RANGE_OPS,
    "varchar": frozenset({"eq", "ne", "in", "contains", "exists"}),
    "text": frozenset({"eq", "ne", "in", "contains", "exists"}),
    "uuid": frozenset({"eq", "ne", "in", "contains", "exists"}),
    "enum": frozenset({"eq", "ne", "in", "exists"}),
    "boolean": frozenset({"eq", "ne", "exists"}),
}
ALL_OPS = frozenset().union(*OPS_OF_TYPE.values())
# What json_type (SQLite) / jsonb_typeof (PostgreSQL) call the JSON type a key's values have.
JSON_TYPES = {
    "sqlite": {"number": ("integer", "real"), "string": ("text",), "boolean": ("true", "false")},
    "postgresql": {"number": ("number",), "string": ("string",), "boolean": ("boolean",)},
}
JSON_TYPE_OF = {"number": "number", "boolean": "boolean"}  # every other typed key holds strings
# Byte-wise ordering for ISO datetimes whatever the database's collation.
BINARY_COLLATION = {"sqlite": "BINARY", "postgresql": "C"}


@dataclass(frozen=True)
class Condition:
    """One parsed condition: `operands` are typed (float, bool, str); `text` is as given."""

    key: str
    op: str
    key_type: str
    operands: tuple[Any, ...]
    text: str


class JsonKeyType(Func):
    """The JSON type of `field[key]` (None when the key is absent), in the database's words."""

    output_field = CharField()

    def __init__(self, field: str, key: str) -> None:
        super().__init__(F(field))
        self.key = key

    def as_postgresql(self, compiler, connection):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"jsonb_typeof({sql} -> %s)", (*params, self.key)

    def as_sqlite(self, compiler, connection):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"json_type({sql}, %s)", (*params, compile_json_path([self.key]))


def parse_conditions(texts: list[str], document: dict[str, Any] | None) -> list[Condition]:
    """Typed conditions from `key:op[:value]` texts, typed by the schema `document`.
    InvalidArgumentError naming the bad condition (no query)."""
    if len(texts) > MAX_CONDITIONS:
        raise InvalidArgumentError(f"At most {MAX_CONDITIONS} metadata conditions at once, not {len(texts)}.")
    types = live_key_types(document)
    return [parse_condition(text, types, document or {}) for text in texts]


def parse_condition(text: str, types: dict[str, str], document: dict[str, Any]) -> Condition:
    def bad(why: str) -> InvalidArgumentError:
        return InvalidArgumentError(f"Metadata condition {text[:200]!r}: {why}.", field="meta")

    key, sep, rest = text.partition(":")
    op, _, value = rest.partition(":")
    op = op.strip().lower()
    if not sep or not key:
        raise bad("write it as key:op:value, e.g. weather:eq:rain")
    if op not in ALL_OPS:
        raise bad(f"unknown operator {op!r} (use one of {', '.join(sorted(ALL_OPS))})")
    if len(value) > MAX_VALUE_LENGTH:
        raise bad(f"the value is longer than {MAX_VALUE_LENGTH} characters")
    key_type = types.get(key)
    allowed = OPS_OF_TYPE.get(key_type or "", frozenset()) | {"exists"}
    if op not in allowed:
        if key_type is None:
            raise bad(
                f"key {key!r} is not in the organisation's metadata schema, so only 'exists' applies; "
                "add it (metadata_schema().add_scalar) to compare its values"
            )
        raise bad(f"operator {op!r} does not apply to {key_type} key {key!r} (use {', '.join(sorted(allowed))})")
    if op == "exists":
        return Condition(key, op, key_type or "", (parse_bool(value or "true", bad),), text)
    operands = tuple(parse_operand(v, key_type or "", bad) for v in split_operands(op, value, bad))
    if key_type == "enum":
        unknown = [v for v in operands if v not in document[key].get("values", [])]
        if unknown:
            raise bad(f"{unknown[0]!r} is not a value of enum {key!r}")
    return Condition(key, op, key_type or "", operands, text)


def split_operands(op: str, value: str, bad) -> list[str]:
    if op == "in":
        values = json_list(value, bad) if value.startswith("[") else value.split(",")
        if not 1 <= len(values) <= MAX_IN_VALUES:
            raise bad(f"'in' takes 1 to {MAX_IN_VALUES} comma-separated values")
        return values
    if op == "between":
        values = value.split(",")
        if len(values) != 2:
            raise bad("'between' takes two comma-separated values, low,high")
        return values
    if value == "":
        raise bad(f"{op!r} needs a value")
    return [value]


def json_list(value: str, bad) -> list[str]:
    try:
        values = json.loads(value)
    except ValueError:
        raise bad("a value list starting with '[' must be a JSON array") from None
    if not isinstance(values, list):
        raise bad("a value list starting with '[' must be a JSON array")
    return [v if isinstance(v, str) else json.dumps(v) for v in values]


def parse_operand(value: str, key_type: str, bad) -> Any:
    if key_type == "number":
        try:
            number = float(value)
        except ValueError:
            raise bad(f"{value!r} is not a number") from None
        if not math.isfinite(number):
            raise bad(f"{value!r} is not a finite number")
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if key_type == "datetime":
        try:
            dt.datetime.fromisoformat(value)
        except ValueError:
            raise bad(f"{value!r} is not an ISO 8601 date or datetime") from None
        return value
    if key_type == "boolean":
        return parse_bool(value, bad)
    return value


def parse_bool(value: str, bad) -> bool:
    text = value.strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise bad(f"{value!r} is not a boolean (True or False)")


def apply_conditions(qs: QuerySet, conditions: list[Condition], *, field: str = "client_metadata") -> QuerySet:
    """`qs` narrowed to the rows whose JSON `field` (a path, e.g. item__client_metadata) meets
    every condition. No query until evaluated."""
    vendor = connections[qs.db].vendor
    for n, condition in enumerate(conditions):
        qs = apply_condition(qs, condition, field=field, vendor=vendor, alias=f"meta_{n}")
    return qs


def apply_condition(qs: QuerySet, c: Condition, *, field: str, vendor: str, alias: str) -> QuerySet:
    has_key = Q(**{f"{field}__has_key": c.key})
    if c.op == "exists":
        return qs.filter(has_key if c.operands[0] else ~has_key)
    if c.op in ("eq", "in", "ne"):
        if vendor != "postgresql":
            qs = qs.alias(**{alias: KeyTransform(c.key, field)})
        matches = Q()
        for operand in c.operands:
            matches |= equals(c, operand, field=field, vendor=vendor, alias=alias)
        if c.op == "ne":
            return qs.filter(has_key).exclude(matches)
        return qs.filter(matches)
    qs = qs.alias(**{alias: typed_value(c, field=field, vendor=vendor)})
    if c.op == "contains":
        return qs.filter(**{f"{alias}__icontains": c.operands[0]})
    if c.op == "between":
        return qs.filter(**{f"{alias}__gte": c.operands[0], f"{alias}__lte": c.operands[1]})
    lookup = {"lt": "lt", "le": "lte", "gt": "gt", "ge": "gte"}[c.op]
    return qs.filter(**{f"{alias}__{lookup}": c.operands[0]})


def equals(c: Condition, operand: Any, *, field: str, vendor: str, alias: str) -> Q:
    """The key equals `operand` with the same JSON type (`alias`: the key's value on SQLite)."""
    if vendor == "postgresql":
        # JSONB containment: served by the GIN jsonb_path_ops index, and type-exact (10 == 10.0).
        return Q(**{f"{field}__contains": {c.key: operand}})
    # json_extract loses the JSON type (true is 1): compare the type too.
    same_type = In(JsonKeyType(field, c.key), list(JSON_TYPES[vendor][JSON_TYPE_OF.get(c.key_type, "string")]))
    return Q(same_type) & Q(**{alias: operand})


def typed_value(c: Condition, *, field: str, vendor: str):
    """The key's value as a number (numbers), byte-ordered text (datetimes) or text, NULL when
    its JSON type is not the key's: a CASE, so a non-number is never cast."""
    json_type = JSON_TYPE_OF.get(c.key_type, "string")
    text = KeyTextTransform(c.key, field)
    if c.key_type == "number":
        value = Cast(text, FloatField())
    elif c.key_type == "datetime":
        value = Collate(Cast(text, TextField()), BINARY_COLLATION[vendor])
    else:
        value = Cast(text, TextField())
    is_type = In(JsonKeyType(field, c.key), list(JSON_TYPES[vendor][json_type]))
    return Case(When(is_type, then=value), default=None, output_field=value.output_field)


def search_folder_items(
    principal: Principal,
    folder_uuid: object,
    meta: list[str],
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    page_token: str | None = None,
) -> tuple[list[m.StorageItem], str | None]:
    """A page of the folder's items (not its subfolders') meeting every condition, oldest first,
    and the next page's token (None at the end). READ_FILES on the folder; 2 queries + the page."""
    folder = require_folder(principal, folder_uuid, Op.READ_FILES)
    conditions = parse_conditions(meta, stored_document())
    qs = apply_conditions(m.StorageItem.objects.filter(folder=folder).select_related("folder"), conditions)
    return keyset_page(qs, "item_uuid", page_size=page_size, page_token=page_token)


def search_dataset_rows(
    principal: Principal,
    dataset_hash: object,
    meta: list[str],
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    page_token: str | None = None,
) -> tuple[list[m.DataRow], str | None]:
    """A page of the dataset's rows whose item meets every condition (rows read their item's
    metadata), oldest first, and the next page's token. READ on the dataset (users and keys)."""
    dataset = require(principal, dataset_hash, Op.READ)
    conditions = parse_conditions(meta, stored_document())
    qs = m.DataRow.objects.filter(dataset=dataset).select_related("item")
    qs = apply_conditions(qs, conditions, field="item__client_metadata")
    return keyset_page(qs, "data_hash", page_size=page_size, page_token=page_token)


def keyset_page(qs: QuerySet, id_field: str, *, page_size: int, page_token: str | None) -> tuple[list, str | None]:
    """Rows ordered by (created_at, public id) after the token's position, at most `page_size`."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidArgumentError(f"pageSize must be from 1 to {MAX_PAGE_SIZE}, not {page_size}.", field="pageSize")
    if page_token:
        after, after_id = decode_token(page_token)
        qs = qs.filter(created_at__gte=after).filter(
            Q(created_at__gt=after) | Q(created_at=after, **{f"{id_field}__gt": after_id})
        )
    rows = list(qs.order_by("created_at", id_field)[: page_size + 1])
    if len(rows) <= page_size:
        return rows, None
    rows = rows[:page_size]
    return rows, encode_token(rows[-1].created_at, getattr(rows[-1], id_field))


def encode_token(created_at: dt.datetime, public_id: uuid.UUID) -> str:
    raw = json.dumps({"c": created_at.isoformat(), "u": str(public_id)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> tuple[dt.datetime, uuid.UUID]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return dt.datetime.fromisoformat(data["c"]), uuid.UUID(data["u"])
    except (ValueError, KeyError, TypeError):
        raise InvalidArgumentError("pageToken is not a token this search gave.", field="pageToken") from None
