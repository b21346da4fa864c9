"""The upload pages (a dataset's Upload tab, and a Files folder's) and the endpoints their script
talks to: start an upload session, ask how much the server has, append a chunk at an offset, then
start one data job for the finished files. The server reads each file's kind from its bytes
(sdk/chunked_uploads.py); the page only says what to make of the images."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from dashboard.errors import json_error
from datasets_app.sdk import chunked_uploads as cu
from datasets_app.sdk import folder_uploads, storage_folders
from datasets_app.sdk.exceptions import DatasetsError
from datasets_app.sdk.policy import Op

from .common import dataset_page, is_partial, open_dataset, user_client

CHUNK_BYTES = 4 * 1024 * 1024

# Kinds are read from the bytes; what remains a choice is what several images make.
IMAGE_CHOICES = [
    (cu.IMAGES_SEPARATE, "Each image its own item", "Videos and DICOM series are always their own items."),
    (cu.IMAGES_GROUP, "All images as one image group", "In the order chosen."),
    (cu.IMAGES_SEQUENCE, "All images as one image sequence", "An image group that is also made into a video."),
]


def _json(upload: cu.ChunkedUpload, status: int = 200) -> JsonResponse:
    return JsonResponse(
        {
            "upload_id": upload.upload_id,
            "file_name": upload.file_name,
            "size": upload.size,
            "offset": upload.offset,
            "complete": upload.complete,
            "kind": upload.kind,
        },
        status=status,
    )


def _uploader(**context) -> dict:
    return {"max_bytes": settings.UPLOAD_MAX_BYTES, "chunk_bytes": CHUNK_BYTES, "image_choices": IMAGE_CHOICES, **context}


def _start(request, target) -> JsonResponse:
    """POST file_name, size -> 201 {upload_id, offset: 0, ...}."""
    try:
        upload = cu.start_upload(target, file_name=request.POST.get("file_name"), size=request.POST.get("size"))
    except DatasetsError as error:
        return json_error(error)
    return _json(upload, status=201)


def _chunk(request, target, upload_id) -> JsonResponse:
    """GET: how much the server has. PUT ?offset=N with the chunk as the body: append it.

    409 {offset} when the chunk does not start where the server's copy ends; 400 naming the file
    when its completed bytes are no image, video or DICOM file."""
    try:
        if request.method == "GET":
            return _json(cu.upload_status(target, upload_id))
        length = request.META.get("CONTENT_LENGTH")
        # The body is read in pieces straight from the request stream (never request.body).
        chunks = iter(lambda: request.read(cu.READ_SIZE), b"")
        upload = cu.append_chunk(
            target,
            upload_id,
            offset=request.GET.get("offset"),
            chunks=chunks,
            length=int(length) if length and length.isdigit() else None,
        )
    except cu.OffsetMismatch as mismatch:
        return JsonResponse({"error": str(mismatch), "offset": mismatch.offset}, status=409)
    except DatasetsError as error:
        return json_error(error)
    return _json(upload)


def _finish(request, target) -> str | JsonResponse:
    """POST images, title, upload_id (repeated, in order) -> the job's process_hash, or the error."""
    try:
        return cu.start_job(
            target,
            request.POST.getlist("upload_id"),
            images=request.POST.get("images") or cu.IMAGES_SEPARATE,
            title=(request.POST.get("title") or "").strip() or None,
        )
    except DatasetsError as error:
        return json_error(error)


def _job_started(process_hash: str, job_url: str) -> JsonResponse:
    return JsonResponse({"process_hash": process_hash, "job_url": job_url}, status=201)


# ---- a dataset's Upload tab ------------------------------------------------------------------------


@login_required
@require_GET
def upload_page(request, dataset_hash: str):
    dataset = open_dataset(request, dataset_hash, Op.WRITE_DATA)
    return render(request, "upload.html", dataset_page(dataset, "upload", **_uploader()))


@login_required
@require_POST
def upload_start(request, dataset_hash: str):
    return _start(request, open_dataset(request, dataset_hash, Op.WRITE_DATA))


@login_required
@never_cache
@require_http_methods(["GET", "PUT"])
def upload_chunk(request, dataset_hash: str, upload_id: str):
    return _chunk(request, open_dataset(request, dataset_hash, Op.WRITE_DATA), upload_id)


@login_required
@require_POST
def upload_finish(request, dataset_hash: str):
    """-> 201 {job_url} of the started data job."""
    dataset = open_dataset(request, dataset_hash, Op.WRITE_DATA)
    started = _finish(request, dataset)
    if isinstance(started, JsonResponse):
        return started
    return _job_started(started, reverse("dashboard:data-job", args=[dataset.dataset_hash, started]))


# ---- a Files folder ------------------------------------------------------------------------------


def _folder_target(request, folder_uuid) -> cu.UploadTarget:
    return cu.folder_target(user_client(request).principal, folder_uuid)


@login_required
@require_GET
def folder_upload_page(request, folder_uuid):
    """The same uploader for a folder (WRITE_FILES): items land in it (and in its mirror dataset)."""
    principal = user_client(request).principal
    cu.folder_target(principal, folder_uuid)
    folder = storage_folders.get_storage_folder(principal, folder_uuid)
    return render(request, "upload_folder.html", _uploader(nav="files", folder=folder, crumb="Upload"))


@login_required
@require_POST
def folder_upload_start(request, folder_uuid):
    return _start(request, _folder_target(request, folder_uuid))


@login_required
@never_cache
@require_http_methods(["GET", "PUT"])
def folder_upload_chunk(request, folder_uuid, upload_id):
    return _chunk(request, _folder_target(request, folder_uuid), upload_id)


@login_required
@require_POST
def folder_upload_finish(request, folder_uuid):
    started = _finish(request, _folder_target(request, folder_uuid))
    if isinstance(started, JsonResponse):
        return started
    return _job_started(started, reverse("dashboard:folder-upload-job", args=[folder_uuid, started]))


@login_required
@require_GET
@vary_on_headers("HX-Request")
def folder_upload_job(request, folder_uuid, process_hash):
    """A folder upload's progress (polls itself while it runs), then its items and errors."""
    principal = user_client(request).principal
    state = folder_uploads.wait_folder_upload(principal, folder_uuid, process_hash)
    job = state.poll
    done = job.units_done_count + job.units_error_count + job.units_cancelled_count
    context = {
        "nav": "files",
        "folder": storage_folders.get_storage_folder(principal, folder_uuid),
        "job": job,
        "percent": int(100 * done / job.units_total) if job.units_total else (100 if job.is_terminal else 0),
        "crumb": "Upload",
    }
    template = "partials/upload_folder_job.html" if is_partial(request) else "upload_folder.html"
    return render(request, template, context)
