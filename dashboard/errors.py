"""SDK errors -> pages, mapped in one place: not found -> 404, not allowed -> 403, bad input -> form errors."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from django.core.exceptions import PermissionDenied
from django.forms import Form
from django.http import Http404

from datasets_app.sdk import exceptions as exc


@contextmanager
def sdk_errors_as_http() -> Iterator[None]:
    try:
        yield
    except (exc.ResourceNotFoundError,) as e:
        raise Http404(e.message) from None
    except (exc.AuthorisationError, exc.OperationNotAllowed, exc.AuthenticationError) as e:
        raise PermissionDenied(e.message) from None


def add_form_error(form: Form, error: exc.DatasetsError, field_map: dict[str, str] | None = None) -> None:
    """Puts an InvalidArgumentError next to the field it names (or on the form)."""
    name = (field_map or {}).get(error.fields.get("field", ""), error.fields.get("field"))
    form.add_error(name if name in form.fields else None, error.message)
