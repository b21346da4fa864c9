"""GET /healthz: 200 when the database and the broker answer, 503 naming what does not."""

from __future__ import annotations

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from datasets_app.observability import has_metrics_token
from datasets_app.sdk.policy import may_see_server_diagnostics
from datasets_app.sdk.workers import waiting_warnings


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not reachable"
        return f"database: {exc.__class__.__name__}: {exc}"
    return None


def _check_broker() -> str | None:
    from dashboard.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"broker: {exc.__class__.__name__}: {exc}"
    return None


@never_cache
def healthz(request):
    problems = [p for p in (_check_database(), _check_broker()) if p]
    if not (has_metrics_token(request) or may_see_server_diagnostics(request.user)):
        # Exception text names hosts and drivers: only the operator (metrics token, org admin) sees it.
        problems = [p.split(":", 1)[0] + ": unavailable" for p in problems]
    body = {"status": "ok" if not problems else "unavailable", "problems": problems}
    if not problems:
        # Jobs waiting on a queue no running worker consumes: the web tier is fine (still 200), say so.
        warnings = waiting_warnings()
        if warnings:
            body["warnings"] = warnings
    return JsonResponse(body, status=200 if not problems else 503)


@never_cache
def livez(request):
    """GET /livez: 200 while the process serves requests; touches nothing (a liveness probe, and the
    trivial baseline of bench/bench_load.py)."""
    from django.http import HttpResponse

    return HttpResponse("ok\n", content_type="text/plain")
