"""`@v2_endpoint`: authentication (encord-sig or bearer), rate limit, error mapping, JSON 200."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict
from django.views.decorators.csrf import csrf_exempt

from datasets_app.sdk import Principal, UserClient
from datasets_app.sdk.exceptions import (
    AuthenticationError,
    DatasetsError,
    InvalidArgumentError,
    MethodNotAllowedError,
    ResourceNotFoundError,
)

from .. import schemas
from ..auth import authenticate_v2, read_body, throttle
from ..errors import trace_id_of, v2_error, v2_unknown


@dataclass
class V2Call:
    request: HttpRequest
    principal: Principal | None
    body: bytes
    trace_id: str

    @property
    def query(self) -> QueryDict:
        return self.request.GET

    def json(self) -> dict[str, Any]:
        """The body as a JSON object (InvalidArgumentError otherwise)."""
        data = schemas.load_json(self.body or b"null")
        if not isinstance(data, dict):
            raise InvalidArgumentError("The body must be a JSON object.")
        return data

    def user_client(self) -> UserClient:
        if self.principal is None or self.principal.is_key:
            raise AuthenticationError("Sign this request with your SSH key or send a bearer token.")
        return UserClient.for_principal(self.principal)


def v2_endpoint(methods: list[str], *, authenticate: bool = True) -> Callable:
    """Wraps `handler(call: V2Call, **path_kwargs)`; its return value is sent as JSON with HTTP 200
    (`None` as `null`: both SDK versions accept a 200 with a JSON body, 0.1.145 nothing else)."""
    allowed = {m.upper() for m in methods}

    def decorate(handler: Callable[..., Any]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @wraps(handler)
        def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            trace_id = trace_id_of(request)
            try:
                if request.method not in allowed:
                    raise MethodNotAllowedError(f"Use {' or '.join(sorted(allowed))} on this route.")
                body = read_body(request)
                schemas.check_query(request.GET)
                principal = authenticate_v2(request, body) if authenticate else None
                if principal is not None:
                    throttle(principal)
                result = handler(
                    V2Call(request=request, principal=principal, body=body, trace_id=trace_id), **kwargs
                )
            except DatasetsError as error:
                response = v2_error(error, trace_id)
                if isinstance(error, MethodNotAllowedError):
                    response["Allow"] = ", ".join(sorted(allowed))
                return response
            except Exception:  # noqa: BLE001 - a JSON 500, never a traceback page
                return v2_unknown(request, trace_id)
            if isinstance(result, HttpResponse):
                return result
            response = HttpResponse(schemas.dumps(result), content_type="application/json")
            response["X-Cloud-Trace-Context"] = trace_id
            return response

        view.v2_methods = sorted(allowed)  # type: ignore[attr-defined]
        return view

    return decorate


@csrf_exempt
def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Unknown /v2/public routes answer JSON, never Django's HTML page."""
    return v2_error(ResourceNotFoundError(f"No route {request.path}."), trace_id_of(request))
