"""OpenAPI description of the Files API upload routes (api/v2/storage_uploads.py: #26, #29, #30,
#31), merged into /v2/public/openapi.json by openapi.document(). Shapes: storage protocol §3."""

from __future__ import annotations

from typing import Any

from .openapi import COMMON_ERRORS, JSON_OBJECT, TEXT, UUID

NULLABLE_STR = {"type": ["string", "null"]}
SUPPORTED = ["image", "video", "dicomFile"]
REFUSED_TYPES = ["group", "imageGroup", "imageSequence", "dicomSeries", "audio", "timeseries", "nifti", "plainText", "pdf", "scene"]


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json({"$ref": "#/components/schemas/Error"}, description)


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": UUID}


ERRORS = {
    "400": _error(
        "Invalid arguments: an unsupported item type or media list (supported: image, video, dicomFile; "
        "videos, images, imageGroups, dicomSeries), a placeholder not issued to the caller for this "
        "folder, not uploaded or already used, cloud objects without integrationHash, an unreadable "
        "private-files document; also NUL or an unpaired surrogate anywhere"
    ),
    "403": _error(
        "No such folder or upload job, or not visible to the caller (another folder's or another "
        "person's job answers the same); or the caller's role may not upload"
    ),
    "404": _error("A path segment that is not a lowercase UUID (no such route); or no such integrationHash"),
}

UPLOAD_SIGNED_URL = {
    "type": "object",
    "required": ["item_uuid", "object_key", "signed_url", "upload_headers"],
    "properties": {
        "item_uuid": {**UUID, "description": "The placeholder: the item (or frame) registered from this upload keeps it"},
        "object_key": {"type": "string"},
        "signed_url": {"type": "string", "description": "PUT the file's bytes here (no other authentication)"},
        "upload_headers": {"type": ["object", "null"]},
    },
}
SIGNED_URLS_BODY = {
    "type": "object",
    "required": ["itemType", "count"],
    "additionalProperties": False,
    "properties": {
        "itemType": {
            "enum": SUPPORTED,
            "description": "Any other StorageItemType (" + ", ".join(REFUSED_TYPES) + ") is refused with 400 "
            "naming the supported ones, before any byte moves.",
        },
        "count": {"type": "integer", "minimum": 1, "maximum": 1000},
        "framesSubfolderName": {"anyOf": [TEXT, {"type": "null"}], "description": "Accepted and ignored (the SDK never sends it)"},
    },
}

METADATA = {"type": "object", "propertyNames": TEXT, "additionalProperties": {"anyOf": [TEXT, {"type": ["number", "null"]}]}}
# Entries may carry keys this server does not read (ignored), but no NUL in them either.
OTHER_KEYS = {"propertyNames": TEXT, "additionalProperties": {"$ref": "#/components/schemas/JsonValue"}}
FILE_ENTRY = {
    "type": "object",
    **OTHER_KEYS,
    "required": ["url"],
    "properties": {"url": TEXT, "title": TEXT, "placeholderItemUuid": UUID, "imageMetadata": METADATA, "dicomMetadata": METADATA},
}


def _single(file_type: str, meta_key: str) -> dict[str, Any]:
    return {
        "type": "object",
        **OTHER_KEYS,
        "required": ["objectUrl"],
        "properties": {
            "objectUrl": {**TEXT, "description": "Ignored when placeholderItemUuid is given (the upload's key)"},
            "title": TEXT,
            "clientMetadata": JSON_OBJECT,
            "externalFileType": {"const": file_type},
            meta_key: METADATA,
            "placeholderItemUuid": UUID,
        },
    }


def _files_of(key: str, file_type: str, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        **OTHER_KEYS,
        "required": [key],
        "properties": {
            key: {"type": "array", "minItems": 1, "items": FILE_ENTRY},
            "title": TEXT,
            "clientMetadata": JSON_OBJECT,
            "externalFileType": {"const": file_type},
            **extra,
        },
    }


