"""SDK errors -> pages, mapped in one place: not found -> 404, not allowed -> 403, bad input -> form errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.exceptions import PermissionDenied
from django.forms import Form
from django.http import Http404

from datasets_app.sdk import exceptions as exc


@contextmanager
def sdk_errors_as_http() -> Iterator[None]:
    try:
        yield
    except exc.ResourceNotFoundError as e:
        raise Http404(e.message) from None
    except (exc.AuthorisationError, exc.OperationNotAllowed, exc.AuthenticationError) as e:
        raise PermissionDenied(e.message) from None


@contextmanager
def sdk_errors_as_404() -> Iterator[None]:
    """For pages only some members may use (settings, keys, members): "not allowed" is a 404 too,
    so a dataset USER cannot tell such a page exists."""
    try:
        yield
    except (exc.ResourceNotFoundError, exc.AuthorisationError, exc.OperationNotAllowed) as e:
        raise Http404(e.message) from None
    except exc.AuthenticationError as e:
        raise PermissionDenied(e.message) from None


def add_form_error(form: Form, error: exc.DatasetsError, field_map: dict[str, str] | None = None) -> None:
    """Puts an InvalidArgumentError next to the field it names (or on the form)."""
    name = (field_map or {}).get(error.fields.get("field", ""), error.fields.get("field"))
    form.add_error(name if name in form.fields else None, error.message)


class SDKErrorMiddleware:
    """The last net for SDK errors a page did not turn into a form error: not found -> 404,
    not allowed -> 403, bad input -> 400 with the SDK's message, never a 500. Only dashboard pages:
    the API maps its own errors to protocol bodies (api/errors.py)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from django.shortcuts import render

        match = getattr(request, "resolver_match", None)
        if not isinstance(exception, exc.DatasetsError) or match is None or match.namespace != "dashboard":
            return None
        if isinstance(exception, exc.ResourceNotFoundError):
            status = 404
        elif isinstance(exception, (exc.AuthorisationError, exc.OperationNotAllowed)):
            status = 403
        elif isinstance(exception, exc.AuthenticationError):
            status = 401
        elif isinstance(exception, exc.RateLimitExceededError):
            status = 429
        elif isinstance(exception, exc.PayloadTooLargeError):
            status = 413
        else:
            status = 400
        return render(request, "error.html", {"status": status, "message": exception.message}, status=status)


def json_error(error: exc.DatasetsError, status: int | None = None, **extra):
    """An SDK error as the JSON the upload script reads: {"error": message, "code": ...}."""
    from django.http import JsonResponse

    if status is None:
        status = {
            exc.ResourceNotFoundError: 404,
            exc.AuthorisationError: 404,
            exc.OperationNotAllowed: 404,
            exc.PayloadTooLargeError: 413,
            exc.AuthenticationError: 401,
        }.get(type(error), 400)
    return JsonResponse({"error": error.message, "code": error.code, **extra}, status=status)
