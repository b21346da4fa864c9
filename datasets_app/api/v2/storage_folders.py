"""Files API, folders (storage protocol §1, §5, §8.1 #1-#14, #34-#38): routes and wire shapes.

Each handler parses, makes one call into sdk/storage_folders.py (or sdk/folder_settings.py) and
serialises. Literal routes (`move`, `patch-bulk`) come before the `<uuid:...>` ones."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpResponse, JsonResponse
from django.urls import path

from datasets_app.sdk import folder_settings
from datasets_app.sdk import storage_folders as sf
from datasets_app.sdk.exceptions import InvalidArgumentError
from datasets_app.sdk.folder_tree import Listing
from datasets_app.sdk.policy import Principal

from .. import schemas as s
from .base import V2Call, v2_endpoint

CREATE_KEYS = {"name", "description", "parent", "clientMetadata", "cloudSyncedFolderParams"}
PATCH_KEYS = {"name": "name", "description": "description", "clientMetadata": "client_metadata"}
EMPTY_PAGE: dict[str, Any] = {"results": [], "next_page_token": None}


# ---- wire shapes --------------------------------------------------------------------------------


def opt_uuid(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


def folder_wire(folder: sf.StorageFolderInfo) -> dict[str, Any]:
    """The StorageFolder object (§0.9), every key; client_metadata is JSON text or null (§0.4)."""
    return {
        "uuid": str(folder.uuid),
        "parent": opt_uuid(folder.parent_uuid),
        "name": folder.name,
        "description": folder.description,
        "client_metadata": None if folder.client_metadata is None else s.dumps(folder.client_metadata),
        "owner": folder.owner,
        "created_at": s.v2_datetime(folder.created_at),
        "last_edited_at": s.v2_datetime(folder.last_edited_at),
        "user_role": folder.user_role,
        "synced_dataset_hash": opt_uuid(folder.synced_dataset_hash),
        "path_to_root": [
            {
                "uuid": str(p.uuid),
                "parent_uuid": opt_uuid(p.parent_uuid),
                "name": p.name,
                "synced_dataset_hash": opt_uuid(p.synced_dataset_hash),
            }
            for p in folder.path_to_root
        ],
        "folder_type": "generic",
        "integration_hash": None,
        "remote_url": None,
    }


def page_wire(page: sf.FolderPage) -> dict[str, Any]:
    return {"results": [folder_wire(f) for f in page.results], "next_page_token": page.next_page_token}


def summary_wire(summary: sf.FolderSummary) -> dict[str, Any]:
    """StorageFolderSummary (§1.4): all 15 keys; the kinds this server does not hold are 0."""
    return {
        "files": summary.files,
        "folders": summary.folders,
        "videos": summary.videos,
        "images": summary.images,
        "image_groups": summary.image_groups,
        "image_sequences": summary.image_sequences,
        "dicom_files": summary.dicom_files,
        "dicom_series": summary.dicom_series,
        "niftis": 0,
        "audios": 0,
        "pdfs": 0,
        "plain_texts": 0,
        "tombstones": 0,
        "upload_jobs": summary.upload_jobs,
        "total_size": float(summary.total_size),
    }


def no_content() -> HttpResponse:
    return HttpResponse(status=204)


# ---- query strings (§0.2, §1.3) -----------------------------------------------------------------


def listing_of(call: V2Call) -> Listing:
    size = s.query_str(call.query, "pageSize") or "100"
    try:
        page_size = int(size)
    except ValueError:
        raise InvalidArgumentError(f"pageSize must be a number, not {size[:20]!r}.", field="pageSize") from None
    return Listing(
        order=s.query_str(call.query, "order") or "name",
        desc=s.query_bool(call.query, "desc"),
        page_size=page_size,
        page_token=s.query_str(call.query, "pageToken") or None,
    )


def filters_of(call: V2Call) -> dict[str, Any]:
    """search, datasetSynced and the listing; isRecursive is checked here too (the SDK sends it to
    every folder listing, but only subfolders reads it)."""
    s.query_bool(call.query, "isRecursive")
    synced = None
    if s.query_str(call.query, "datasetSynced") is not None:
        synced = s.query_bool(call.query, "datasetSynced")
    return {"search": s.query_str(call.query, "search"), "dataset_synced": synced, "listing": listing_of(call)}


def tagged(call: V2Call) -> bool:
    """No folder carries organisation tags here (the tags list is empty): a tag filter matches none."""
    return bool(call.query.getlist("organisationTagNamesAllof"))


def principal_of(call: V2Call) -> Principal:
    return call.user_client().principal


# ---- folders ------------------------------------------------------------------------------------


@v2_endpoint(methods=["GET", "POST"])
def folders(call: V2Call) -> Any:
    """GET storage/folders: the caller's top level (#3). POST: create a folder (#1)."""
    principal = principal_of(call)
    if call.request.method == "POST":
        body = call.json()
        s.only_keys(body, CREATE_KEYS, "body")
        created = sf.create_storage_folder(
            principal,
            body.get("name"),
            description=s.strict_str(body, "description"),
            client_metadata=body.get("clientMetadata"),
            parent_folder=body.get("parent"),
            cloud_synced_folder_params=body.get("cloudSyncedFolderParams"),
        )
        return folder_wire(created)
    org_access = s.query_bool(call.query, "includeOrgAccess")
    page = sf.list_storage_folders(principal, org_access=org_access, **filters_of(call))
    return EMPTY_PAGE if tagged(call) else page_wire(page)


