"""OpenAPI description of the custom-metadata routes (api/v2/metadata.py): the organisation's
metadata schema (storage protocol §6, routes #39-#42) and our metadata search; merged into
/v2/public/openapi.json by openapi.document()."""

from __future__ import annotations

from typing import Any

from .openapi import COMMON_ERRORS, DATETIME, JSON_OBJECT, TEXT, UUID

NULLABLE_STR = {"type": ["string", "null"]}
NULLABLE_INT = {"type": ["integer", "null"]}
NULLABLE_NUMBER = {"type": ["number", "null"]}
ITEM_TYPES = ["video", "image", "imageGroup", "imageSequence", "dicomSeries"]

# A key as the SDK allows it (§6.2): letters, digits, '-', '_', ' ', '.', at least one letter or
# digit, not starting with '$', at most 256 characters, and not 'keyframes' once the separators go.
KEY = {
    "type": "string",
    "minLength": 1,
    "maxLength": 256,
    "pattern": "^[A-Za-z0-9_. -]*[A-Za-z0-9][A-Za-z0-9_. -]*$",
    "not": {"pattern": "^[-_. ]*k[-_. ]*e[-_. ]*y[-_. ]*f[-_. ]*r[-_. ]*a[-_. ]*m[-_. ]*e[-_. ]*s[-_. ]*$"},
}


def _ty(ty: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["ty"],
        "additionalProperties": False,
        "properties": {"ty": {"const": ty}, **fields},
    }


