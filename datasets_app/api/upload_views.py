"""PUT /upload/<item_uuid>?expires=..&signature=..: the signed upload URL for local hosted storage.

No SDK authentication (the signature is the credential). The body streams from the request in
chunks into storage (sdk/uploads.receive_upload hashes it on the way); the answer is exactly 200
on success, as 0.1.145 requires."""

from __future__ import annotations

from collections.abc import Iterator

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from datasets_app.sdk.uploads import UploadRefused, receive_upload

CHUNK_SIZE = 1024 * 1024


def _body_chunks(request: HttpRequest) -> Iterator[bytes]:
    while chunk := request.read(CHUNK_SIZE):
        yield chunk


@csrf_exempt
def signed_upload(request: HttpRequest, item_uuid: str) -> HttpResponse:
    if request.method != "PUT":
        response = JsonResponse({"message": "Upload with PUT."}, status=405)
        response["Allow"] = "PUT"
        return response
    try:
        length = int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        length = None
    try:
        stored = receive_upload(
            item_uuid,
            expires=request.GET.get("expires"),
            signature=request.GET.get("signature"),
            chunks=_body_chunks(request),
            content_length=length,
            content_type=request.META.get("CONTENT_TYPE", ""),
        )
    except UploadRefused as refused:
        return JsonResponse({"message": refused.reason}, status=refused.status)
    response = HttpResponse(status=200)
    response["ETag"] = f'"{stored.sha256}"'
    return response
