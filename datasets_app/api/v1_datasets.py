"""v1 dataset operations on POST /public (§6.3–6.6, 6.11, 6.12, 6.14; A.6.1, A.5.3 on /public)
and the user-level operations of SDK 0.1.145 on POST /public/user (A.5).

Each handler parses its payload, calls one SDK-layer method and shapes the answer."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from datasets_app.sdk import convert, item_links, key_secrets, orm
from datasets_app.sdk.exceptions import InvalidArgumentError
from datasets_app.sdk.validation import clean_title

from . import schemas as s
from .v1 import V1Call, V1Stream, v1_operation

# ---- POST /public: one dataset (ResourceID) ------------------------------------------------------


def _access_settings(payload: dict) -> tuple[bool, bool]:
    """(fetch_rows, fetch_client_metadata); 0.1.145 sends no fetch_rows: rows by default (A.6.2)."""
    settings = s.obj(payload.get("dataset_access_settings"), "dataset_access_settings")
    return (
        s.opt_bool(settings, "fetch_rows", True, what="fetch_rows"),
        s.opt_bool(settings, "fetch_client_metadata", False, what="fetch_client_metadata"),
    )


@v1_operation("dataset", "GET")
def get_dataset(call: V1Call) -> Any:
    """§6.3: the dataset and (streamed) its rows."""
    payload = s.obj(call.payload)
    fetch_rows, with_metadata = _access_settings(payload)
    ds = call.dataset()
    rows = ds.iter_data_rows(with_metadata=with_metadata) if fetch_rows else None
    if rows is None:
        ds.refetch_data()
    head = s.dataset_head_v1(
        dataset_hash=ds.dataset_hash,
        title=ds.title,
        description=ds.description,
        storage=ds.storage_location,
        backing_folder_uuid=ds.backing_folder_uuid,
    )
    if rows is None:
        return head
    return V1Stream(head, "data_rows", (s.data_row_v1(r) for r in rows))


@v1_operation("datarows", "GET")
def list_data_rows(call: V1Call) -> Any:
    """§6.4: rows matching every given filter (AND)."""
    p = s.obj(call.payload)
    _fetch_rows, with_metadata = _access_settings(p)
    data_types = held_types(p.get("data_types"))
    data_hashes = uuid_hashes(p.get("data_hashes"))
    if data_types == [] or data_hashes == []:
        call.dataset().refetch_data()  # READ is still checked
        return []
    rows = call.dataset().iter_data_rows(
        title_eq=s.opt_str(p, "title_eq"),
        title_like=s.opt_str(p, "title_like"),
        created_before=s.parse_datetime(p.get("created_before"), "created_before"),
        created_after=s.parse_datetime(p.get("created_after"), "created_after"),
        data_types=data_types,
        data_hashes=data_hashes,
        with_metadata=with_metadata,
    )
    return V1Stream.list(s.data_row_v1(r) for r in rows)


# Every DataType the encord SDK (0.1.211) may send; those this server does not hold match no row.
SDK_DATA_TYPES = frozenset(
    {"VIDEO", "IMG_GROUP", "DICOM", "IMAGE", "DICOM_STUDY", "NIFTI", "AUDIO", "TIME_SERIES", "PLAIN_TEXT",
     "PDF", "GROUP", "SCENE"}
)


def held_types(value: Any) -> list[str] | None:
    """The requested data types this server holds (the SDK may send any of its DataType names:
    AUDIO, NIFTI, ... match no row here); a name the SDK does not know is an invalid argument.
    None when not filtering."""
    if value is None:
        return None
    kept = []
    for name in s.str_list(value, "data_types", max_items=20):
        try:
            kept.append(orm.DataType.parse(name).value)
        except ValueError:
            if name.upper() not in SDK_DATA_TYPES:
                raise InvalidArgumentError(
                    f"Unknown data type {name[:40]!r}: one of {', '.join(sorted(SDK_DATA_TYPES))}.", field="data_types"
                ) from None
    return kept


def uuid_hashes(value: Any) -> list[str] | None:
    """The requested data hashes that can name a row (ours are UUIDs: anything else matches none)."""
    if value is None:
        return None
    kept = []
    for text in s.str_list(value, "data_hashes"):
        try:
            kept.append(str(uuid.UUID(text)))
        except ValueError:
            continue
    return kept


@v1_operation("datarow", "GET")
def get_data_row(call: V1Call) -> Any:
    """§6.5: one row, with images and metadata when asked."""
    p = s.obj(call.payload)
    extra = s.obj(p.get("additional_data"), "additional_data")
    image_options = extra.get("images_data_fetch_options")
    if image_options is not None:
        image_options = s.obj(image_options, "images_data_fetch_options", allow_none=False)
    row = call.dataset().get_data_row(
        s.uuid_str(call.uid, "data_hash"),
        signed_url=bool(s.opt_bool(extra, "signed_url", False)),
        images_data=image_options is not None,
        image_signed_urls=bool(image_options and s.opt_bool(image_options, "fetch_signed_urls", False)),
        client_metadata=bool(s.opt_bool(extra, "client_metadata", False)),
        base_url=call.request.build_absolute_uri("/"),
    )
    return s.data_row_v1(row)


@v1_operation("datarow", "POST")
def save_data_row(call: V1Call) -> Any:
    """§6.6: sets the dirty fields; `updated_fields` equals the payload's keys."""
    p = s.obj(call.payload)
    s.only_keys(p, {"data_title", "client_metadata"})
    title = s.opt_str(p, "data_title")
    metadata = p.get("client_metadata")
    if "client_metadata" in p and not isinstance(metadata, dict):
        raise InvalidArgumentError("client_metadata must be a JSON object.", field="client_metadata")
    if "data_title" in p and title is None:
        raise InvalidArgumentError("data_title must be a string.", field="data_title")
    data_hash = s.uuid_str(call.uid, "data_hash")
    ds = call.dataset()
    updated, row = ds.update_data_row(data_hash, title=title, client_metadata=metadata)
    if row is None:  # the SDK layer withholds the row from a principal that may not read it
        return {"updated_fields": updated, "data_row": _write_ack(ds, data_hash, p, updated)}
    return {"updated_fields": updated, "data_row": s.data_row_v1(row)}