LIVE_TYPES = [
    _ty("variant", hint={"enum": ["number", "varchar", "text", "boolean", "datetime", "uuid", "string", "long_string"]}),
    _ty("enum", values={"type": "array", "minItems": 1, "maxItems": 256, "items": TEXT}),
    _ty(
        "embedding",
        size={"type": "integer", "minimum": 1, "maximum": 4096},
        api={"anyOf": [{"type": "null"}, JSON_OBJECT]},
    ),
    _ty("geospatial"),
    _ty("number", format={"enum": ["F32", "F64"]}),
    _ty("boolean"),
    _ty("text"),
    _ty("uuid"),
    _ty("user"),
    _ty("varchar", max_length={"type": "integer", "minimum": 0, "maximum": 8192}),
    _ty("datetime", timezone={"const": "UTC"}),
]
SCHEMA_TYPE = {"anyOf": [*LIVE_TYPES, _ty("tombstone", deleted_ty={"anyOf": [{"type": "null"}, *LIVE_TYPES]})]}
SCHEMA_V2 = {
    "type": "object",
    "maxProperties": 5000,
    "propertyNames": KEY,
    "additionalProperties": SCHEMA_TYPE,
    "description": "{key: type}, snake_case with nulls kept (§6.3); stored and answered verbatim. "
    "A stored key left out becomes a tombstone; a change §6.2 does not allow is a 400 naming the key.",
}
LEGACY_NAMES = ["number", "string", "long_string", "boolean", "datetime", "geospatial", "enum", "embedding"]
LEGACY_BODY = {
    "type": "object",
    "maxProperties": 5000,
    "propertyNames": KEY,
    "additionalProperties": {"enum": LEGACY_NAMES},
    "description": "{key: legacy type name} (§6.5). A new enum or embedding is a 400 (v2 needs its values or size).",
}
LEGACY_SCHEMA = {
    "type": ["object", "null"],
    "required": ["uuid", "metadata_schema", "organisation_id", "created_at", "updated_at"],
    "properties": {
        "uuid": UUID,
        "metadata_schema": {"type": "object", "additionalProperties": {"enum": LEGACY_NAMES}},
        "organisation_id": {"type": "integer"},
        "created_at": DATETIME,
        "updated_at": DATETIME,
    },
}
FOUND_ITEM = {
    "type": "object",
    "required": [
        "uuid", "parent", "name", "item_type", "client_metadata", "created_at", "last_edited_at", "file_size",
        "mime_type", "width", "height", "duration", "fps", "frame_count",
    ],
    "properties": {
        "uuid": UUID,
        "parent": UUID,
        "name": {"type": "string"},
        "item_type": {"enum": ITEM_TYPES},
        "client_metadata": {"type": "object", "description": "The item's metadata as a JSON object"},
        "created_at": DATETIME,
        "last_edited_at": DATETIME,
        "file_size": NULLABLE_INT,
        "mime_type": NULLABLE_STR,
        "width": NULLABLE_INT,
        "height": NULLABLE_INT,
        "duration": NULLABLE_NUMBER,
        "fps": NULLABLE_NUMBER,
        "frame_count": NULLABLE_INT,
    },
}
FOUND_ROW = {
    "type": "object",
    "required": ["data_hash", "backing_item_uuid", "data_title", "item_type", "client_metadata", "created_at"],
    "properties": {
        "data_hash": UUID,
        "backing_item_uuid": UUID,
        "data_title": {"type": "string"},
        "item_type": {"enum": ITEM_TYPES},
        "client_metadata": {"type": "object"},
        "created_at": DATETIME,
    },
}
OPS = "eq|ne|lt|le|gt|ge|between|in|contains|exists"
SEARCH_QUERY = [
    {
        "name": "meta",
        "in": "query",
        "required": False,
        "style": "form",
        "explode": True,
        "description": "Conditions, ANDed, `key:op[:value]` (e.g. weather:eq:rain, speed:between:10,20, "
        "tag:in:a,b or a JSON array, seen:exists:false); the key's type in the metadata schema decides "
        "the operators and how the value reads; a key the schema does not type takes `exists` only. "
        "A condition that does not fit is a 400 naming it. At most 20.",
        "schema": {
            "type": "array",
            "maxItems": 20,
            "items": {"type": "string", "maxLength": 1300, "pattern": f"^[^:\\u0000]+:({OPS})(:[^\\u0000]*)?$"},
        },
    },
    {"name": "pageSize", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
]
# Also `pageToken`: the previous page's next_page_token, opaque (a made-up one is a 400). Described,
# not listed, so that fuzzing does not send made-up tokens.
PAGED = "Oldest first; repeat the query with pageToken=<next_page_token> until it is null."


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json({"$ref": "#/components/schemas/Error"}, description)


def _page(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["results", "next_page_token"],
        "properties": {"results": {"type": "array", "maxItems": 1000, "items": item}, "next_page_token": NULLABLE_STR},
    }


def _op(op_id: str, summary: str, ok: dict[str, Any], errors: dict[str, Any], *, params=(), body=None) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": op_id,
        "summary": summary,
        "parameters": list(params),
        "responses": {**ok, **errors, **COMMON_ERRORS},
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


ADMINS_ONLY = {"403": _error("Only organisation admins change the metadata schema")}
SAVED = {"200": _json({"type": "null"}, "Saved (the body is null)")}
NOT_A_ROUTE = {"404": _error("A path segment that is not a lowercase UUID: no such route")}
SCHEMA_PREFIX = "/v2/public/organisation/client-metadata-schema"

OPENAPI_PATHS: dict[str, Any] = {
    f"{SCHEMA_PREFIX}-v2": {
        "get": _op(
            "getMetadataSchema", "The organisation's metadata schema as stored, or null (SDK metadata_schema()).",
            {"200": _json({"anyOf": [{"type": "null"}, SCHEMA_V2]})}, {},
        ),
        "post": _op(
            "saveMetadataSchema", "Replace the metadata schema (SDK MetadataSchema.save).", SAVED, ADMINS_ONLY,
            body=SCHEMA_V2,
        ),
    },
    SCHEMA_PREFIX: {
        "get": _op(
            "getLegacyMetadataSchema", "The schema's live keys by legacy type name, or null (SDK get_client_metadata_schema).",
            {"200": _json(LEGACY_SCHEMA)}, {},
        ),
        "post": _op(
            "saveLegacyMetadataSchema", "Replace the schema from a legacy flat map (SDK set_client_metadata_schema_from_dict).",
            SAVED, ADMINS_ONLY, body=LEGACY_BODY,
        ),
    },
    "/v2/public/storage/folders/{folder_uuid}/items/search": {"get": _op(
        "searchFolderItemsByMetadata", "The folder's items (not its subfolders') meeting every condition. " + PAGED,
        {"200": _json(_page(FOUND_ITEM))},
        {"403": _error("No such folder, or not visible to the caller"), **NOT_A_ROUTE},
        params=[{"name": "folder_uuid", "in": "path", "required": True, "schema": UUID}, *SEARCH_QUERY],
    )},
    "/v2/public/datasets/{dataset_uuid}/data-rows/search": {"get": _op(
        "searchDataRowsByMetadata", "The dataset's rows whose item meets every condition (users and the "
        "dataset's API keys). " + PAGED,
        {"200": _json(_page(FOUND_ROW))},
        {"403": _error("An API key of another dataset"), "404": _error("No such dataset, or not visible to the caller")},
        params=[{"name": "dataset_uuid", "in": "path", "required": True, "schema": UUID}, *SEARCH_QUERY],
    )},
}
