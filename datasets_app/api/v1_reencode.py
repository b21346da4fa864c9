"""v1 `reencodevideotask` (protocol §6.13): request a frame-accurate re-encode, poll its status."""

from __future__ import annotations

from typing import Any

from datasets_app.sdk.exceptions import InvalidArgumentError

from . import schemas as s
from .v1 import V1Call, v1_operation


@v1_operation("reencodevideotask", "PUT")
def re_encode_data(call: V1Call) -> int:
    """`{"data_hash": [...]}` -> the task id (a positive integer; a retry gets the same one)."""
    payload = s.obj(call.payload, allow_none=False)
    hashes = payload.get("data_hash")
    if isinstance(hashes, str):
        hashes = [hashes]
    return call.dataset().re_encode_data(s.str_list(hashes, "data_hash"))


@v1_operation("reencodevideotask", "GET")
def re_encode_data_status(call: V1Call) -> dict[str, Any]:
    """uid = task id -> {"status", "result": [{"data_hash", "signed_url", "bucket_path"}] | None}."""
    if call.uid is None or isinstance(call.uid, (bool, dict, list)):
        raise InvalidArgumentError("values.uid must be the re-encode task id.", field="uid")
    task = call.dataset().re_encode_data_status(call.uid, base_url=call.request.build_absolute_uri("/"))
    result = None
    if task.result is not None:
        result = [
            {"data_hash": r.data_hash, "signed_url": r.signed_url, "bucket_path": r.bucket_path} for r in task.result
        ]
    return {"status": task.status, "result": result}