@v2_endpoint(methods=["GET"])
def search_folders(call: V2Call) -> dict[str, Any]:
    """GET storage/search/folders: every reachable folder at any depth (#4; isRecursive ignored)."""
    org_access = s.query_bool(call.query, "includeOrgAccess")
    page = sf.find_storage_folders(principal_of(call), org_access=org_access, **filters_of(call))
    return EMPTY_PAGE if tagged(call) else page_wire(page)


@v2_endpoint(methods=["GET", "PATCH", "DELETE"])
def folder(call: V2Call, folder_uuid: uuid.UUID) -> Any:
    """GET (#2), PATCH (#8: given keys change, clientMetadata replaces), DELETE (#11, recursive)."""
    principal = principal_of(call)
    if call.request.method == "GET":
        return folder_wire(sf.get_storage_folder(principal, folder_uuid))
    if call.request.method == "DELETE":
        sf.delete_storage_folder(principal, folder_uuid)
        return no_content()
    changes = patch_of(call.json())
    return folder_wire(sf.update_storage_folder(principal, folder_uuid, **changes))


def patch_of(body: Any) -> dict[str, Any]:
    """A wire folder patch -> the SDK's keyword names (unknown keys refused)."""
    patch = s.obj(body, "folder patch", allow_none=False)
    s.only_keys(patch, set(PATCH_KEYS), "folder patch")
    if patch.get("clientMetadata") is not None and not isinstance(patch["clientMetadata"], dict):
        raise InvalidArgumentError("clientMetadata must be a JSON object.", field="clientMetadata")
    return {PATCH_KEYS[k]: v for k, v in patch.items()}


@v2_endpoint(methods=["PATCH"])
def patch_bulk(call: V2Call) -> dict[str, Any]:
    """PATCH storage/folders/patch-bulk (#9): all or nothing; one page of the updated folders."""
    body = call.json()
    s.only_keys(body, {"folderPatches"}, "body")
    patches = s.obj(body.get("folderPatches"), "folderPatches", allow_none=False)
    updated = sf.update_storage_folders(principal_of(call), {k: patch_of(v) for k, v in patches.items()})
    return {"results": [folder_wire(f) for f in updated], "next_page_token": None}


@v2_endpoint(methods=["POST"])
def move(call: V2Call) -> HttpResponse:
    """POST storage/folders/move (#10): newParentUuid absent = the top level."""
    body = call.json()
    s.only_keys(body, {"folderUuids", "newParentUuid"}, "body")
    uuids = s.str_list(body.get("folderUuids"), "folderUuids", max_items=sf.MAX_BULK)
    sf.move_storage_folders(principal_of(call), uuids, body.get("newParentUuid"))
    return no_content()


@v2_endpoint(methods=["GET"])
def subfolders(call: V2Call, folder_uuid: uuid.UUID) -> dict[str, Any]:
    """GET storage/folders/<f>/folders (#5): children, or every descendant with isRecursive=True."""
    recursive = s.query_bool(call.query, "isRecursive")
    page = sf.list_subfolders(principal_of(call), folder_uuid, recursive=recursive, **filters_of(call))
    return EMPTY_PAGE if tagged(call) else page_wire(page)


