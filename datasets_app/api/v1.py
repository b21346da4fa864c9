"""The v1 RPC dispatcher: `POST /public` and `POST /public/user` (protocol §5, Appendix A).

One table maps (endpoint, query_type, query_method) to a handler. Handler modules register with
`@v1_operation(...)`; every module named `datasets_app/api/v1_*.py` is imported at the bottom of
this file, so a new operation needs no edit here.

    @v1_operation("datarows", "GET")
    def list_data_rows(call: V1Call) -> list[dict]:
        return [...]          # becomes the envelope's "response"

A handler may return a `V1Stream` to write a large response chunk by chunk.
"""

from __future__ import annotations

import importlib
import json
import logging
import pkgutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from datasets_app.sdk import Dataset, Principal, UserClient
from datasets_app.sdk.exceptions import (
    AuthenticationError,
    DatasetsError,
    InvalidArgumentError,
    MethodNotAllowedError,
)
from datasets_app.sdk.policy import parse_hash

from . import schemas
from .auth import authenticate_v1, read_body, throttle
from .errors import trace_id_of, v1_error, v1_unknown
from .long_poll import DeferredWait, deferred_response

logger = logging.getLogger("datasets_app.api")

ENDPOINTS = ("public", "user")
Handler = Callable[["V1Call"], Any]
OPERATIONS: dict[tuple[str, str, str], Handler] = {}


def v1_operation(
    query_type: str, query_method: str, *, endpoint: str = "public"
) -> Callable[[Handler], Handler]:
    """Registers `handler(call) -> response` for one (query_type, query_method) on one endpoint."""
    if endpoint not in ENDPOINTS:
        raise ValueError(f"endpoint must be one of {ENDPOINTS}, not {endpoint!r}")
    key = (endpoint, query_type.lower(), query_method.upper())

    def register(handler: Handler) -> Handler:
        if key in OPERATIONS and OPERATIONS[key] is not handler:
            raise RuntimeError(
                f"v1 operation {key} registered twice ({OPERATIONS[key].__module__}, {handler.__module__})"
            )
        OPERATIONS[key] = handler
        return handler

    return register


@dataclass
class V1Call:
    """One v1 request after authentication and envelope parsing."""

    request: HttpRequest
    principal: Principal
    resource_id: str | None
    uid: Any
    payload: Any
    trace_id: str
    endpoint: str = "public"
    query_type: str = ""
    query_method: str = ""
    _dataset: Dataset | None = field(default=None, repr=False)

    def dataset(self) -> Dataset:
        """The ResourceID dataset for this principal (ResourceNotFoundError if they cannot see it).

        Users open it through UserClient.get_dataset; an API key opens its own dataset without a
        scope check here, because each Dataset method checks the operation it performs."""
        if self._dataset is not None:
            return self._dataset
        if not self.resource_id:
            raise InvalidArgumentError(
                "This call needs the dataset hash in the ResourceID header.", field="ResourceID"
            )
        if self.principal.is_key:
            self._dataset = Dataset.of_key(self.principal, parse_hash(self.resource_id, "ResourceID"))
        else:
            self._dataset = self.user_client().get_dataset(self.resource_id)
        return self._dataset

    def user_client(self) -> UserClient:
        """The caller's UserClient; AuthenticationError for a dataset API key."""
        if self.principal.is_key:
            raise AuthenticationError(
                "This call needs your SSH key signature; a dataset API key cannot make it."
            )
        return UserClient.for_principal(self.principal)

    def dataset_uid(self) -> str:
        """`values.uid` when it names the dataset: it must agree with ResourceID (§3.7)."""
        uid = parse_hash(self.uid, "values.uid")
        if self.resource_id and parse_hash(self.resource_id, "ResourceID") != uid:
            raise InvalidArgumentError(
                f"values.uid {self.uid} and the ResourceID header {self.resource_id} name different datasets.",
                field="uid",
            )
        return str(uid)


