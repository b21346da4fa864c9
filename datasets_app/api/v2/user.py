"""The caller's own account: bearer tokens (§3.4)."""

from __future__ import annotations

from django.urls import path

from .base import V2Call, v2_endpoint


@v2_endpoint(methods=["GET"])
def bearer_token(call: V2Call) -> dict[str, str]:
    """GET /v2/public/user/bearer-token -> {"token"} (24 h; only its digest is stored); only for
    a request signed with the user's Ed25519 key (the SDK layer refuses a bearer token: 403)."""
    return {"token": call.user_client().get_bearer_token()}


urlpatterns = [
    path("v2/public/user/bearer-token", bearer_token, name="api-v2-bearer-token"),
]
