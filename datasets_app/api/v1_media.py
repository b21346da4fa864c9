"""v1 data jobs and 0.1.145 upload URLs (protocol §6.7-§6.8, A.6.3-A.6.4).

`datasetdatalongpolling` POST starts a data job (local uploads, or a private-cloud import when the
payload names an integration); GET long-polls it. `signedvideourl` / `signedimagesurl` /
`signeddicomsurl` GET issue 0.1.145's per-file upload URLs. Each handler calls one SDK method."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from datasets_app.sdk.exceptions import InvalidArgumentError
from datasets_app.sdk.uploads import ITEM_DICOM, ITEM_IMAGE, ITEM_VIDEO, MAX_POLL_SECONDS
from datasets_app.sdk.validation import clean_flag

from . import long_poll
from . import schemas as s
from .v1 import V1Call, v1_operation


def _bool(payload: dict, key: str) -> bool:
    return clean_flag(payload.get(key), f"payload.{key}", field=key)


@v1_operation("datasetdatalongpolling", "POST")
def start_data_job(call: V1Call) -> dict[str, str]:
    """-> {"process_hash": <job id>}."""
    call.dataset_uid()
    payload = s.obj(call.payload, allow_none=False)
    dataset = call.dataset()
    # folderUuid (§4.3): where a plain dataset's items go; a mirror dataset refuses it.
    folder = payload.get("folderUuid")
    if payload.get("integrationId") is not None or payload.get("files") is not None:
        process_hash = dataset.add_private_data_to_dataset_start(
            payload.get("integrationId"), payload.get("files"), _bool(payload, "ignoreErrors"), folder=folder
        )
    else:
        process_hash = dataset.start_data_job(
            payload.get("dataItems"), ignore_errors=_bool(payload, "ignoreErrors"), folder=folder
        )
    return {"process_hash": process_hash}


@v1_operation("datasetdatalongpolling", "GET")
def poll_data_job(call: V1Call) -> dict[str, Any]:
    """Held until the job ends or timeout_seconds (at most 60) pass; never reports CANCELLED."""
    call.dataset_uid()
    payload = s.obj(call.payload, allow_none=False)
    timeout = payload.get("timeout_seconds", 0)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
        raise InvalidArgumentError(
            "payload.timeout_seconds must be a non-negative number.", field="timeout_seconds"
        )
    timeout = min(float(timeout), MAX_POLL_SECONDS)
    # Under the production web tier this thread never waits: the event loop does (long_poll.py).
    wait = long_poll.mode(call.request)
    result = call.dataset().wait_data_job(payload.get("process_hash"), 0 if wait else timeout, legacy=True)
    if wait == long_poll.DEFER and timeout > 0 and result.status == "PENDING":
        raise long_poll.DeferredWait(result.process_hash, timeout)
    body = asdict(result)
    body.pop("process_hash", None)
    body.pop("items_with_names", None)  # the Files poll's; the dataset poll names rows
    return body


def _signed_urls(call: V1Call, item_type: str) -> list[dict[str, str]]:
    return call.dataset().issue_signed_upload_urls(
        call.uid, item_type, base_url=call.request.build_absolute_uri("/")
    )


@v1_operation("signedvideourl", "GET")
def signed_video_url(call: V1Call) -> dict[str, str]:
    """uid = the file name (a string) -> one object."""
    if not isinstance(call.uid, str):
        raise InvalidArgumentError("values.uid must be the video's file name.", field="uid")
    return _signed_urls(call, ITEM_VIDEO)[0]


@v1_operation("signedimagesurl", "GET")
def signed_images_url(call: V1Call) -> list[dict[str, str]]:
    """uid = [file names] -> a list in the same order (a list even for one name)."""
    return _signed_urls(call, ITEM_IMAGE)


@v1_operation("signeddicomsurl", "GET")
def signed_dicoms_url(call: V1Call) -> list[dict[str, str]]:
    return _signed_urls(call, ITEM_DICOM)
