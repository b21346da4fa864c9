"""Request validation and response shapes of the Encord protocol (§7, Appendix A.5).

Parsers raise InvalidArgumentError naming the field. Shapers turn the SDK layer's return types
(datasets_app/sdk/orm.py) into the exact dicts the clients unpack: v1 objects are read as plain
dicts (exact snake_case keys), and 0.1.145 unpacks some into fixed constructors (exact key sets).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Mapping
from enum import Enum
from typing import Any

from django.http import QueryDict

from datasets_app.sdk import orm
from datasets_app.sdk.exceptions import InvalidArgumentError
from datasets_app.sdk.policy import parse_hash

# ---- JSON ---------------------------------------------------------------------------------------


def _default(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        return v2_datetime(value)
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=_default)


# ---- dates --------------------------------------------------------------------------------------


def v1_datetime(value: dt.datetime | None) -> str | None:
    """`YYYY-MM-DD HH:MM:SS` in UTC, the form Encord's v1 objects use."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def v2_datetime(value: dt.datetime | None) -> str | None:
    """ISO 8601 with an offset."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat()


def parse_datetime(value: Any, what: str) -> dt.datetime | None:
    """An aware datetime from the SDK's ISO strings; naive ones are UTC (§2.3, A.2)."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise InvalidArgumentError(f"{what} must be an ISO 8601 datetime string.", field=what)
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidArgumentError(f"{what} {value!r} is not an ISO 8601 datetime.", field=what) from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    # In UTC: PostgreSQL refuses offsets beyond ±15:59 that Python accepts (found by fuzzing).
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError:
        raise InvalidArgumentError(f"{what} {value!r} is out of range.", field=what) from None


