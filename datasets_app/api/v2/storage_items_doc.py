"""OpenAPI description of the Files API item routes (api/v2/storage_items.py), merged into
/v2/public/openapi.json by openapi.document(). Shapes: storage protocol §0.9 and §2."""

from __future__ import annotations

from typing import Any

from .openapi import BOOL_QUERY, COMMON_ERRORS, DATETIME, JSON_OBJECT, NULLABLE_UUID, TEXT, TITLE, UUID

WIRE_ITEM_TYPES = [
    "video", "image", "group", "imageGroup", "imageSequence", "dicomFile", "dicomSeries", "audio",
    "timeseries", "nifti", "plainText", "pdf", "scene",
]
NULLABLE_STR = {"type": ["string", "null"]}
NULLABLE_INT = {"type": ["integer", "null"]}
NULLABLE_NUMBER = {"type": ["number", "null"]}

STORAGE_ITEM: dict[str, Any] = {
    "type": "object",
    "required": [
        "uuid", "parent", "item_type", "name", "description", "client_metadata", "owner", "created_at",
        "last_edited_at", "backed_data_units_count", "storage_location", "integration_hash", "url",
        "signed_url", "file_size", "mime_type", "duration", "fps", "height", "width", "dicom_instance_uid",
        "dicom_study_uid", "dicom_series_uid", "frame_count", "audio_sample_rate", "audio_bit_depth",
        "audio_codec", "audio_num_channels",
    ],
    "properties": {
        "uuid": UUID,
        "parent": UUID,
        "item_type": {"enum": WIRE_ITEM_TYPES},
        "name": {"type": "string"},
        "description": {"type": "string"},
        "client_metadata": {"type": "string", "description": "JSON text of an object, never null"},
        "owner": {"type": "string"},
        "created_at": DATETIME,
        "last_edited_at": DATETIME,
        "is_tombstone": {"type": "boolean"},
        "is_placeholder": {"type": "boolean"},
        "backed_data_units_count": {"type": "integer", "minimum": 0},
        "storage_location": {"enum": ["encord", "gcp", "s3", "azure", "openTelekom", "directAccess", "s3Compatible"]},
        "integration_hash": NULLABLE_UUID,
        "url": NULLABLE_STR,
        "signed_url": NULLABLE_STR,
        "file_size": NULLABLE_INT,
        "mime_type": NULLABLE_STR,
        "duration": NULLABLE_NUMBER,
        "fps": NULLABLE_NUMBER,
        "height": NULLABLE_INT,
        "width": NULLABLE_INT,
        "dicom_instance_uid": NULLABLE_STR,
        "dicom_study_uid": NULLABLE_STR,
        "dicom_series_uid": NULLABLE_STR,
        "frame_count": NULLABLE_INT,
        "audio_sample_rate": {"type": "null"},
        "audio_bit_depth": {"type": "null"},
        "audio_codec": {"type": "null"},
        "audio_num_channels": {"type": "null"},
    },
}
ITEM_PAGE = {
    "type": "object",
    "required": ["results", "next_page_token"],
    "properties": {"results": {"type": "array", "items": STORAGE_ITEM}, "next_page_token": NULLABLE_STR},
}
ITEM_SUMMARY = {
    "type": "object",
    "required": ["frame_in_groups", "accessible_group_items", "used_in_datasets", "accessible_datasets"],
    "properties": {
        "frame_in_groups": {"type": "integer"},
        "accessible_group_items": {"type": "array"},
        "used_in_datasets": {"type": "integer"},
        "accessible_datasets": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["dataset_hash", "backing_folder_uuid", "title", "data_hashes", "data_units_created_at"],
                "properties": {
                    "dataset_hash": {"type": "string"},
                    "backing_folder_uuid": NULLABLE_UUID,
                    "title": {"type": "string"},
                    "data_hashes": {"type": "array", "items": UUID},
                    "data_units_created_at": DATETIME,
                },
            },
        },
    },
}
ITEM_PATCH = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": TITLE,
        "description": TEXT,
        "clientMetadata": JSON_OBJECT,
    },
}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json({"$ref": "#/components/schemas/Error"}, description)


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": UUID}