class V1Stream:
    """A response written chunk by chunk: a JSON object whose last key is a (long) list, or a bare
    list (`V1Stream.list(items)`). `head` holds the object's other keys; `items` yields the list's
    elements (plain JSON values) lazily. Do every permission check before returning one."""

    def __init__(self, head: dict[str, Any] | None, list_key: str | None, items: Iterable[Any]) -> None:
        self.head = head or {}
        self.list_key = list_key
        self.items = items

    @classmethod
    def list(cls, items: Iterable[Any]) -> V1Stream:
        """A bare JSON list, streamed."""
        return cls(None, None, items)

    def chunks(self) -> Iterator[str]:
        if self.list_key is None:
            yield "["
        else:
            head = schemas.dumps(self.head)
            yield head[:-1] + ("," if self.head else "") + json.dumps(self.list_key) + ":["
        batch: list[str] = []
        first = True
        for item in self.items:
            batch.append(schemas.dumps(item))
            if len(batch) >= 500:
                yield ("" if first else ",") + ",".join(batch)
                first = False
                batch = []
        if batch:
            yield ("" if first else ",") + ",".join(batch)
        yield "]" if self.list_key is None else "]}"


def _success(result: Any, trace_id: str) -> HttpResponse:
    if isinstance(result, V1Stream):

        def body() -> Iterator[bytes]:
            yield b'{"status":200,"response":'
            try:
                for chunk in result.chunks():
                    yield chunk.encode()
            except Exception:
                # Headers are gone: all we can do is log and cut the body short, which the SDK
                # reports as a JSON parsing error (and retries, for the retryable reads).
                logger.exception("Streamed v1 response failed (X-Cloud-Trace-Context: %s)", trace_id)
                return
            yield b"}"

        response: HttpResponse = StreamingHttpResponse(body(), content_type="application/json")
    else:
        response = HttpResponse(
            schemas.dumps({"status": 200, "response": result}), content_type="application/json"
        )
    response["X-Cloud-Trace-Context"] = trace_id
    return response


def dispatch(request: HttpRequest, endpoint: str) -> HttpResponse:
    trace_id = trace_id_of(request)
    try:
        if request.method != "POST":
            hint = (
                " A POST sent to an http:// address is redirected to https:// and arrives as a GET:"
                " give the client an https:// domain."
                if request.method == "GET" and request.is_secure()
                else ""
            )
            raise MethodNotAllowedError("v1 calls are POST requests with a JSON envelope." + hint)
        body = read_body(request)
        principal = authenticate_v1(request, body, endpoint=endpoint)
        throttle(principal)
        query_type, query_method, uid, payload = schemas.parse_v1_envelope(body)
        handler = OPERATIONS.get((endpoint, query_type, query_method))
        if handler is None:
            raise MethodNotAllowedError(
                f"No operation {query_type!r}/{query_method!r} on POST /{'public/user' if endpoint == 'user' else 'public'}."
            )
        resource_id = request.META.get("HTTP_RESOURCEID", "").strip() or None
        if principal.is_key:
            logger.info(
                "API key %s: %s/%s (trace %s)", principal.api_key.key_hash, query_type, query_method, trace_id
            )
        call = V1Call(
            request=request,
            principal=principal,
            resource_id=resource_id,
            uid=uid,
            payload=payload,
            trace_id=trace_id,
            endpoint=endpoint,
            query_type=query_type,
            query_method=query_method,
        )
        result = handler(call)
    except DeferredWait as wait:
        return deferred_response(wait)
    except DatasetsError as error:
        response = v1_error(error, trace_id)
        if request.method != "POST":
            response.status_code = 405
        return response
    except Exception as unexpected:  # noqa: BLE001 - the protocol's UNKNOWN_ERROR, never a traceback page
        return v1_unknown(request, trace_id, unexpected)
    return _success(result, trace_id)


@csrf_exempt
def public(request: HttpRequest) -> HttpResponse:
    return dispatch(request, "public")


@csrf_exempt
def public_user(request: HttpRequest) -> HttpResponse:
    return dispatch(request, "user")


def _import_handler_modules() -> None:
    package = __name__.rpartition(".")[0]
    path = importlib.import_module(package).__path__
    for info in sorted(pkgutil.iter_modules(path), key=lambda i: i.name):
        if info.name.startswith("v1_"):
            importlib.import_module(f"{package}.{info.name}")


_import_handler_modules()
