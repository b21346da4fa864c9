"""GET /v2/public/presigned-urls?count=N&uploadItemType=T (protocol §6.7 step 1): N upload slots."""

from __future__ import annotations

from typing import Any

from django.urls import path

from datasets_app.sdk.exceptions import AuthenticationError, InvalidArgumentError
from datasets_app.sdk.uploads import issue_upload_urls

from .base import V2Call, v2_endpoint


@v2_endpoint(methods=["GET"])
def presigned_urls(call: V2Call) -> dict[str, Any]:
    """-> {"results": [{item_uuid, object_key, signed_url, upload_headers}] * count, "next_page_token": null}."""
    if call.principal is None:
        raise AuthenticationError("Sign this request with your SSH key or send a bearer token.")
    count = call.query.get("count")
    if count is None or not count.isdigit():
        raise InvalidArgumentError("count must be a positive integer.", field="count")
    item_type = call.query.get("uploadItemType") or ""
    issued = issue_upload_urls(
        call.principal, int(count), item_type, base_url=call.request.build_absolute_uri("/")
    )
    return {
        "results": [
            {
                "item_uuid": i.item_uuid,
                "object_key": i.object_key,
                "signed_url": i.signed_url,
                "upload_headers": i.upload_headers,
            }
            for i in issued
        ],
        "next_page_token": None,
    }


urlpatterns = [path("v2/public/presigned-urls", presigned_urls, name="api-v2-presigned-urls")]
