"""Dataset members: list (§6.14) and bulk delete."""

from __future__ import annotations

from typing import Any

from django.urls import path

from .. import schemas as s
from .base import V2Call, v2_endpoint


@v2_endpoint(methods=["GET"])
def list_users(call: V2Call, dataset_uuid: str) -> dict[str, Any]:
    """GET /v2/public/datasets/<uuid>/users -> one page with every member."""
    users = call.user_client().get_dataset(s.uuid_str(dataset_uuid, "dataset_uuid")).list_users()
    return {"results": [s.dataset_user_v2(u) for u in users], "next_page_token": None}


@v2_endpoint(methods=["POST"])
def remove_users(call: V2Call, dataset_uuid: str) -> None:
    """POST /v2/public/datasets/<uuid>/users/bulk-delete {"userEmails": [...]} -> 200 null."""
    body = call.json()
    s.only_keys(body, {"userEmails"}, "body")
    emails = s.str_list(body.get("userEmails"), "userEmails", max_items=1000)
    call.user_client().get_dataset(s.uuid_str(dataset_uuid, "dataset_uuid")).remove_users(emails)


urlpatterns = [
    path("v2/public/datasets/<str:dataset_uuid>/users", list_users, name="api-v2-dataset-users"),
    path(
        "v2/public/datasets/<str:dataset_uuid>/users/bulk-delete",
        remove_users,
        name="api-v2-dataset-users-delete",
    ),
]
