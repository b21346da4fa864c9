"""bench_api.py's URLconf: the product's routes + the unsigned baseline view."""

from __future__ import annotations

import os

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from dashboard.urls import urlpatterns as product_urlpatterns
from datasets_app.api import schemas, v1
from datasets_app.sdk import Principal

_principal: Principal | None = None


@csrf_exempt
def unsigned_v1(request: HttpRequest) -> HttpResponse:
    """The same handler and serialisation as POST /public, minus signature check, key lookup and
    rate limit: the principal is the benchmark user, loaded once."""
    global _principal
    if _principal is None:
        from datasets_app import models as m

        _principal = Principal(user=m.User.objects.get(email=os.environ["BENCH_API_USER"]))
    query_type, query_method, uid, payload = schemas.parse_v1_envelope(request.body)
    call = v1.V1Call(
        request=request,
        principal=_principal,
        resource_id=request.META.get("HTTP_RESOURCEID"),
        uid=uid,
        payload=payload,
        trace_id="bench",
    )
    return v1._success(v1.OPERATIONS[("public", query_type, query_method)](call), "bench")


urlpatterns = [path("bench/unsigned", unsigned_v1), *product_urlpatterns]
