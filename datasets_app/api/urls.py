"""Routes of the Encord-compatible API, at the root of the host, no trailing slashes (§2.1, §11).

v2 routes come from every module of datasets_app/api/v2/ that defines `urlpatterns`; other
non-v1/v2 views (signed upload/download URLs) add their own line below."""

from __future__ import annotations

import importlib
import pkgutil

from django.urls import path, re_path

from . import media_views, upload_views, v1, v2
from .v2 import base as v2_base


def _v2_patterns() -> list:
    patterns: list = []
    for info in sorted(pkgutil.iter_modules(v2.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{v2.__name__}.{info.name}")
        patterns.extend(getattr(module, "urlpatterns", []))
    return patterns


urlpatterns = [
    path("public", v1.public, name="api-v1-public"),
    path("public/user", v1.public_user, name="api-v1-public-user"),
    path("media/signed/<path:key>", media_views.signed_media, name="media-signed"),
    path("media/private/<str:integration_uuid>", media_views.private_media, name="media-private"),
    path("upload/<str:item_uuid>", upload_views.signed_upload, name="upload-signed"),
    *_v2_patterns(),
    # Keep last: any other /v2/public path is a JSON 404.
    re_path(r"^v2/public/(?P<rest>(?s:.*))$", v2_base.not_found, name="api-v2-not-found"),
]