FORBIDDEN = {
    "403": _error("No such folder or item, or not visible to the caller; or the role does not allow it"),
    "404": _error("A path segment that is not a lowercase UUID: no such route"),
}
LISTING_QUERY = [
    _query("search", {**TEXT, "maxLength": 1024}),
    _query("isRecursive", BOOL_QUERY),
    _query("isInDataset", BOOL_QUERY),
    {"name": "itemTypes", "in": "query", "required": False, "schema": {"type": "array", "items": {"enum": WIRE_ITEM_TYPES}}, "style": "form", "explode": True},
    _query("order", {"enum": ["name", "createdAt"]}),
    _query("desc", BOOL_QUERY),
    _query("pageSize", {"type": "integer", "minimum": 1, "maximum": 1000}),
    _query("signUrls", BOOL_QUERY),
]


# Listings also take `pageToken`: the previous page's next_page_token, opaque (a made-up one is
# a 400). It is described, not listed, so that fuzzing does not send made-up tokens.
PAGED = " Paged: repeat the query with pageToken=<next_page_token> until it is null."


def _op(op_id: str, summary: str, ok: dict[str, Any], *, params=(), body=None, errors=FORBIDDEN) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": op_id,
        "summary": summary + (PAGED if any(p.get("name") == "pageSize" for p in params) else ""),
        "parameters": list(params),
        "responses": {**ok, **errors, **COMMON_ERRORS},
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


REENCODE_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["storageItems", "processTitle", "forceFullReencoding"],
    "properties": {
        "storageItems": {"type": "array", "items": UUID, "minItems": 1, "maxItems": 10_000},
        "processTitle": {**TEXT, "maxLength": 1024, "pattern": "^[^\\u0000-\\u001f]*$"},
        "forceFullReencoding": {"type": "boolean"},
    },
}
REENCODE_STATUS = {
    "type": "object",
    "required": ["status", "result"],
    "properties": {
        "status": {"enum": ["submitted", "done", "error"]},
        "result": {
            "type": ["array", "null"],
            "items": {
                "type": "object",
                "required": ["item_uuid", "signed_url", "status", "error"],
                "properties": {
                    "item_uuid": UUID,
                    "signed_url": {"type": "null"},
                    "status": {"enum": ["done", "error"]},
                    "error": NULLABLE_STR,
                },
            },
        },
    },
}
# Refusals of the re-encode routes are 400s naming the items or the process (protocol §7).
REENCODE_ERRORS = {"404": FORBIDDEN["404"]}
FOLDER, ITEM = _path("folder_uuid"), _path("item_uuid")
PREFIX = "/v2/public/storage"

