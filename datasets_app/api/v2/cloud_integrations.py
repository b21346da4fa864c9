"""Cloud integrations (§6.9)."""

from __future__ import annotations

from typing import Any

from django.urls import path

from .. import schemas as s
from .base import V2Call, v2_endpoint


@v2_endpoint(methods=["GET"])
def list_cloud_integrations(call: V2Call) -> dict[str, Any]:
    """GET /v2/public/cloud-integrations -> {"result": [{"integration_uuid", "title"}]}."""
    uuids = call.query.getlist("filterIntegrationUuids")
    titles = call.query.getlist("filterIntegrationTitles")
    integrations = call.user_client().get_cloud_integrations(
        filter_integration_uuids=uuids or None,
        filter_integration_titles=titles or None,
        include_org_access=s.query_bool(call.query, "includeOrgAccess"),
    )
    return {"result": [s.cloud_integration_v2(i) for i in integrations]}


urlpatterns = [
    path("v2/public/cloud-integrations", list_cloud_integrations, name="api-v2-cloud-integrations"),
]