EMPTY_LIST = {"type": "array", "maxItems": 0, "description": "Not supported here: a non-empty list is refused with 400"}
DATA_ITEMS = {
    "type": "object",
    "additionalProperties": False,
    "description": "Either every entry (and every group/series file) names its placeholderItemUuid from "
    "upload-signed-urls (uploaded files), or none does (cloud objects read with integrationHash).",
    "properties": {
        "videos": {"type": "array", "items": _single("VIDEO", "videoMetadata")},
        "images": {"type": "array", "items": _single("IMAGE", "imageMetadata")},
        "imageGroups": {"type": "array", "items": _files_of("images", "IMG_GROUP", {"createVideo": {"type": "boolean"}})},
        "dicomSeries": {"type": "array", "items": _files_of("dicomFiles", "DICOM", {})},
        **{k: EMPTY_LIST for k in ("imageGroupsFromItems", "audio", "timeSeries", "nifti", "text", "pdf", "scenes")},
        "skipDuplicateUrls": {"type": "boolean", "description": "Skip items whose URL is already in this folder"},
        "upsertMetadata": {"type": "boolean", "description": "With skipDuplicateUrls: replace those items' clientMetadata"},
    },
}
START_BODY = {
    "type": "object",
    "additionalProperties": False,
    "oneOf": [
        {"required": ["dataItems"], "not": {"required": ["externalFiles"]}},
        {"required": ["externalFiles", "integrationHash"], "not": {"required": ["dataItems"]}},
    ],
    "properties": {
        "dataItems": DATA_ITEMS,
        "externalFiles": {**JSON_OBJECT, "description": "A private-files document (the dataset format), verbatim"},
        "integrationHash": UUID,
        "ignoreErrors": {"type": "boolean"},
        "fileName": {**TEXT, "description": "Echoed as file_name by the poll"},
    },
}
UNIT_ERROR = {
    "type": "object",
    "required": ["object_urls", "error", "subtask_uuid", "action_description"],
    "properties": {
        "object_urls": {"type": "array", "items": {"type": "string"}},
        "error": {"type": "string"},
        "subtask_uuid": UUID,
        "action_description": {"type": "string"},
    },
}
COUNT = {"type": "integer", "minimum": 0}
POLL_STATE = {
    "type": "object",
    "required": [
        "status", "items_with_names", "errors", "units_pending_count", "units_done_count", "units_error_count",
        "units_cancelled_count", "unit_errors", "file_name",
    ],
    "properties": {
        "status": {"enum": ["PENDING", "DONE", "ERROR", "CANCELLED"]},
        "items_with_names": {
            "type": "array",
            "description": "One per top-level item created, in input order",
            "items": {"type": "object", "required": ["item_uuid", "name"], "properties": {"item_uuid": UUID, "name": {"type": "string"}}},
        },
        "errors": {"type": "array", "items": {"type": "string"}},
        "units_pending_count": COUNT,
        "units_done_count": COUNT,
        "units_error_count": COUNT,
        "units_cancelled_count": COUNT,
        "unit_errors": {"type": "array", "items": UNIT_ERROR},
        "file_name": NULLABLE_STR,
    },
}


def _op(op_id: str, summary: str, ok: dict[str, Any], *, params=(), body=None, note: str = "") -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": op_id,
        "summary": summary,
        "description": note,
        "parameters": list(params),
        "responses": {**ok, **ERRORS, **COMMON_ERRORS},
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


FOLDER, JOB = _path("folder_uuid"), _path("job_uuid")
PREFIX = "/v2/public/storage/folders/{folder_uuid}"
TIMEOUT = {
    "name": "timeoutSeconds",
    "in": "query",
    "required": False,
    "schema": {"type": "number", "minimum": 0},
    "description": "The caller's whole wait (the SDK sends 604800); held at most 60 s. Absent or 0: at once.",
}

OPENAPI_PATHS: dict[str, Any] = {
    f"{PREFIX}/upload-signed-urls": {"post": _op(
        "folderUploadSignedUrls",
        "One signed PUT URL and placeholder item uuid per file, exactly count of them, one page (SDK upload_image, "
        "upload_video, create_image_group / _sequence, create_dicom_series: step 1).",
        {"200": _json({
            "type": "object",
            "required": ["results", "next_page_token"],
            "properties": {"results": {"type": "array", "items": UPLOAD_SIGNED_URL}, "next_page_token": {"type": "null"}},
        })},
        params=[FOLDER], body=SIGNED_URLS_BODY,
        note="Needs a role that may upload into the folder. Unused placeholders expire; open uploads per caller are limited.",
    )},
    f"{PREFIX}/data-upload-jobs": {"post": _op(
        "startFolderUploadJob",
        "Register uploaded files (dataItems with placeholders) or cloud objects (dataItems without, or "
        "externalFiles, with integrationHash) as items of the folder; answers the job uuid as a JSON string.",
        {"200": _json({**UUID, "description": "The job uuid"})},
        params=[FOLDER], body=START_BODY,
        note="Not retried by the SDK. A mirror folder's dataset gets a data row per item.",
    )},
    f"{PREFIX}/data-upload-jobs/{{job_uuid}}": {"get": _op(
        "pollFolderUploadJob",
        "The job's state, held until it ends or min(timeoutSeconds, 60 s) pass (SDK add_private_data_to_folder_get_result).",
        {"200": _json(POLL_STATE)}, params=[FOLDER, JOB, TIMEOUT],
    )},
    f"{PREFIX}/data-upload-jobs/{{job_uuid}}/cancel": {"post": _op(
        "cancelFolderUploadJob",
        "Stop the job's unfinished units; done ones keep their items. 0 for a repeat or an ended job.",
        {"200": _json({"type": "object", "required": ["units_cancelled_count"], "properties": {"units_cancelled_count": COUNT}})},
        params=[FOLDER, JOB],
    )},
}
