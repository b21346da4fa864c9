"""The upload page and the endpoints its script talks to: start an upload session, ask how much
the server has, append a chunk at an offset, then start the data job for the finished files."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dashboard.errors import json_error
from datasets_app.sdk import chunked_uploads as cu
from datasets_app.sdk.exceptions import DatasetsError
from datasets_app.sdk.policy import Op

from .common import dataset_page, open_dataset

CHUNK_BYTES = 4 * 1024 * 1024

MODE_CHOICES = [
    (cu.MODE_VIDEOS, "Videos", "One data item per video (MP4, WebM, MOV, MKV…).", "video/*"),
    (
        cu.MODE_IMAGE_GROUP,
        "Image group",
        "All images in one group, in the order chosen; one group per resolution.",
        "image/*",
    ),
    (cu.MODE_IMAGES, "Single images", "One data item per image.", "image/*"),
    (cu.MODE_DICOM, "DICOM series", "All files form one series.", ".dcm,application/dicom"),
]


def _json(upload: cu.ChunkedUpload, status: int = 200) -> JsonResponse:
    return JsonResponse(
        {
            "upload_id": upload.upload_id,
            "file_name": upload.file_name,
            "size": upload.size,
            "offset": upload.offset,
            "complete": upload.complete,
        },
        status=status,
    )


@login_required
@require_GET
def upload_page(request, dataset_hash: str):
    dataset = open_dataset(request, dataset_hash, Op.WRITE_DATA)
    context = dataset_page(
        dataset, "upload", max_bytes=settings.UPLOAD_MAX_BYTES, chunk_bytes=CHUNK_BYTES, modes=MODE_CHOICES
    )
    return render(request, "upload.html", context)


@login_required
@require_POST
def upload_start(request, dataset_hash: str):
    """POST file_name, size, mode -> 201 {upload_id, offset: 0, ...}."""
    dataset = open_dataset(request, dataset_hash, Op.WRITE_DATA)
    try:
        upload = cu.start_upload(
            dataset,
            file_name=request.POST.get("file_name"),
            size=request.POST.get("size"),
            mode=request.POST.get("mode"),
        )
    except DatasetsError as error:
        return json_error(error)
    return _json(upload, status=201)


@login_required
@never_cache
@require_http_methods(["GET", "PUT"])
def upload_chunk(request, dataset_hash: str, upload_id: str):
    """GET: how much the server has. PUT ?offset=N with the chunk as the body: append it.

    409 {offset} when the chunk does not start where the server's copy ends."""
    dataset = open_dataset(request, dataset_hash, Op.WRITE_DATA)
    try:
        if request.method == "GET":
            return _json(cu.upload_status(dataset, upload_id))
        length = request.META.get("CONTENT_LENGTH")
        # The body is read in pieces straight from the request stream (never request.body).
        chunks = iter(lambda: request.read(cu.READ_SIZE), b"")
        upload = cu.append_chunk(
            dataset,
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


@login_required
@require_POST
def upload_finish(request, dataset_hash: str):
    """POST mode, title, upload_id (repeated, in order) -> {job_url} of the started data job."""
    dataset = open_dataset(request, dataset_hash, Op.WRITE_DATA)
    try:
        process_hash = cu.start_job(
            dataset,
            request.POST.getlist("upload_id"),
            mode=request.POST.get("mode"),
            title=(request.POST.get("title") or "").strip() or None,
        )
    except DatasetsError as error:
        return json_error(error)
    job_url = reverse("dashboard:data-job", args=[dataset.dataset_hash, process_hash])
    return JsonResponse({"process_hash": process_hash, "job_url": job_url}, status=201)
