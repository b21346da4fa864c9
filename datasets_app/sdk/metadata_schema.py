"""The organisation's custom-metadata schema (protocol §6): read by any account, written whole by
organisation admins, validated against the stored one; and its legacy flat form (§6.5).

The document is stored as the SDK sent it (snake_case, nulls kept) and answered back verbatim.
A save replaces it, with one addition: a key the new document leaves out is kept as a tombstone
(soft-deleted: restorable), so a hard delete can never be undone by omission and the SDK's
`restore_key` finds what it needs. That is also how the legacy flat form, which cannot express
deletions, replaces the schema.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from datasets_app import models as m
from datasets_app.models.metadata import ORGANISATION_ID

from .exceptions import InvalidArgumentError
from .policy import Op, Principal, require_org

MAX_KEYS = 5000
MAX_KEY_LENGTH = 256
VARIANT_HINTS = frozenset({"number", "varchar", "text", "boolean", "datetime", "uuid", "string", "long_string"})
# Every `ty` and the fields it may carry (§6.2); `ty` itself is implied.
FIELDS_OF_TY: dict[str, frozenset[str]] = {
    "variant": frozenset({"hint"}),
    "enum": frozenset({"values"}),
    "embedding": frozenset({"size", "api"}),
    "geospatial": frozenset(),
    "tombstone": frozenset({"deleted_ty"}),
    "number": frozenset({"format"}),
    "boolean": frozenset(),
    "text": frozenset(),
    "uuid": frozenset(),
    "user": frozenset(),
    "varchar": frozenset({"max_length"}),
    "datetime": frozenset({"timezone"}),
}
EMBEDDING_API_FIELDS = frozenset({"url", "path", "service_integration", "client_only", "embed_b64_image", "embed_text"})
# The simple type a live key has, from its v2 type (the search's typing, the legacy names' source).
SIMPLE_OF_HINT = {"string": "varchar", "long_string": "text"}
# Legacy name -> the v2 type written for a new key (§6.5); enum and embedding cannot be written.
LEGACY_WRITES = {
    "number": {"ty": "variant", "hint": "number"},
    "string": {"ty": "variant", "hint": "varchar"},
    "long_string": {"ty": "variant", "hint": "text"},
    "boolean": {"ty": "variant", "hint": "boolean"},
    "datetime": {"ty": "variant", "hint": "datetime"},
    "geospatial": {"ty": "geospatial"},
}
LEGACY_OF_SIMPLE = {
    "number": "number",
    "varchar": "string",
    "uuid": "string",
    "text": "long_string",
    "boolean": "boolean",
    "datetime": "datetime",
    "geospatial": "geospatial",
    "enum": "enum",
    "embedding": "embedding",
}
LEGACY_NAMES = frozenset(LEGACY_OF_SIMPLE.values())


@dataclass(frozen=True)
class LegacySchema:
    """The legacy route's answer (Encord's ClientMetadataSchema)."""

    uuid: uuid.UUID
    metadata_schema: dict[str, str]
    organisation_id: int
    created_at: dt.datetime
    updated_at: dt.datetime


def stored_document() -> dict[str, Any] | None:
    """The stored v2 document, None when the organisation has none (one query, no permission
    check: for the SDK layer's own use, e.g. typing a metadata search)."""
    row = m.MetadataSchema.objects.filter(pk=ORGANISATION_ID).only("document").first()
    return None if row is None else row.document


def get_schema(principal: Principal) -> dict[str, Any] | None:
    """The v2 document as stored (tombstones included), or None when there is none. One query."""
    require_org(principal, Op.READ_METADATA_SCHEMA, "Sign in with an account to read the metadata schema.")
    return stored_document()


def save_schema(principal: Principal, document: object) -> None:
    """Replaces the schema with `document` (a full snapshot, as MetadataSchema.save sends it).
    InvalidArgumentError naming the key when the document is malformed or changes a key in a
    way §6.2 does not allow (a hard-deleted key redefined, an enum losing values, ...)."""
    require_org(principal, Op.MANAGE_METADATA_SCHEMA, "Only organisation admins can change the metadata schema.")
    check_document(document)
    replace_document(principal, lambda old: dict(document))  # type: ignore[arg-type]


def get_legacy_schema(principal: Principal) -> LegacySchema | None:
    """The schema in the legacy flat form: live keys only, by legacy type name. One query."""
    require_org(principal, Op.READ_METADATA_SCHEMA, "Sign in with an account to read the metadata schema.")
    row = m.MetadataSchema.objects.filter(pk=ORGANISATION_ID).first()
    if row is None:
        return None
    flat = {}
    for key, simple in live_key_types(row.document).items():
        if simple in LEGACY_OF_SIMPLE:
            flat[key] = LEGACY_OF_SIMPLE[simple]
    return LegacySchema(
        uuid=row.schema_uuid,
        metadata_schema=flat,
        organisation_id=ORGANISATION_ID,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def save_legacy_schema(principal: Principal, flat: object) -> None:
    """Replaces the schema from the legacy flat map {key: legacy type name}. A key whose stored
    type already reads as the given name keeps its stored type (so get-then-set changes nothing);
    a new enum or embedding is refused (v2 needs its values or size)."""
    require_org(principal, Op.MANAGE_METADATA_SCHEMA, "Only organisation admins can change the metadata schema.")
    if not isinstance(flat, dict):
        raise InvalidArgumentError("The legacy metadata schema must be a JSON object {key: type name}.")
    if len(flat) > MAX_KEYS:
        raise InvalidArgumentError(f"A metadata schema holds at most {MAX_KEYS} keys.")
    for key, name in flat.items():
        check_key(key)
        if name not in LEGACY_NAMES:
            raise InvalidArgumentError(
                f"Key {key!r}: {name!r} is not a legacy metadata type (one of {', '.join(sorted(LEGACY_NAMES))})."
            )

    def translate(old: dict[str, Any]) -> dict[str, Any]:
        live = live_key_types(old)
        new: dict[str, Any] = {}
        for key, name in flat.items():
            if key in live and LEGACY_OF_SIMPLE.get(live[key]) == name:
                new[key] = old[key]
            elif name in LEGACY_WRITES:
                new[key] = dict(LEGACY_WRITES[name])
            else:
                raise InvalidArgumentError(
                    f"Key {key!r}: a legacy {name!r} cannot be converted to the v2 schema ("
                    + ("an enum needs its values: use metadata_schema().add_enum" if name == "enum" else
                       "an embedding needs its size: use metadata_schema().add_embedding")
                    + ")."
                )
        return new

    replace_document(principal, translate)


def replace_document(principal: Principal, build) -> None:
    """Locks the stored schema, builds the new document from the old (`build(old) -> new`),
    keeps left-out keys as tombstones, checks every change and stores it."""
    for attempt in range(2):
        try:
            with transaction.atomic():
                row, _ = m.MetadataSchema.objects.select_for_update().get_or_create(pk=ORGANISATION_ID)
                old = row.document or {}
                new = build(old)
                new.update(left_out_keys(old, new))
                check_changes(old, new)
                row.document = new
                row.updated_by = principal.user
                row.save()
                return
        except IntegrityError:
            # Two first saves raced to create the row: the loser retries against the winner's.
            if attempt:
                raise


def left_out_keys(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Tombstones for the stored keys that `new` does not mention."""
    kept = {}
    for key, ty in old.items():
        if key in new:
            continue
        kept[key] = ty if ty.get("ty") == "tombstone" else {"ty": "tombstone", "deleted_ty": ty}
    return kept


def live_key_types(document: dict[str, Any] | None) -> dict[str, str]:
    """{key: simple type} for the keys that are not deleted: number, varchar, text, boolean,
    datetime, uuid, enum, embedding, geospatial, user."""
    types = {}
    for key, ty in (document or {}).items():
        kind = ty.get("ty")
        if kind == "tombstone":
            continue
        if kind == "variant":
            hint = ty.get("hint", "text")
            kind = SIMPLE_OF_HINT.get(hint, hint)
        types[key] = kind
    return types


def check_key(key: object) -> None:
    """The SDK's key rules (§6.2): non-empty, no leading `$`, letters, digits, `-_ .`, not `keyframes`."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidArgumentError(f"Metadata key {str(key)[:80]!r} must be a string of 1 to {MAX_KEY_LENGTH} characters.")
    bare = key
    for extra in "-_ .":
        bare = bare.replace(extra, "")
    if key.startswith("$") or not bare or bare == "keyframes" or not bare.isalnum():
        raise InvalidArgumentError(
            f"Metadata key {key!r} is not allowed: use letters, digits, '-', '_', ' ' and '.', "
            "not starting with '$' (and not 'keyframes')."
        )


def check_document(document: object) -> None:
    """InvalidArgumentError naming the first malformed key or type of a v2 document."""
    if not isinstance(document, dict):
        raise InvalidArgumentError("The metadata schema must be a JSON object {key: type}.")
    if len(document) > MAX_KEYS:
        raise InvalidArgumentError(f"A metadata schema holds at most {MAX_KEYS} keys.")
    for key, ty in document.items():
        check_key(key)
        check_type(key, ty, tombstone_allowed=True)


def check_type(key: str, ty: object, *, tombstone_allowed: bool) -> None:
    if not isinstance(ty, dict) or ty.get("ty") not in FIELDS_OF_TY:
        raise InvalidArgumentError(
            f"Key {key!r}: the type must be an object whose 'ty' is one of {', '.join(sorted(FIELDS_OF_TY))}."
        )
    kind = ty["ty"]
    unknown = set(ty) - {"ty"} - FIELDS_OF_TY[kind]
    if unknown:
        raise InvalidArgumentError(
            f"Key {key!r}: unknown field(s) {', '.join(sorted(unknown))} for type {kind!r} (fields are snake_case)."
        )
    if kind == "tombstone":
        if not tombstone_allowed:
            raise InvalidArgumentError(f"Key {key!r}: a tombstone cannot hold another tombstone.")
        if ty.get("deleted_ty") is not None:
            check_type(key, ty["deleted_ty"], tombstone_allowed=False)
        return
    problem = type_field_problem(kind, ty)
    if problem:
        raise InvalidArgumentError(f"Key {key!r}: {problem}.")


def type_field_problem(kind: str, ty: dict[str, Any]) -> str:
    """What is wrong with a type's own fields ("" when nothing)."""
    if kind == "variant" and ty.get("hint", "text") not in VARIANT_HINTS:
        return f"hint must be one of {', '.join(sorted(VARIANT_HINTS))}"
    if kind == "enum":
        values = ty.get("values")
        if not isinstance(values, list) or not 1 <= len(values) <= 256 or not all(isinstance(v, str) for v in values):
            return "an enum's values must be a list of 1 to 256 strings"
    if kind == "embedding":
        size, api = ty.get("size"), ty.get("api")
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 4096:
            return "an embedding's size must be an integer from 1 to 4096"
        if api is not None and (not isinstance(api, dict) or set(api) - EMBEDDING_API_FIELDS):
            return f"an embedding's api must be null or an object of {', '.join(sorted(EMBEDDING_API_FIELDS))}"
    if kind == "number" and ty.get("format", "F64") not in ("F32", "F64"):
        return "a number's format must be F32 or F64"
    if kind == "varchar":
        length = ty.get("max_length", 8192)
        if not isinstance(length, int) or isinstance(length, bool) or not 0 <= length <= 8192:
            return "a varchar's max_length must be an integer from 0 to 8192"
    if kind == "datetime" and ty.get("timezone", "UTC") != "UTC":
        return "a datetime's timezone must be UTC"
    return ""


def check_changes(old: dict[str, Any], new: dict[str, Any]) -> None:
    """InvalidArgumentError naming the first key whose change §6.2 does not allow."""
    for key, after in new.items():
        before = old.get(key)
        if before is None or before == after:
            continue
        problem = change_problem(before, after)
        if problem:
            raise InvalidArgumentError(f"Key {key!r} {problem}.")


def change_problem(before: dict[str, Any], after: dict[str, Any]) -> str:
    """Why `before` may not become `after` ("" when it may)."""
    if before["ty"] == "tombstone":
        deleted = before.get("deleted_ty")
        if deleted is None:
            return "" if after == before else "was hard-deleted and cannot be redefined or restored"
        if after["ty"] == "tombstone" and after.get("deleted_ty") in (None, deleted):
            return ""
        if after == deleted or (deleted["ty"] == "variant" and after["ty"] == "variant"):
            return ""
        return f"was deleted as {describe(deleted)}: it can only be restored as that type"
    if after["ty"] == "tombstone":
        if after.get("deleted_ty") in (None, before):
            return ""
        return f"is {describe(before)}: a tombstone must record that type (or null for a hard delete)"
    if before["ty"] == "variant" and after["ty"] == "variant":
        return ""
    if before["ty"] == "enum" and after["ty"] == "enum":
        lost = sorted(set(before["values"]) - set(after["values"]))
        return f"is an enum and cannot lose values ({', '.join(lost)})" if lost else ""
    return f"is already defined as {describe(before)} and cannot be redefined as {describe(after)}"


def describe(ty: dict[str, Any]) -> str:
    if ty["ty"] == "variant":
        return f"a {ty.get('hint', 'text')} scalar"
    if ty["ty"] == "embedding":
        return f"an embedding of size {ty.get('size')}"
    return f"{'an' if ty['ty'][0] in 'aeiou' else 'a'} {ty['ty']}"
