"""OpenAPI description of the Files API folder routes (api/v2/storage_folders.py), merged into
/v2/public/openapi.json by openapi.document(). Shapes: storage protocol §0.9, §1, §5."""

from __future__ import annotations

from typing import Any

from .openapi import COMMON_ERRORS, DATETIME, JSON_OBJECT, NULLABLE_UUID, TEXT, TITLE, UUID

# Python-style booleans as schemas.query_bool reads them: any case, 1 or 0.
BOOL_QUERY = {"type": "string", "pattern": "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0)$"}

NULLABLE_STR = {"type": ["string", "null"]}
PATH_ELEMENT = {
    "type": "object",
    "required": ["uuid", "parent_uuid", "name", "synced_dataset_hash"],
    "properties": {"uuid": UUID, "parent_uuid": NULLABLE_UUID, "name": {"type": "string"}, "synced_dataset_hash": NULLABLE_UUID},
}
STORAGE_FOLDER: dict[str, Any] = {
    "type": "object",
    "required": [
        "uuid", "parent", "name", "description", "client_metadata", "owner", "created_at", "last_edited_at",
        "user_role", "synced_dataset_hash", "path_to_root",
    ],
    "properties": {
        "uuid": UUID,
        "parent": NULLABLE_UUID,
        "name": {"type": "string"},
        "description": {"type": "string"},
        "client_metadata": {**NULLABLE_STR, "description": "JSON text of an object, or null"},
        "owner": {"type": "string"},
        "created_at": DATETIME,
        "last_edited_at": DATETIME,
        "user_role": {"enum": ["user", "admin"]},
        "synced_dataset_hash": NULLABLE_UUID,
        "path_to_root": {"type": "array", "items": PATH_ELEMENT, "description": "Ancestors, nearest first"},
        "folder_type": {"enum": ["generic"]},
        "integration_hash": {"type": "null"},
        "remote_url": {"type": "null"},
    },
}
FOLDER_PAGE = {
    "type": "object",
    "required": ["results", "next_page_token"],
    "properties": {"results": {"type": "array", "items": STORAGE_FOLDER}, "next_page_token": NULLABLE_STR},
}
EMPTY_PAGE = {
    "type": "object",
    "required": ["results", "next_page_token"],
    "properties": {"results": {"type": "array", "maxItems": 0}, "next_page_token": {"type": "null"}},
}
SUMMARY_KEYS = [
    "files", "folders", "videos", "images", "image_groups", "image_sequences", "dicom_files", "dicom_series",
    "niftis", "audios", "pdfs", "plain_texts", "tombstones", "upload_jobs",
]
FOLDER_SUMMARY = {
    "type": "object",
    "required": [*SUMMARY_KEYS, "total_size"],
    "properties": {**{k: {"type": "integer", "minimum": 0} for k in SUMMARY_KEYS}, "total_size": {"type": "number"}},
}
FOLDER_PATCH = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"name": TITLE, "description": {**TEXT, "maxLength": 10000}, "clientMetadata": JSON_OBJECT},
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
    "403": _error("No such folder, or not visible to the caller; or the role does not allow it"),
    "404": _error("A path UUID that is not a lowercase UUID: no such route"),
}
DONE = {"204": {"description": "Done (no body)"}}
LISTING_QUERY = [
    _query("search", {**TEXT, "maxLength": 1024}),
    _query("isRecursive", BOOL_QUERY),
    _query("datasetSynced", BOOL_QUERY),
    _query("order", {"enum": ["name", "createdAt"]}),
    _query("desc", BOOL_QUERY),
    _query("pageSize", {"type": "integer", "minimum": 1, "maximum": 1000}),
    {"name": "organisationTagNamesAllof", "in": "query", "required": False,
     "schema": {"type": "array", "items": TEXT}, "style": "form", "explode": True},
]


PAGING = (
    "Paged (protocol §0.5): pass a page's next_page_token back as pageToken (opaque; a token this "
    "listing did not give out is refused with 400) with the same other parameters, until it is null."
)
CREATE_NOTE = "cloudSyncedFolderParams is refused with 400: this server has no cloud-synced folders."


def _op(
    op_id: str, summary: str, ok: dict[str, Any], *, params=(), body=None, errors=FORBIDDEN, note: str = ""
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": op_id,
        "summary": summary,
        "description": note,
        "parameters": list(params),
        "responses": {**ok, **errors, **COMMON_ERRORS},
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


FOLDER = _path("folder_uuid")
PREFIX = "/v2/public/storage"
CREATE_BODY = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": TITLE,
        "description": {**TEXT, "maxLength": 10000},
        "parent": {**NULLABLE_UUID, "description": "absent or null: a top-level folder"},
        "clientMetadata": {
            "type": "string",
            "enum": ["{}", "{\"site\": \"north\"}"],
            "description": "JSON text of any JSON object (two examples listed, so generated requests stay valid)",
        },
    },
}

