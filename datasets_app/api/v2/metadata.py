"""The custom-metadata schema (protocol §6: routes #39-#42) and our metadata search (not Encord's):

GET  /v2/public/organisation/client-metadata-schema-v2        -> the v2 document, or null
POST /v2/public/organisation/client-metadata-schema-v2        <- the whole document (org admins)
GET  /v2/public/organisation/client-metadata-schema           -> legacy {uuid, metadata_schema, ...} or null
POST /v2/public/organisation/client-metadata-schema           <- legacy flat map (org admins)
GET  /v2/public/storage/folders/<f>/items/search?meta=k:op:v  -> a page of the folder's items
GET  /v2/public/datasets/<d>/data-rows/search?meta=k:op:v     -> a page of the dataset's rows
"""

from __future__ import annotations

from typing import Any

from django.urls import path

from datasets_app.sdk import metadata_schema, metadata_search
from datasets_app.sdk.storage_items import wire_item_type
from datasets_app.sdk.exceptions import InvalidArgumentError

from .. import schemas as s
from .base import V2Call, v2_endpoint

@v2_endpoint(methods=["GET", "POST"])
def schema_v2(call: V2Call) -> Any:
    """GET: the stored document verbatim (null when none). POST: replace it (answer null)."""
    principal = call.user_client().principal
    if call.request.method == "GET":
        return metadata_schema.get_schema(principal)
    metadata_schema.save_schema(principal, call.json())
    return None


@v2_endpoint(methods=["GET", "POST"])
def schema_legacy(call: V2Call) -> Any:
    """GET: the legacy flat form (null when none). POST: replace the schema from a flat map."""
    principal = call.user_client().principal
    if call.request.method == "POST":
        metadata_schema.save_legacy_schema(principal, call.json())
        return None
    legacy = metadata_schema.get_legacy_schema(principal)
    if legacy is None:
        return None
    return {
        "uuid": str(legacy.uuid),
        "metadata_schema": legacy.metadata_schema,
        "organisation_id": legacy.organisation_id,
        "created_at": s.v2_datetime(legacy.created_at),
        "updated_at": s.v2_datetime(legacy.updated_at),
    }


def page_args(call: V2Call) -> dict[str, Any]:
    size = s.query_str(call.query, "pageSize") or str(metadata_search.DEFAULT_PAGE_SIZE)
    try:
        page_size = int(size)
    except ValueError:
        raise InvalidArgumentError(f"pageSize must be a number, not {size[:40]!r}.", field="pageSize") from None
    return {"page_size": page_size, "page_token": s.query_str(call.query, "pageToken")}


@v2_endpoint(methods=["GET"])
def search_items(call: V2Call, folder_uuid) -> dict[str, Any]:
    """-> {"results": [item], "next_page_token"}: the folder's items meeting every `meta`."""
    items, token = metadata_search.search_folder_items(
        call.user_client().principal, folder_uuid, call.query.getlist("meta"), **page_args(call)
    )
    return {"results": [item_json(i) for i in items], "next_page_token": token}


@v2_endpoint(methods=["GET"])
def search_rows(call: V2Call, dataset_uuid) -> dict[str, Any]:
    """-> {"results": [row], "next_page_token"}: the dataset's rows whose item meets every `meta`.
    Users and the dataset's API keys (READ)."""
    rows, token = metadata_search.search_dataset_rows(
        call.principal, dataset_uuid, call.query.getlist("meta"), **page_args(call)
    )
    return {"results": [row_json(r) for r in rows], "next_page_token": token}


def item_json(item: Any) -> dict[str, Any]:
    return {
        "uuid": str(item.item_uuid),
        "parent": str(item.folder.folder_uuid),
        "name": item.name,
        "item_type": wire_item_type(item),
        "client_metadata": item.client_metadata,
        "created_at": s.v2_datetime(item.created_at),
        "last_edited_at": s.v2_datetime(item.last_edited_at),
        "file_size": item.file_size,
        "mime_type": item.mime_type or None,
        "width": item.width,
        "height": item.height,
        "duration": item.duration,
        "fps": item.fps,
        "frame_count": item.frame_count,
    }


def row_json(row: Any) -> dict[str, Any]:
    return {
        "data_hash": str(row.data_hash),
        "backing_item_uuid": str(row.item.item_uuid),
        "data_title": row.item.name,
        "item_type": wire_item_type(row.item),
        "client_metadata": row.item.client_metadata,
        "created_at": s.v2_datetime(row.created_at),
    }


urlpatterns = [
    path("v2/public/organisation/client-metadata-schema-v2", schema_v2, name="api-v2-metadata-schema-v2"),
    path("v2/public/organisation/client-metadata-schema", schema_legacy, name="api-v2-metadata-schema"),
    path("v2/public/storage/folders/<uuid:folder_uuid>/items/search", search_items, name="api-v2-items-search"),
    path("v2/public/datasets/<uuid:dataset_uuid>/data-rows/search", search_rows, name="api-v2-rows-search"),
]