def _write_ack(ds: Any, data_hash: str, payload: dict, updated: list[str]) -> dict[str, Any]:
    """The row answer for a principal without READ: the hash and the fields it just set, nothing
    it could not read otherwise. SDK 0.1.145's DataRow.save() parses it (it needs both times and
    a storage location: the time of this edit and the dataset's storage) and keeps its own
    values for every null field."""
    now = s.v1_datetime(dt.datetime.now(dt.timezone.utc))
    row: dict[str, Any] = dict.fromkeys(
        ["width", "height", "file_link", "file_size", "file_type", "frames_per_second", "duration",
         "signed_url", "is_optimised_image_group", "backing_item_uuid", "images_data", "data_type"]
    )
    row.update(
        data_hash=data_hash,
        data_title=clean_title(payload["data_title"]) if "data_title" in updated else None,
        client_metadata=payload["client_metadata"] if "client_metadata" in updated else None,
        created_at=now,
        last_edited_at=now,
        storage_location=int(ds.storage_location),
    )
    return row


@v1_operation("video", "DELETE")
def delete_data(call: V1Call) -> Any:
    """§6.11: deletes the rows; hashes of other datasets are ignored."""
    uid = [call.uid] if isinstance(call.uid, str) else call.uid
    call.dataset().delete_data(s.str_list(uid, "values.uid"))
    return True


@v1_operation("video", "POST")
def update_data_item(call: V1Call) -> Any:
    """§6.12: renames data items; `uid` is the dataset and must agree with ResourceID."""
    call.dataset_uid()
    items = call.payload
    if not isinstance(items, list) or not items or len(items) > 1000:
        raise InvalidArgumentError("payload must be a list of {video_hash, title} objects.", field="payload")
    renames = []
    # Validate every item before the first rename, so a bad one changes nothing.
    for item in items:
        item = s.obj(item, "payload item", allow_none=False)
        renames.append((s.uuid_str(item.get("video_hash"), "video_hash"), clean_title(item.get("title"))))
    ds = call.dataset()
    # A list, not a generator: one unknown hash must not stop the renames after it.
    success = all([ds.update_data_item(data_hash, title) for data_hash, title in renames])  # noqa: C419
    return {"success": success}


@v1_operation("datasetlinkitems", "POST")
def link_items(call: V1Call) -> Any:
    """Storage §4.5: links storage items into this (plain) dataset; the rows, one per distinct
    item in request order (SKIP: the existing row for an item already linked)."""
    dataset_hash = call.dataset_uid()
    p = s.obj(call.payload, allow_none=False)
    s.only_keys(p, {"item_uuids", "duplicates_behavior"})
    rows = item_links.link_items(
        call.principal,
        dataset_hash,
        s.str_list(p.get("item_uuids"), "item_uuids", max_items=item_links.MAX_LINK_ITEMS),
        s.opt_str(p, "duplicates_behavior") or "SKIP",
    )
    return V1Stream.list(s.data_row_v1(convert.data_row(r)) for r in rows)


