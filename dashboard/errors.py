"""SDK errors -> pages, mapped in one place (`status_for`).

Not found, and not allowed, are both a 404: someone with no relation to a dataset is told it does
not exist (the policy's rule), and a page a member may not use (settings, keys, members, another
member's job) is not shown to exist either, so the pages never say more than the SDK's not-found.
A signed-out or refused credential is 401, a rate limit 429, an oversized upload 413, bad input 400.
Views catch only the errors they turn into form errors; everything else reaches SDKErrorMiddleware.
"""

from __future__ import annotations

from django.forms import Form
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views.defaults import page_not_found

from datasets_app.sdk import exceptions as exc

# Checked in order: the first class an error is an instance of decides its status.
STATUS_BY_ERROR: tuple[tuple[type[exc.DatasetsError], int], ...] = (
    (exc.ResourceNotFoundError, 404),
    (exc.AuthorisationError, 404),
    (exc.OperationNotAllowed, 404),
    (exc.AuthenticationError, 401),
    (exc.RateLimitExceededError, 429),
    (exc.PayloadTooLargeError, 413),
)


def status_for(error: exc.DatasetsError) -> int:
    """The HTTP status a page or the upload script gets for an SDK error (400 for bad input)."""
    return next((status for cls, status in STATUS_BY_ERROR if isinstance(error, cls)), 400)


def add_form_error(form: Form, error: exc.DatasetsError, field_map: dict[str, str] | None = None) -> None:
    """Puts an InvalidArgumentError next to the field it names (or on the form)."""
    name = (field_map or {}).get(error.fields.get("field", ""), error.fields.get("field"))
    form.add_error(name if name in form.fields else None, error.message)


class SDKErrorMiddleware:
    """Turns an SDK error a dashboard page did not handle into its page: 404 is the site's
    not-found page (which never says why), any other status the error page with the SDK's message;
    never a 500. Only dashboard pages: the API maps its own errors to protocol bodies (api/errors.py)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        match = getattr(request, "resolver_match", None)
        if not isinstance(exception, exc.DatasetsError) or match is None or match.namespace != "dashboard":
            return None
        status = status_for(exception)
        if status == 404:
            return page_not_found(request, Http404(exception.message))
        return render(request, "error.html", {"status": status, "message": exception.message}, status=status)


def json_error(error: exc.DatasetsError, **extra) -> JsonResponse:
    """An SDK error as the JSON the upload script reads: {"error": message, "code": ...}."""
    return JsonResponse({"error": error.message, "code": error.code, **extra}, status=status_for(error))