@v2_endpoint(methods=["GET"])
def summary(call: V2Call, folder_uuid: uuid.UUID) -> dict[str, Any]:
    """GET storage/folders/<f>/summary (#7): direct children."""
    return summary_wire(sf.get_folder_summary(principal_of(call), folder_uuid))


# ---- what this server does not have -------------------------------------------------------------


@v2_endpoint(methods=["GET", "POST", "DELETE"])
def groups(call: V2Call, folder_uuid: uuid.UUID) -> Any:
    """GET: no group has access (#12); POST: no group exists (#13, 400); DELETE: nothing to remove (#14)."""
    principal = principal_of(call)
    if call.request.method == "GET":
        return {"results": folder_settings.list_folder_groups(principal, folder_uuid), "next_page_token": None}
    if call.request.method == "POST":
        body = call.json()
        s.only_keys(body, {"groupHashList", "userRole"}, "body")
        folder_settings.add_folder_groups(principal, folder_uuid, s.str_list(body.get("groupHashList"), "groupHashList"))
        return no_content()  # not reached: no group exists, add_folder_groups refuses
    folder_settings.remove_folder_groups(principal, folder_uuid, call.query.getlist("groupHashList"))
    return no_content()


@v2_endpoint(methods=["POST"])
def cloud_sync_start(call: V2Call, folder_uuid: uuid.UUID) -> None:
    """#34: no folder here is cloud-synced (400)."""
    folder_settings.start_cloud_sync(principal_of(call), folder_uuid)


@v2_endpoint(methods=["GET"])
def cloud_sync_result(call: V2Call, folder_uuid: uuid.UUID, sync_job_uuid: uuid.UUID) -> None:
    """#35: no folder here is cloud-synced, so no sync job exists (400)."""
    folder_settings.get_cloud_sync_result(principal_of(call), folder_uuid, sync_job_uuid)


@v2_endpoint(methods=["GET", "POST"])
def folder_config(call: V2Call, folder_uuid: uuid.UUID) -> Any:
    """GET #36: {"metadata_ingestion": null}; POST #37: metadata ingestion is refused (400)."""
    principal = principal_of(call)
    if call.request.method == "GET":
        return folder_settings.get_folder_config(principal, folder_uuid)
    folder_settings.set_folder_config(principal, folder_uuid, call.json())
    return no_content()


@v2_endpoint(methods=["POST"])
def migrate_storage(call: V2Call) -> JsonResponse:
    """#38: cloud data migration is not implemented: 501 with a message (the SDK raises
    UnknownException with it and does not retry)."""
    principal_of(call)
    return JsonResponse(
        {"message": "Cloud data migration (migrate-storage) is not supported by this server."}, status=501
    )


@v2_endpoint(methods=["GET"])
def organisation_tags(call: V2Call) -> dict[str, Any]:
    """#6: this server has no organisation tags."""
    principal_of(call)
    return EMPTY_PAGE


FOLDER = "v2/public/storage/folders/<uuid:folder_uuid>"

urlpatterns = [
    path("v2/public/storage/folders", folders, name="api-v2-storage-folders"),
    path("v2/public/storage/folders/move", move, name="api-v2-storage-folders-move"),
    path("v2/public/storage/folders/patch-bulk", patch_bulk, name="api-v2-storage-folders-patch-bulk"),
    path("v2/public/storage/search/folders", search_folders, name="api-v2-storage-search-folders"),
    path("v2/public/storage/items/migrate-storage", migrate_storage, name="api-v2-storage-migrate"),
    path("v2/public/organisation/organisation-tags", organisation_tags, name="api-v2-organisation-tags"),
    path(FOLDER, folder, name="api-v2-storage-folder"),
    path(f"{FOLDER}/folders", subfolders, name="api-v2-storage-subfolders"),
    path(f"{FOLDER}/summary", summary, name="api-v2-storage-folder-summary"),
    path(f"{FOLDER}/groups", groups, name="api-v2-storage-folder-groups"),
    path(f"{FOLDER}/cloud-synced-folder-syncs", cloud_sync_start, name="api-v2-storage-cloud-sync-start"),
    path(
        f"{FOLDER}/cloud-linked-folder-syncs/<uuid:sync_job_uuid>/long-polling",
        cloud_sync_result,
        name="api-v2-storage-cloud-sync-result",
    ),
    path(f"{FOLDER}/folder-config", folder_config, name="api-v2-storage-folder-config"),
]