@v1_operation("datasetusers", "POST")
def add_users(call: V1Call) -> Any:
    """§6.14: adds members with an integer role; existing members keep theirs."""
    call.dataset_uid()
    p = s.obj(call.payload, allow_none=False)
    role = p.get("user_role")
    if not isinstance(role, int) or isinstance(role, bool):
        raise InvalidArgumentError("user_role must be the integer 0 (ADMIN) or 1 (USER).", field="user_role")
    users = call.dataset().add_users(s.str_list(p.get("user_emails"), "user_emails", max_items=1000), role)
    return [s.dataset_user_v1(u) for u in users]


@v1_operation("cloudintegration", "GET")
def dataset_cloud_integrations(call: V1Call) -> Any:
    """A.5.3 on /public (K7): integrations usable with this dataset, `{"id", "title"}`."""
    return [s.cloud_integration_v1(i) for i in call.dataset().get_cloud_integrations()]


@v1_operation("apikeymeta", "GET")
def api_key_meta(call: V1Call) -> Any:
    """A.6.1 (K6): EncordClient.initialise's check of a dataset API key."""
    if not call.principal.is_key:
        raise InvalidArgumentError(
            "apikeymeta describes a dataset API key; this request is signed by a user."
        )
    return {"title": call.principal.api_key.title, "resource_type": "dataset"}


# ---- POST /public/user: SDK 0.1.145's user-level calls (A.5) -------------------------------------


@v1_operation("dataset", "POST", endpoint="user")
def create_dataset(call: V1Call) -> Any:
    """A.5.1 (K1)."""
    p = s.obj(call.payload, allow_none=False)
    s.only_keys(p, {"title", "type", "create_backing_folder", "description"})
    storage = p.get("type", 0)
    if not isinstance(storage, int) or isinstance(storage, bool):
        raise InvalidArgumentError("type must be a StorageLocation integer (0-4).", field="type")
    created = call.user_client().create_dataset(
        p.get("title"),
        storage,
        s.opt_str(p, "description"),
        bool(s.opt_bool(p, "create_backing_folder", True)),
    )
    return s.create_dataset_v145(created)


DATASET_FILTERS = [
    "title_eq",
    "title_like",
    "desc_eq",
    "desc_like",
    "created_before",
    "created_after",
    "edited_before",
    "edited_after",
]


@v1_operation("datasetwithuserrole", "GET", endpoint="user")
def get_datasets(call: V1Call) -> Any:
    """A.5.2 (K2): `[{"user_role": int, "dataset": {exact keys}}]`."""
    p = s.obj(call.payload)
    filters = s.obj(p.get("filter"), "filter")
    s.only_keys(filters, set(DATASET_FILTERS), "filter")
    kwargs: dict[str, Any] = {}
    for name in DATASET_FILTERS:
        if name.endswith(("_before", "_after")):
            kwargs[name] = s.parse_datetime(filters.get(name), name)
        else:
            kwargs[name] = s.opt_str(filters, name)
    return [s.dataset_with_role_v145(e) for e in call.user_client().get_datasets(**kwargs)]


@v1_operation("cloudintegration", "GET", endpoint="user")
def user_cloud_integrations(call: V1Call) -> Any:
    """A.5.3 (K3): `[{"id", "title"}]`."""
    return [s.cloud_integration_v1(i) for i in call.user_client().get_cloud_integrations()]


def _scopes(value: Any) -> list[str]:
    # The 0.1.145 client may hand over a JSON string holding the list.
    if isinstance(value, str):
        import json

        try:
            value = json.loads(value)
        except ValueError:
            raise InvalidArgumentError("scopes must be a list of 'dataset.read' / 'dataset.write'.") from None
    return s.str_list(value, "scopes", max_items=10)


@v1_operation("datasetapikey", "POST", endpoint="user")
def create_dataset_api_key(call: V1Call) -> Any:
    """A.5.4 (K4): a new key object, secret included (dataset ADMINs only, SDK policy)."""
    p = s.obj(call.payload, allow_none=False)
    key = call.user_client().create_dataset_api_key(
        s.uuid_str(p.get("dataset_hash"), "dataset_hash"),
        p.get("title"),
        _scopes(p.get("scopes")),
        via=key_secrets.via_api("v1", call.request.META.get("HTTP_USER_AGENT", "")) + " (created)",
    )
    return s.api_key_v145(key)


@v1_operation("datasetapikey", "GET", endpoint="user")
def get_dataset_api_keys(call: V1Call) -> Any:
    """A.5.4 (K5): the dataset's live keys, oldest first, secrets included (each reveal recorded)."""
    p = s.obj(call.payload, allow_none=False)
    keys = call.user_client().get_dataset_api_keys(
        s.uuid_str(p.get("dataset_hash"), "dataset_hash"),
        via=key_secrets.via_api("v1", call.request.META.get("HTTP_USER_AGENT", "")),
    )
    return [s.api_key_v145(k) for k in keys]
