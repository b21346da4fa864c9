"""Files API, items (storage protocol §2, §7; endpoint table #15-#25, #43-#44): parse, one call
into sdk/storage_items.py, sdk/storage_item_changes.py or sdk/storage_reencode.py, serialise. `storage_item_v2` is the one
StorageItem wire dict (every key of §0.9), for the folder and upload routes too."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.http import HttpResponse
from django.urls import path

from datasets_app.sdk import storage_item_changes as changes
from datasets_app.sdk import storage_items as items
from datasets_app.sdk import storage_reencode as reencode
from datasets_app.sdk.exceptions import InvalidArgumentError

from .. import schemas as s
from .base import V2Call, v2_endpoint


def storage_item_v2(info: items.ItemInfo) -> dict[str, Any]:
    """A StorageItem (§0.9) with every key: client_metadata a JSON string (never null), audio keys
    null, signed_url only when it was asked for."""
    return {
        "uuid": str(info.uuid),
        "parent": str(info.parent),
        "item_type": info.item_type,
        "name": info.name,
        "description": "",
        "client_metadata": json.dumps(info.client_metadata or {}),
        "owner": info.owner,
        "created_at": s.v2_datetime(info.created_at),
        "last_edited_at": s.v2_datetime(info.last_edited_at),
        "is_tombstone": False,
        "is_placeholder": False,
        "backed_data_units_count": info.backed_data_units_count,
        "storage_location": info.storage_location,
        "integration_hash": str(info.integration_hash) if info.integration_hash else None,
        "url": info.url,
        "signed_url": info.signed_url,
        "file_size": info.file_size,
        "mime_type": info.mime_type,
        "duration": info.duration,
        "fps": info.fps,
        "height": info.height,
        "width": info.width,
        "dicom_instance_uid": info.dicom_instance_uid,
        "dicom_study_uid": info.dicom_study_uid,
        "dicom_series_uid": info.dicom_series_uid,
        "frame_count": info.frame_count,
        "audio_sample_rate": None,
        "audio_bit_depth": None,
        "audio_codec": None,
        "audio_num_channels": None,
    }


def page_v2(results: list[items.ItemInfo], token: str | None = None) -> dict[str, Any]:
    return {"results": [storage_item_v2(i) for i in results], "next_page_token": token}


def item_summary_v2(summary: items.ItemSummary) -> dict[str, Any]:
    return {
        "frame_in_groups": summary.frame_in_groups,
        "accessible_group_items": [
            {
                "uuid": str(g.uuid),
                "name": g.name,
                "parent_uuid": str(g.parent_uuid),
                "parent_name": g.parent_name,
                "item_type": g.item_type,
            }
            for g in summary.accessible_group_items
        ],
        "used_in_datasets": summary.used_in_datasets,
        "accessible_datasets": [
            {
                "dataset_hash": str(d.dataset_hash),
                "backing_folder_uuid": str(d.backing_folder_uuid) if d.backing_folder_uuid else None,
                "title": d.title,
                "data_hashes": [str(h) for h in d.data_hashes],
                "data_units_created_at": s.v2_datetime(d.data_units_created_at),
            }
            for d in summary.accessible_datasets
        ],
    }


def item_query(call: V2Call) -> items.ItemQuery:
    """A listing's query string (§0.2, §2.4) as an ItemQuery."""
    q = call.query
    size = s.query_str(q, "pageSize")
    try:
        page_size = int(size) if size is not None else 100
    except ValueError:
        raise InvalidArgumentError(f"pageSize must be a whole number, not {size!r}.", field="pageSize") from None
    return items.ItemQuery(
        search=s.query_str(q, "search"),
        item_types=tuple(q.getlist("itemTypes")),
        is_in_dataset=s.query_bool(q, "isInDataset") if "isInDataset" in q else None,
        recursive=s.query_bool(q, "isRecursive"),
        order=s.query_str(q, "order") or "name",
        desc=s.query_bool(q, "desc"),
        page_size=page_size,
        page_token=s.query_str(q, "pageToken") or None,
        sign_urls=s.query_bool(q, "signUrls"),
        include_metadata=s.query_bool(q, "includeClientMetadata", True),
    )


def base_url(call: V2Call) -> str:
    return call.request.build_absolute_uri("/")


def principal_of(call: V2Call):
    return call.user_client().principal


# ---- reads -------------------------------------------------------------------------------------