# ---- request parsing ----------------------------------------------------------------------------


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _has_unstorable_text(value: Any) -> bool:
    if isinstance(value, str):
        return bool(_UNSTORABLE.search(value))
    if isinstance(value, dict):
        return any(_has_unstorable_text(k) or _has_unstorable_text(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_unstorable_text(v) for v in value)
    return False


def load_json(body: bytes) -> Any:
    """The parsed body; InvalidArgumentError for bad JSON and for text no database column can hold
    (NUL characters, unpaired UTF-16 surrogates), which would otherwise fail deep in a write."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidArgumentError(f"The body is not valid JSON: {exc}.") from None
    # Both can only arrive as \u escapes, so the walk runs only when the raw bytes have one.
    lowered = body.lower()
    if (b"\\u0000" in lowered or b"\\ud" in lowered) and _has_unstorable_text(data):
        raise InvalidArgumentError("Text cannot contain NUL characters or unpaired UTF-16 surrogates.")
    return data


def check_query(query: QueryDict) -> None:
    for name, values in query.lists():
        if "\x00" in name or any("\x00" in v for v in values):
            raise InvalidArgumentError("Query parameters cannot contain NUL characters.", field=name)


def parse_v1_envelope(body: bytes) -> tuple[str, str, Any, Any]:
    """(query_type lower-case, query_method upper-case, values.uid, values.payload)."""
    data = load_json(body)
    if not isinstance(data, dict):
        raise InvalidArgumentError("The body must be a JSON object with query_type, query_method and values.")
    query_type, query_method = data.get("query_type"), data.get("query_method")
    if not isinstance(query_type, str) or not query_type or len(query_type) > 100:
        raise InvalidArgumentError("query_type must be a non-empty string.", field="query_type")
    if not isinstance(query_method, str) or not query_method or len(query_method) > 20:
        raise InvalidArgumentError("query_method must be GET, POST, PUT or DELETE.", field="query_method")
    values = data.get("values")
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise InvalidArgumentError("values must be an object with uid and payload.", field="values")
    return query_type.lower(), query_method.upper(), values.get("uid"), values.get("payload")


def obj(value: Any, what: str = "payload", *, allow_none: bool = True) -> dict:
    """`value` as a dict ({} for None when allowed)."""
    if value is None and allow_none:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgumentError(f"{what} must be a JSON object.", field=what)
    return value


def opt_bool(data: Mapping, key: str, default: bool | None = None, *, what: str | None = None) -> bool | None:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"{what or key} must be true or false.", field=what or key)
    return value


def strict_bool(data: Mapping, key: str, default: bool) -> bool:
    """A v2 body boolean: absent means `default`; null or another type is refused (the SDK omits nulls)."""
    if key not in data:
        return default
    if not isinstance(data[key], bool):
        raise InvalidArgumentError(f"{key} must be true or false.", field=key)
    return data[key]


def strict_str(data: Mapping, key: str) -> str | None:
    """A v2 body string: absent means None; null or another type is refused."""
    if key not in data:
        return None
    if not isinstance(data[key], str):
        raise InvalidArgumentError(f"{key} must be a string.", field=key)
    return data[key]


def opt_str(data: Mapping, key: str, *, what: str | None = None) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidArgumentError(f"{what or key} must be a string.", field=what or key)
    return value


def str_list(value: Any, what: str, *, max_items: int = 100_000) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgumentError(f"{what} must be a list of strings.", field=what)
    if len(value) > max_items:
        raise InvalidArgumentError(f"{what} has {len(value)} items; the limit is {max_items}.", field=what)
    return value


def uuid_str(value: Any, what: str) -> str:
    return str(parse_hash(value, what))


def only_keys(data: Mapping, allowed: set[str], what: str = "payload") -> None:
    extra = set(data) - allowed
    if extra:
        raise InvalidArgumentError(
            f"{what} has unknown keys: {', '.join(sorted(map(str, extra)))}.", field=what
        )


def query_bool(query: QueryDict, name: str, default: bool = False) -> bool:
    """Python-style booleans of v2 query strings (`False`/`True`), also true/false/1/0."""
    value = query.get(name)
    if value is None:
        return default
    text = value.strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise InvalidArgumentError(f"{name} must be True or False, not {value!r}.", field=name)


def query_str(query: QueryDict, name: str) -> str | None:
    values = query.getlist(name)
    if len(values) > 1:
        raise InvalidArgumentError(f"{name} was given {len(values)} times; give it once.", field=name)
    return values[0] if values else None


# ---- v1 response shapes -------------------------------------------------------------------------

DATA_ROW_KEYS = [
    "data_hash",
    "data_title",
    "data_type",
    "created_at",
    "last_edited_at",
    "width",
    "height",
    "file_link",
    "file_size",
    "file_type",
    "storage_location",
    "frames_per_second",
    "duration",
    "client_metadata",
    "signed_url",
    "is_optimised_image_group",
    "backing_item_uuid",
    "images_data",
]


def image_data_v1(image: orm.ImageData) -> dict[str, Any]:
    return {
        "image_hash": image.image_hash,
        "title": image.title,
        "file_link": image.file_link,
        "file_type": image.file_type,
        "file_size": image.file_size,
        "storage_location": int(image.storage_location),
        "created_at": v1_datetime(image.created_at),
        "last_edited_at": v1_datetime(image.last_edited_at),
        "height": image.height,
        "width": image.width,
        "signed_url": image.signed_url,
    }


def data_row_v1(row: orm.DataRow) -> dict[str, Any]:
    """§7.1, keys exactly as the client reads them."""
    return {
        "data_hash": row.data_hash,
        "data_title": row.title,
        "data_type": row.data_type.value,
        "created_at": v1_datetime(row.created_at),
        "last_edited_at": v1_datetime(row.last_edited_at),
        "width": row.width,
        "height": row.height,
        "file_link": row.file_link,
        "file_size": row.file_size,
        "file_type": row.file_type,
        "storage_location": int(row.storage_location),
        "frames_per_second": row.frames_per_second,
        "duration": row.duration,
        "client_metadata": row.client_metadata,
        "signed_url": row.signed_url,
        "is_optimised_image_group": row.is_optimised_image_group,
        "backing_item_uuid": row.backing_item_uuid,
        "images_data": [image_data_v1(i) for i in row.images_data] if row.images_data is not None else None,
    }


def dataset_head_v1(
    *,
    dataset_hash: str,
    title: str,
    description: str,
    storage: orm.StorageLocation,
    backing_folder_uuid: str | None,
) -> dict[str, Any]:
    """§6.3 without `data_rows` (streamed after it)."""
    return {
        "dataset_hash": dataset_hash,
        "title": title,
        "description": description or "",
        "dataset_type": orm.StorageLocation(storage).wire_name,
        "backing_folder_uuid": backing_folder_uuid,
    }


def dataset_info_v145(info: orm.DatasetInfo) -> dict[str, Any]:
    """A.5.2's `dataset` object: exactly these keys (0.1.145 unpacks it into a constructor)."""
    return {
        "dataset_hash": info.dataset_hash,
        "user_hash": info.user_hash,
        "title": info.title,
        "description": info.description or "",
        "type": int(info.type),
        "created_at": v1_datetime(info.created_at),
        "last_edited_at": v1_datetime(info.last_edited_at),
        "backing_folder_uuid": info.backing_folder_uuid,
    }


def dataset_with_role_v145(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A.5.2 entry: exactly `user_role` (integer; org-only access reads as ADMIN) and `dataset`."""
    role = entry["user_role"]
    return {
        "user_role": int(role) if role is not None else int(orm.DatasetUserRole.ADMIN),
        "dataset": dataset_info_v145(entry["dataset"]),
    }


def create_dataset_v145(created: orm.CreateDatasetResponse) -> dict[str, Any]:
    return {
        "title": created.title,
        "type": int(created.type),
        "dataset_hash": created.dataset_hash,
        "user_hash": created.user_hash,
        "backing_folder_uuid": created.backing_folder_uuid,
    }


def api_key_v145(key: orm.DatasetAPIKey) -> dict[str, Any]:
    """A.5.4 key object: exactly these five keys."""
    return {
        "resource_hash": key.dataset_hash,
        "api_key": key.api_key,
        "title": key.title,
        "key_hash": key.key_hash,
        "scopes": [orm.DatasetScope(s).value for s in key.scopes],
    }


def cloud_integration_v1(integration: orm.CloudIntegration) -> dict[str, Any]:
    return {"id": integration.id, "title": integration.title}


def dataset_user_v1(user: orm.DatasetUser) -> dict[str, Any]:
    return {
        "user_email": user.user_email,
        "user_role": int(user.user_role),
        "dataset_hash": user.dataset_hash,
    }


# ---- v2 response shapes -------------------------------------------------------------------------

V2_ROLE = {orm.DatasetUserRole.ADMIN: "admin", orm.DatasetUserRole.USER: "user"}


def dataset_with_role_v2(entry: Mapping[str, Any]) -> dict[str, Any]:
    info: orm.DatasetInfo = entry["dataset"]
    role = entry["user_role"]
    return {
        "dataset_uuid": info.dataset_hash,
        "title": info.title,
        "description": info.description or "",
        "created_at": v2_datetime(info.created_at),
        "last_edited_at": v2_datetime(info.last_edited_at),
        "user_role": V2_ROLE[orm.DatasetUserRole(role)] if role is not None else None,
        "storage_location": int(info.type),
        "backing_folder_uuid": info.backing_folder_uuid,
    }


def cloud_integration_v2(integration: orm.CloudIntegration) -> dict[str, Any]:
    return {"integration_uuid": integration.id, "title": integration.title}


def dataset_user_v2(user: orm.DatasetUser) -> dict[str, Any]:
    return {
        "dataset_uuid": user.dataset_hash,
        "user_email": user.user_email,
        "user_role": int(user.user_role),
    }
