"""SDK-layer errors -> Encord protocol answers, mapped in one place (protocol §4).

v1 (`POST /public`, `/public/user`): HTTP 200 and an envelope
`{"status": N, "response": ["CODE"], "payload": "message"}`, except 413 and 429, which the SDK
reads from the status line. v2 (`/v2/public/...`): the HTTP status and `{"message": ...}`.
Anything unexpected is logged with the request's trace id and answered without a traceback.
"""

from __future__ import annotations

import logging
import uuid

from django.http import HttpRequest, JsonResponse

from datasets_app.sdk import exceptions as exc

logger = logging.getLogger("datasets_app.api")

# Most specific class first; a subclass added later by another module falls back to its parent.
HTTP_STATUS: dict[type[exc.DatasetsError], int] = {
    exc.AuthenticationError: 401,
    exc.AuthorisationError: 403,
    exc.OperationNotAllowed: 403,
    exc.ResourceNotFoundError: 404,
    exc.InvalidArgumentError: 400,
    exc.MethodNotAllowedError: 405,
    exc.ResourceExistsError: 409,
    exc.DuplicateSshKeyError: 409,
    exc.PayloadTooLargeError: 413,
    exc.RateLimitExceededError: 429,
    exc.FileTypeNotSupportedError: 400,
    exc.UploadOperationNotSupportedError: 400,
}


def http_status(error: exc.DatasetsError) -> int:
    """The HTTP-like status of a typed error: the nearest mapped class, 400 for other typed errors."""
    for cls in type(error).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 500 if type(error) is exc.DatasetsError else 400


def trace_id_of(request: HttpRequest) -> str:
    """The SDK's X-Cloud-Trace-Context (0.1.145 API-key requests send none: make one up)."""
    header = request.META.get("HTTP_X_CLOUD_TRACE_CONTEXT", "")
    if header and len(header) <= 200 and header.isprintable():
        return header
    # The request middleware already made one for the log lines: reuse it, so both agree.
    return (getattr(request, "trace_id", "") or uuid.uuid4().hex) + "/1;o=1"


def _with_retry_after(response: JsonResponse, error: exc.DatasetsError) -> JsonResponse:
    retry_after = error.fields.get("retry_after")
    if retry_after is not None:
        response["Retry-After"] = str(int(retry_after))
    return response


def v1_error(error: exc.DatasetsError, trace_id: str = "") -> JsonResponse:
    """The v1 envelope for a typed error: HTTP 200, except 413/429 which the SDK reads off the status line."""
    status = http_status(error)
    body = {"status": status, "response": [error.code], "payload": error.message}
    http = status if status in (413, 429) else 200
    if status in (413, 429):
        # 0.1.211 reads `message` from a 413 body; keep the envelope keys for 0.1.145.
        body["message"] = error.message
    response = JsonResponse(body, status=http)
    if trace_id:
        response["X-Cloud-Trace-Context"] = trace_id
    return _with_retry_after(response, error)


def v2_error(error: exc.DatasetsError, trace_id: str = "") -> JsonResponse:
    status = http_status(error)
    response = JsonResponse({"message": error.message, "code": error.code}, status=status)
    if trace_id:
        response["X-Cloud-Trace-Context"] = trace_id
    return _with_retry_after(response, error)


def log_unhandled(request: HttpRequest, trace_id: str) -> None:
    logger.exception(
        "Unhandled API error on %s %s (X-Cloud-Trace-Context: %s)", request.method, request.path, trace_id
    )


def v1_unknown(request: HttpRequest, trace_id: str, exception: BaseException | None = None) -> JsonResponse:
    """Call from an `except Exception` block: logs the traceback, answers UNKNOWN_ERROR (HTTP 200).

    A lost database or a refusing storage (observability.unavailable_message) is answered with
    HTTP 503 and Retry-After instead, in the same envelope: the encord SDK's session retries a
    503 for its retryable calls (getters), so a moment of database fail-over costs the caller a
    second, not an error; when its retries run out it raises UnknownException as before."""
    from datasets_app.observability import unavailable_message

    message = unavailable_message(exception) if exception is not None else None
    if message is not None:
        response = JsonResponse({"status": 503, "response": ["UNKNOWN_ERROR"], "payload": message}, status=503)
        response["Retry-After"] = "1"
        response["X-Cloud-Trace-Context"] = trace_id
        return response
    log_unhandled(request, trace_id)
    response = JsonResponse(
        {
            "status": 500,
            "response": ["UNKNOWN_ERROR"],
            "payload": f"Internal server error; quote trace id {trace_id} when reporting it.",
        }
    )
    response["X-Cloud-Trace-Context"] = trace_id
    return response


def v2_unknown(request: HttpRequest, trace_id: str) -> JsonResponse:
    log_unhandled(request, trace_id)
    response = JsonResponse(
        {"message": f"Internal server error; quote trace id {trace_id} when reporting it."}, status=500
    )
    response["X-Cloud-Trace-Context"] = trace_id
    return response