@v2_endpoint(methods=["GET"])
def get_item(call: V2Call, item_uuid: uuid.UUID) -> dict[str, Any]:
    """#15 GET storage/items/<i>?signUrl= -> StorageItem."""
    info = items.get_storage_item(
        principal_of(call), item_uuid, sign_url=s.query_bool(call.query, "signUrl"), base_url=base_url(call)
    )
    return storage_item_v2(info)


@v2_endpoint(methods=["POST"])
def get_items_bulk(call: V2Call) -> dict[str, Any]:
    """#16 POST storage/items/get-bulk {itemUuids, signUrls} -> one page, in request order."""
    body = call.json()
    s.only_keys(body, {"itemUuids", "signUrls"}, "body")
    found = items.get_storage_items(
        principal_of(call),
        s.str_list(body.get("itemUuids"), "itemUuids", max_items=items.MAX_BULK_ITEMS),
        sign_urls=s.strict_bool(body, "signUrls", False),
        base_url=base_url(call),
    )
    return page_v2(found)


@v2_endpoint(methods=["GET"])
def search_items(call: V2Call) -> dict[str, Any]:
    """#17 GET storage/search/items (find_storage_items, deprecated): every visible folder."""
    page = items.find_storage_items(
        principal_of(call),
        item_query(call),
        include_org_access=s.query_bool(call.query, "includeOrgAccess"),
        base_url=base_url(call),
    )
    return page_v2(page.results, page.next_page_token)


@v2_endpoint(methods=["GET"])
def list_folder_items(call: V2Call, folder_uuid: uuid.UUID) -> dict[str, Any]:
    """#18 GET storage/folders/<f>/items (list_items, find_items)."""
    page = items.list_items(principal_of(call), folder_uuid, item_query(call), base_url=base_url(call))
    return page_v2(page.results, page.next_page_token)


@v2_endpoint(methods=["GET"])
def item_summary(call: V2Call, folder_uuid: uuid.UUID, item_uuid: uuid.UUID) -> dict[str, Any]:
    """#19 GET storage/folders/<f>/items/<i>/summary."""
    return item_summary_v2(items.get_item_summary(principal_of(call), folder_uuid, item_uuid))


@v2_endpoint(methods=["GET"])
def child_items(call: V2Call, folder_uuid: uuid.UUID, item_uuid: uuid.UUID) -> dict[str, Any]:
    """#20 GET storage/folders/<f>/items/<i>/child-items?signUrls= -> one page, sequence order."""
    found = items.get_child_items(
        principal_of(call),
        folder_uuid,
        item_uuid,
        sign_urls=s.query_bool(call.query, "signUrls"),
        base_url=base_url(call),
    )
    return page_v2(found)


# ---- changes -----------------------------------------------------------------------------------


@v2_endpoint(methods=["PATCH"])
def update_item(call: V2Call, folder_uuid: uuid.UUID, item_uuid: uuid.UUID) -> dict[str, Any]:
    """#21 PATCH storage/folders/<f>/items/<i> {name?, description?, clientMetadata?}."""
    patch = changes.parse_item_patch(call.json())
    return storage_item_v2(changes.update_item(principal_of(call), folder_uuid, item_uuid, patch))


@v2_endpoint(methods=["PATCH"])
def patch_items_bulk(call: V2Call) -> dict[str, Any]:
    """#22 PATCH storage/items/patch-bulk {itemPatches: {uuid: patch}} -> one page."""
    body = call.json()
    s.only_keys(body, {"itemPatches"}, "body")
    patches = s.obj(body.get("itemPatches"), "itemPatches", allow_none=False)
    parsed = {key: changes.parse_item_patch(s.obj(p, f"itemPatches[{key}]")) for key, p in patches.items()}
    return page_v2(changes.update_items(principal_of(call), parsed))


@v2_endpoint(methods=["POST"])
def delete_items(call: V2Call, folder_uuid: uuid.UUID) -> dict[str, Any]:
    """#23 POST storage/folders/<f>/items/delete {childUuids, removeUnusedFrames}."""
    body = call.json()
    s.only_keys(body, {"childUuids", "removeUnusedFrames"}, "body")
    result = changes.delete_items(
        principal_of(call),
        folder_uuid,
        s.str_list(body.get("childUuids"), "childUuids"),
        remove_unused_frames=s.strict_bool(body, "removeUnusedFrames", True),
    )
    return {"removed_items_count": result.removed_items_count, "removed_folders_count": result.removed_folders_count}