OPENAPI_PATHS: dict[str, Any] = {
    f"{PREFIX}/items/get-bulk": {"post": _op(
        "getStorageItems", "Items by uuid, in request order, one page (SDK get_storage_items).", {"200": _json(ITEM_PAGE)},
        body={"type": "object", "additionalProperties": False, "required": ["itemUuids"], "properties": {"itemUuids": {"type": "array", "items": UUID}, "signUrls": {"type": "boolean"}}},
    )},
    f"{PREFIX}/items/patch-bulk": {"patch": _op(
        "patchStorageItems", "Update many items at once, all or none (SDK item.update(bundle=)).", {"200": _json(ITEM_PAGE)},
        body={"type": "object", "additionalProperties": False, "required": ["itemPatches"], "properties": {"itemPatches": {"type": "object", "propertyNames": UUID, "additionalProperties": ITEM_PATCH}}},
    )},
    f"{PREFIX}/items/reencode": {"post": _op(
        "reencodeStorageItems",
        "Re-encode video items in place, frame for frame; answers the process uuid (SDK folder.re_encode_videos). "
        "Unknown, hidden, read-only and non-video items are a 400 naming them.",
        {"200": _json(UUID)}, body=REENCODE_BODY, errors=REENCODE_ERRORS,
    )},
    f"{PREFIX}/items/reencode/{{process_uuid}}": {"get": _op(
        "storageReencodeStatus",
        "A re-encode process's status, one entry per item once finished (SDK folder.get_re_encoding_status). "
        "Someone else's process is a 400, as an unknown one.",
        {"200": _json(REENCODE_STATUS)}, params=[_path("process_uuid")], errors=REENCODE_ERRORS,
    )},
    f"{PREFIX}/items/{{item_uuid}}": {"get": _op(
        "getStorageItem", "One item, or a child by its uuid (SDK get_storage_item).", {"200": _json(STORAGE_ITEM)},
        params=[ITEM, _query("signUrl", BOOL_QUERY)],
    )},
    f"{PREFIX}/search/items": {"get": _op(
        "findStorageItems", "Items of every visible folder (SDK find_storage_items).", {"200": _json(ITEM_PAGE)},
        params=[*LISTING_QUERY, _query("includeOrgAccess", BOOL_QUERY)],
    )},
    f"{PREFIX}/folders/{{folder_uuid}}/items": {"get": _op(
        "listFolderItems", "A folder's items (SDK folder.list_items / find_items).", {"200": _json(ITEM_PAGE)},
        params=[FOLDER, *LISTING_QUERY, _query("includeClientMetadata", BOOL_QUERY), _query("clientMetadataAsSignedUrl", BOOL_QUERY)],
    )},
    f"{PREFIX}/folders/{{folder_uuid}}/items/delete": {"post": _op(
        "deleteFolderItems", "Delete items of the folder (SDK delete_storage_items, item.delete).",
        {"200": _json({"type": "object", "required": ["removed_items_count", "removed_folders_count"], "properties": {"removed_items_count": {"type": "integer"}, "removed_folders_count": {"type": "integer"}}})},
        params=[FOLDER],
        body={"type": "object", "additionalProperties": False, "required": ["childUuids"], "properties": {"childUuids": {"type": "array", "items": UUID}, "removeUnusedFrames": {"type": "boolean"}}},
    )},
    f"{PREFIX}/folders/{{folder_uuid}}/items/move": {"post": _op(
        "moveFolderItems", "Move items of the folder into another (SDK move_items_to_folder).", {"204": {"description": "Moved"}},
        params=[FOLDER],
        body={"type": "object", "additionalProperties": False, "required": ["itemUuids", "newParentUuid"], "properties": {"itemUuids": {"type": "array", "items": UUID}, "newParentUuid": UUID, "allowSyncedDatasetMove": {"type": "boolean"}}},
    )},
    f"{PREFIX}/folders/{{folder_uuid}}/create-group-items": {"post": _op(
        "createDataGroups", "Not supported: answered 400.", {}, params=[FOLDER], body={"type": "array", "items": JSON_OBJECT},
    )},
    f"{PREFIX}/folders/{{folder_uuid}}/items/{{item_uuid}}": {"patch": _op(
        "updateStorageItem", "Rename an item, replace its metadata (SDK item.update).", {"200": _json(STORAGE_ITEM)},
        params=[FOLDER, ITEM], body=ITEM_PATCH,
    )},
    f"{PREFIX}/folders/{{folder_uuid}}/items/{{item_uuid}}/summary": {"get": _op(
        "storageItemSummary", "Datasets using the item (SDK item.get_summary).", {"200": _json(ITEM_SUMMARY)},
        params=[FOLDER, ITEM, _query("includeGroupLayout", BOOL_QUERY)],
    )},
    f"{PREFIX}/folders/{{folder_uuid}}/items/{{item_uuid}}/child-items": {"get": _op(
        "storageChildItems", "Frames or DICOM files, in order, one page (SDK item.get_child_items).", {"200": _json(ITEM_PAGE)},
        params=[FOLDER, ITEM, _query("signUrls", BOOL_QUERY)],
    )},
}
