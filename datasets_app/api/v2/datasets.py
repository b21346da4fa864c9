"""Datasets: create (§6.1) and list (§6.2)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from datasets_app.sdk.exceptions import MethodNotAllowedError

from .. import schemas as s
from ..errors import trace_id_of, v2_error
from .base import V2Call, v2_endpoint

LIST_FILTERS = {
    "titleEq": "title_eq",
    "titleLike": "title_like",
    "descriptionEq": "desc_eq",
    "descriptionLike": "desc_like",
    "createdBefore": "created_before",
    "createdAfter": "created_after",
    "editedBefore": "edited_before",
    "editedAfter": "edited_after",
}


@v2_endpoint(methods=["POST"])
def create_dataset(call: V2Call) -> dict[str, Any]:
    """POST /v2/public/datasets -> {"dataset_uuid", "backing_folder_uuid"}."""
    body = call.json()
    s.only_keys(body, {"title", "description", "createBackingFolder", "legacyCall"}, "body")
    s.strict_bool(body, "legacyCall", False)  # analytics only (§6.1), but checked
    created = call.user_client().create_dataset(
        body.get("title"),
        dataset_description=s.strict_str(body, "description"),
        create_backing_folder=s.strict_bool(body, "createBackingFolder", True),
    )
    return {"dataset_uuid": created.dataset_hash, "backing_folder_uuid": created.backing_folder_uuid}


@v2_endpoint(methods=["GET"])
def list_datasets(call: V2Call) -> dict[str, Any]:
    """GET /v2/public/datasets/list -> {"result": [DatasetWithUserRole]}."""
    kwargs: dict[str, Any] = {}
    for param, name in LIST_FILTERS.items():
        value = s.query_str(call.query, param)
        kwargs[name] = s.parse_datetime(value, param) if name.endswith(("_before", "_after")) else value
    include_org = s.query_bool(call.query, "includeOrgAccess")
    entries = call.user_client().get_datasets(**kwargs, include_org_access=include_org)
    return {"result": [s.dataset_with_role_v2(e) for e in entries]}


@csrf_exempt
def dataset_groups(request: HttpRequest, dataset_uuid: str) -> HttpResponse:
    """GET/POST/DELETE /v2/public/datasets/<uuid>/groups: user groups are not modelled here, so
    every method is 405 (protocol §1: not required; no tutorial step calls them)."""
    response = v2_error(
        MethodNotAllowedError("Dataset groups are not supported by this server; add users by e-mail."),
        trace_id_of(request),
    )
    response["Allow"] = ""
    return response


urlpatterns = [
    path("v2/public/datasets", create_dataset, name="api-v2-datasets"),
    path("v2/public/datasets/list", list_datasets, name="api-v2-datasets-list"),
    path("v2/public/datasets/<str:dataset_uuid>/groups", dataset_groups, name="api-v2-dataset-groups"),
]
