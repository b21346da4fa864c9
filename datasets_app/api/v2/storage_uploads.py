"""Files API, uploads into a folder (storage protocol §3, §8.1 #26, #29-#31): signed upload URLs,
data-upload jobs, their long poll and cancel. Each handler parses, makes one call into
sdk/folder_uploads.py and serialises. The PUT to a signed URL (#27) is api/upload_views.py."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpResponse
from django.urls import path

from datasets_app.sdk import folder_uploads as fu
from datasets_app.sdk.exceptions import InvalidArgumentError
from datasets_app.sdk.validation import clean_flag

from .. import long_poll
from .. import schemas as s
from .base import V2Call, v2_endpoint

FOLDER = "v2/public/storage/folders/<uuid:folder_uuid>"
JOB = f"{FOLDER}/data-upload-jobs/<uuid:job_uuid>"
URL_KEYS = {"itemType", "count", "framesSubfolderName"}
START_KEYS = {"dataItems", "externalFiles", "integrationHash", "ignoreErrors", "fileName"}


def user_principal(call: V2Call):
    """The signing user (folders are no dataset API key's)."""
    return call.user_client().principal


@v2_endpoint(methods=["POST"])
def upload_signed_urls(call: V2Call, folder_uuid: uuid.UUID) -> dict[str, Any]:
    """#26 {"itemType", "count"} -> Page<UploadSignedUrl>, exactly `count` results, one page."""
    body = call.json()
    s.only_keys(body, URL_KEYS, "body")
    s.opt_str(body, "framesSubfolderName")  # accepted and ignored, as the SDK never sends it
    issued = fu.issue_folder_upload_urls(
        user_principal(call),
        folder_uuid,
        body.get("itemType"),
        body.get("count"),
        base_url=call.request.build_absolute_uri("/"),
    )
    return {
        "results": [
            {
                "item_uuid": i.item_uuid,
                "object_key": i.object_key,
                "signed_url": i.signed_url,
                "upload_headers": i.upload_headers,
            }
            for i in issued
        ],
        "next_page_token": None,
    }


@v2_endpoint(methods=["POST"])
def start_job(call: V2Call, folder_uuid: uuid.UUID) -> str:
    """#29 -> the job uuid as a JSON string."""
    body = call.json()
    s.only_keys(body, START_KEYS, "body")
    file_name = body.get("fileName")
    if file_name is not None and not isinstance(file_name, str):
        raise InvalidArgumentError("fileName must be a string.", field="fileName")
    return fu.start_folder_upload(
        user_principal(call),
        folder_uuid,
        data_items=body.get("dataItems"),
        external_files=body.get("externalFiles"),
        integration_hash=body.get("integrationHash"),
        ignore_errors=clean_flag(body.get("ignoreErrors"), "ignoreErrors"),
        file_name=file_name,
    )


def state_wire(state: fu.FolderUploadState) -> dict[str, Any]:
    """UploadLongPollingState (§3.5), every key."""
    poll = state.poll
    return {
        "status": poll.status,
        "items_with_names": [{"item_uuid": i.item_uuid, "name": i.name} for i in poll.items_with_names],
        "errors": poll.errors,
        "units_pending_count": poll.units_pending_count,
        "units_done_count": poll.units_done_count,
        "units_error_count": poll.units_error_count,
        "units_cancelled_count": poll.units_cancelled_count,
        "unit_errors": [
            {
                "object_urls": e.object_urls,
                "error": e.error,
                "subtask_uuid": e.subtask_uuid,
                "action_description": e.action_description,
            }
            for e in poll.data_unit_errors
        ],
        "file_name": state.file_name,
    }


@v2_endpoint(methods=["GET"])
def poll_job(call: V2Call, folder_uuid: uuid.UUID, job_uuid: uuid.UUID) -> dict[str, Any] | HttpResponse:
    """#30 ?timeoutSeconds=: held until the job ends or min(timeoutSeconds, 60 s) pass. Under the
    ASGI web tier the event loop waits instead of this thread (api/long_poll.py)."""
    timeout = fu.clean_timeout(s.query_str(call.query, "timeoutSeconds"))
    wait = long_poll.mode(call.request)
    state = fu.wait_folder_upload(user_principal(call), folder_uuid, job_uuid, 0 if wait else timeout)
    if wait == long_poll.DEFER and timeout > 0 and state.poll.status == "PENDING":
        return long_poll.deferred_response(long_poll.DeferredWait(state.poll.process_hash, timeout))
    return state_wire(state)


@v2_endpoint(methods=["POST"])
def cancel_job(call: V2Call, folder_uuid: uuid.UUID, job_uuid: uuid.UUID) -> dict[str, int]:
    """#31 -> {"units_cancelled_count"} (0 when repeated or the job had ended)."""
    return {"units_cancelled_count": fu.cancel_folder_upload(user_principal(call), folder_uuid, job_uuid)}


urlpatterns = [
    path(f"{FOLDER}/upload-signed-urls", upload_signed_urls, name="api-v2-folder-upload-signed-urls"),
    path(f"{FOLDER}/data-upload-jobs", start_job, name="api-v2-folder-upload-jobs"),
    path(JOB, poll_job, name="api-v2-folder-upload-job"),
    path(f"{JOB}/cancel", cancel_job, name="api-v2-folder-upload-job-cancel"),
]