OPENAPI_PATHS: dict[str, Any] = {
    f"{PREFIX}/folders": {
        "get": _op(
            "listStorageFolders", "The caller's top-level folders (SDK list_storage_folders).", {"200": _json(FOLDER_PAGE)},
            params=[*LISTING_QUERY, _query("includeOrgAccess", BOOL_QUERY)], note=PAGING,
        ),
        "post": _op(
            "createStorageFolder", "Create a folder; the caller owns it (SDK create_storage_folder).",
            {"200": _json(STORAGE_FOLDER)}, body=CREATE_BODY, note=CREATE_NOTE,
        ),
    },
    f"{PREFIX}/folders/move": {"post": _op(
        "moveStorageFolders", "Move folders into another or to the top level (SDK folder.move_to_folder).", DONE,
        body={"type": "object", "required": ["folderUuids"], "additionalProperties": False, "properties": {"folderUuids": {"type": "array", "items": UUID, "minItems": 1, "maxItems": 1000}, "newParentUuid": UUID}},
    )},
    f"{PREFIX}/folders/patch-bulk": {"patch": _op(
        "patchStorageFolders", "Update many folders at once, all or none (SDK folder.update(bundle=)).", {"200": _json(FOLDER_PAGE)},
        body={"type": "object", "required": ["folderPatches"], "additionalProperties": False, "properties": {"folderPatches": {"type": "object", "propertyNames": {"format": "uuid"}, "additionalProperties": FOLDER_PATCH}}},
    )},
    f"{PREFIX}/search/folders": {"get": _op(
        "findStorageFolders", "Every visible folder at any depth (SDK find_storage_folders).", {"200": _json(FOLDER_PAGE)},
        params=[*LISTING_QUERY, _query("includeOrgAccess", BOOL_QUERY)], note=PAGING,
    )},
    f"{PREFIX}/items/migrate-storage": {"post": _op(
        "migrateStorage", "Not supported: answered 501.", {"501": _error("Cloud data migration is not supported")},
        body=JSON_OBJECT, errors={},
    )},
    "/v2/public/organisation/organisation-tags": {"get": _op(
        "listOrganisationTags", "This server has no organisation tags: an empty page.", {"200": _json(EMPTY_PAGE)}, errors={},
    )},
    f"{PREFIX}/folders/{{folder_uuid}}": {
        "get": _op("getStorageFolder", "One folder (SDK get_storage_folder).", {"200": _json(STORAGE_FOLDER)}, params=[FOLDER]),
        "patch": _op(
            "updateStorageFolder", "Rename, describe, replace metadata (SDK folder.update).", {"200": _json(STORAGE_FOLDER)},
            params=[FOLDER], body=FOLDER_PATCH,
        ),
        "delete": _op(
            "deleteStorageFolder", "Delete the folder and all in it; refused while it backs a dataset or its items back data rows.",
            DONE, params=[FOLDER],
        ),
    },
    f"{PREFIX}/folders/{{folder_uuid}}/folders": {"get": _op(
        "listSubfolders", "Children, or all descendants with isRecursive (SDK list_subfolders / find_subfolders).",
        {"200": _json(FOLDER_PAGE)}, params=[FOLDER, *LISTING_QUERY], note=PAGING,
    )},
    f"{PREFIX}/folders/{{folder_uuid}}/summary": {"get": _op(
        "storageFolderSummary", "Counts of direct children (SDK folder.get_summary).", {"200": _json(FOLDER_SUMMARY)}, params=[FOLDER],
    )},
    f"{PREFIX}/folders/{{folder_uuid}}/groups": {
        "get": _op("listFolderGroups", "No user groups here: an empty page.", {"200": _json(EMPTY_PAGE)}, params=[FOLDER]),
        "post": _op(
            "addFolderGroups", "No user groups here: 400.", {}, params=[FOLDER],
            body={"type": "object", "required": ["groupHashList", "userRole"], "additionalProperties": False, "properties": {"groupHashList": {"type": "array", "items": UUID}, "userRole": {"enum": ["user", "admin"]}}},
        ),
        "delete": _op(
            "removeFolderGroups", "Nothing to remove.", DONE,
            params=[FOLDER, {"name": "groupHashList", "in": "query", "required": False, "schema": {"type": "array", "items": UUID}, "style": "form", "explode": True}],
        ),
    },
    f"{PREFIX}/folders/{{folder_uuid}}/cloud-synced-folder-syncs": {"post": _op(
        "startCloudSync", "No folder is cloud-synced here: 400.", {}, params=[FOLDER],
    )},
    f"{PREFIX}/folders/{{folder_uuid}}/cloud-linked-folder-syncs/{{sync_job_uuid}}/long-polling": {"get": _op(
        "cloudSyncResult", "No folder is cloud-synced here: 400.", {}, params=[FOLDER, _path("sync_job_uuid"), _query("timeoutSeconds", {"type": "integer"})],
    )},
    f"{PREFIX}/folders/{{folder_uuid}}/folder-config": {
        "get": _op(
            "getFolderConfig", "Metadata ingestion is never on here.",
            {"200": _json({"type": "object", "required": ["metadata_ingestion"], "properties": {"metadata_ingestion": {"type": "null"}}})},
            params=[FOLDER],
        ),
        "post": _op("setFolderConfig", "Metadata ingestion is not supported: 400.", {}, params=[FOLDER], body=JSON_OBJECT),
    },
}