@v2_endpoint(methods=["POST"])
def move_items(call: V2Call, folder_uuid: uuid.UUID) -> HttpResponse:
    """#24 POST storage/folders/<f>/items/move {itemUuids, newParentUuid, allowSyncedDatasetMove} -> 204."""
    body = call.json()
    s.only_keys(body, {"itemUuids", "newParentUuid", "allowSyncedDatasetMove"}, "body")
    changes.move_items(
        principal_of(call),
        folder_uuid,
        s.str_list(body.get("itemUuids"), "itemUuids"),
        s.uuid_str(body.get("newParentUuid"), "newParentUuid"),
        allow_synced_dataset_move=s.strict_bool(body, "allowSyncedDatasetMove", False),
    )
    return HttpResponse(status=204)


@v2_endpoint(methods=["POST"])
def create_group_items(call: V2Call, folder_uuid: uuid.UUID) -> None:
    """#25 POST storage/folders/<f>/create-group-items: data groups are refused (400)."""
    changes.create_data_groups(principal_of(call), folder_uuid)


@v2_endpoint(methods=["POST"])
def storage_reencode(call: V2Call) -> str:
    """#43 POST storage/items/reencode {storageItems, processTitle, forceFullReencoding} -> the
    process uuid as a JSON string (folder.re_encode_videos)."""
    body = call.json()
    s.only_keys(body, {"storageItems", "processTitle", "forceFullReencoding"}, "body")
    process = reencode.start_reencode(
        principal_of(call),
        s.str_list(body.get("storageItems"), "storageItems", max_items=reencode.MAX_ITEMS),
        body.get("processTitle"),
        body.get("forceFullReencoding"),
    )
    return str(process)


@v2_endpoint(methods=["GET"])
def storage_reencode_status(call: V2Call, process_uuid: uuid.UUID) -> dict[str, Any]:
    """#44 GET storage/items/reencode/<p> -> {status (lower case), result: one entry per item once
    finished, else null} (folder.get_re_encoding_status)."""
    state = reencode.reencode_status(principal_of(call), process_uuid)
    result = None
    if state.result is not None:
        result = [
            {"item_uuid": str(o.item_uuid), "signed_url": None, "status": o.status, "error": o.error}
            for o in state.result
        ]
    return {"status": state.status, "result": result}


urlpatterns = [
    # Literal segments before the <uuid> routes (§8.1 "Django routing").
    path("v2/public/storage/items/get-bulk", get_items_bulk, name="api-v2-storage-items-get-bulk"),
    path("v2/public/storage/items/patch-bulk", patch_items_bulk, name="api-v2-storage-items-patch-bulk"),
    path("v2/public/storage/items/reencode", storage_reencode, name="api-v2-storage-items-reencode"),
    path(
        "v2/public/storage/items/reencode/<uuid:process_uuid>",
        storage_reencode_status,
        name="api-v2-storage-items-reencode-status",
    ),
    path("v2/public/storage/items/<uuid:item_uuid>", get_item, name="api-v2-storage-item"),
    path("v2/public/storage/search/items", search_items, name="api-v2-storage-search-items"),
    path("v2/public/storage/folders/<uuid:folder_uuid>/items", list_folder_items, name="api-v2-folder-items"),
    path("v2/public/storage/folders/<uuid:folder_uuid>/items/delete", delete_items, name="api-v2-folder-items-delete"),
    path("v2/public/storage/folders/<uuid:folder_uuid>/items/move", move_items, name="api-v2-folder-items-move"),
    path(
        "v2/public/storage/folders/<uuid:folder_uuid>/create-group-items",
        create_group_items,
        name="api-v2-folder-create-group-items",
    ),
    path(
        "v2/public/storage/folders/<uuid:folder_uuid>/items/<uuid:item_uuid>",
        update_item,
        name="api-v2-folder-item",
    ),
    path(
        "v2/public/storage/folders/<uuid:folder_uuid>/items/<uuid:item_uuid>/summary",
        item_summary,
        name="api-v2-folder-item-summary",
    ),
    path(
        "v2/public/storage/folders/<uuid:folder_uuid>/items/<uuid:item_uuid>/child-items",
        child_items,
        name="api-v2-folder-item-child-items",
    ),
]
