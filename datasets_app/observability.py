"""Structured logs, one trace id from the request into the Celery tasks it starts, Prometheus metrics.

- `JsonFormatter` + `TraceIdFilter`: LOG_FORMAT=json gives one JSON object a line, each with the
  trace id of the request or task that wrote it.
- `RequestObservabilityMiddleware`: takes the trace id from `X-Cloud-Trace-Context` (what the
  encord SDK and Google's load balancers send), else makes one; times each request by route.
- Celery signals (connected in `connect_celery_signals`, called from dashboard/celery.py): the trace
  id rides in a task header, is restored in the worker, and task durations/storage errors are counted.
- `metrics_view`: GET /metrics in the Prometheus text format; multiprocess-safe when
  PROMETHEUS_MULTIPROC_DIR is set (gunicorn workers, Celery prefork children on the same host).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import os
import re
import time
import traceback
import uuid
from typing import Any, Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

logger = logging.getLogger(__name__)

# ---- trace id ------------------------------------------------------------------------------------

_trace_id: contextvars.ContextVar[str] = contextvars.ContextVar("trace_id", default="")
TRACE_HEADER = "X-Cloud-Trace-Context"
TASK_TRACE_HEADER = "trace_id"
# "TRACE_ID/SPAN_ID;o=OPTIONS": the trace id is 32 hex chars; we accept any short token so a
# client's own ids survive, but never let a header put arbitrary text into our logs.
_TRACE_RE = re.compile(r"^([A-Za-z0-9_\-]{1,64})(?:/[^;]*)?(?:;.*)?$")


def current_trace_id() -> str:
    """The trace id of the request or task running in this context ("" outside one)."""
    return _trace_id.get()


def new_trace_id() -> str:
    return uuid.uuid4().hex


def parse_trace_header(value: str | None) -> str | None:
    """The trace id part of an X-Cloud-Trace-Context value, or None when absent or malformed."""
    if not value:
        return None
    match = _TRACE_RE.match(value.strip())
    return match.group(1) if match else None


def bind_trace_id(trace_id: str) -> contextvars.Token:
    return _trace_id.set(trace_id)


def unbind_trace_id(token: contextvars.Token) -> None:
    _trace_id.reset(token)


# ---- logging -------------------------------------------------------------------------------------


class TraceIdFilter(logging.Filter):
    """Adds `trace_id` to every record (so plain formats can print %(trace_id)s too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "trace_id", None):
            record.trace_id = current_trace_id()
        return True


_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "trace_id"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, trace_id, exception, and any `extra=`."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, tz=dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "trace_id": getattr(record, "trace_id", "") or current_trace_id(),
            "process": record.process,
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.stack_info:
            out["stack"] = record.stack_info
        return json.dumps(out, default=str, ensure_ascii=False)


def logging_config(*, fmt: str, level: str) -> dict:
    """The LOGGING dict for settings: LOG_FORMAT=json or plain text, both carrying the trace id."""
    formatter = (
        {"()": "datasets_app.observability.JsonFormatter"}
        if fmt == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s [%(trace_id)s] %(message)s"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"trace_id": {"()": "datasets_app.observability.TraceIdFilter"}},
        "formatters": {"default": formatter},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "default", "filters": ["trace_id"]}
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            # Our middleware logs each request once; Django's own server log would repeat it.
            "django.server": {"level": "WARNING"},
            "celery": {"level": level},
        },
    }


# ---- metrics -------------------------------------------------------------------------------------

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

REQUEST_LATENCY = Histogram(
    "dd_http_request_duration_seconds",
    "Time to answer an HTTP request, by route pattern.",
    ["method", "route", "status"],
    buckets=_LATENCY_BUCKETS,
)
TASK_DURATION = Histogram(
    "dd_task_duration_seconds",
    "Celery task run time, by task name and outcome.",
    ["task", "outcome"],
    buckets=_LATENCY_BUCKETS + (120, 300, 900, 3600),
)
STORAGE_ERRORS = Counter(
    "dd_storage_errors_total",
    "Failed operations against hosted-media storage, by operation.",
    ["operation"],
)


def count_storage_error(operation: str) -> None:
    STORAGE_ERRORS.labels(operation=operation).inc()


def _is_storage_error(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return True
    # botocore is optional at import time (local storage deployments).
    return type(exc).__module__.startswith(("botocore", "boto3", "s3transfer"))


class DatabaseStateCollector:
    """Scrape-time figures read from the database and the broker (so every web process agrees):
    jobs by kind and state, queue depth, recent unit durations. Three small queries per scrape."""

    def collect(self) -> Iterator:
        from django.db.models import Count, F, Sum
        from django.utils import timezone

        from datasets_app import models as m

        jobs = GaugeMetricFamily("dd_jobs", "Jobs in the database by kind and state.", labels=["kind", "state"])
        try:
            for kind, state, n in m.DataJob.objects.values_list("kind", "status").annotate(n=Count("id")).order_by():
                jobs.add_metric([kind, state], n)
            for state, n in m.ReEncodeTask.objects.values_list("status").annotate(n=Count("id")).order_by():
                jobs.add_metric(["reencode", state], n)
            since = timezone.now() - dt.timedelta(hours=1)
            recent = (
                m.DataJobUnit.objects.filter(finished_at__gte=since, started_at__isnull=False)
                .annotate(took=F("finished_at") - F("started_at"))
                .aggregate(n=Count("id"), total=Sum("took"))
            )
        except Exception:  # a scrape must still answer when the database is away
            logger.warning("metrics: database unavailable", exc_info=True)
            return
        yield jobs
        units = SummaryMetricFamily(
            "dd_data_job_units_recent_seconds", "Data-job units finished in the last hour (from the database)."
        )
        total = recent["total"]
        units.add_metric([], count_value=recent["n"] or 0, sum_value=total.total_seconds() if total else 0.0)
        yield units
        depth = queue_depths()
        if depth is not None:
            g = GaugeMetricFamily("dd_queue_depth", "Messages waiting in each Celery queue.", labels=["queue"])
            for queue, n in depth.items():
                g.add_metric([queue], n)
            yield g


def queue_depths() -> dict[str, int] | None:
    """Waiting messages per queue on a Redis broker (None for other brokers or when unreachable)."""
    from django.conf import settings

    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return None
    import redis

    queues = ["default", "media"]
    try:
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        # kombu keeps priority sub-queues as "<queue>\x06\x16<n>"; count them with the queue.
        out = {}
        for q in queues:
            names = [q] + [f"{q}\x06\x16{p}" for p in (3, 6, 9)]
            with client.pipeline() as pipe:
                for name in names:
                    pipe.llen(name)
                out[q] = sum(pipe.execute())
        return out
    except redis.RedisError:
        logger.warning("metrics: broker unavailable", exc_info=True)
        return None


def metrics_registry() -> CollectorRegistry:
    """The registry to expose: every process's samples in multiprocess mode, plus the DB figures."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        for metric in (REQUEST_LATENCY, TASK_DURATION, STORAGE_ERRORS):
            registry.register(metric)
    registry.register(DatabaseStateCollector())
    return registry


def has_metrics_token(request) -> bool:
    """True when METRICS_TOKEN is set and the request carries it as `Authorization: Bearer`
    (compared in constant time)."""
    import hmac

    from django.conf import settings

    token = getattr(settings, "METRICS_TOKEN", "")
    given = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def is_loopback_client(request) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def metrics_view(request):
    """GET /metrics. With METRICS_TOKEN set, a matching `Authorization: Bearer` header is required;
    without one, only loopback clients (a scraper on this host) are answered."""
    from django.conf import settings
    from django.http import HttpResponse

    if getattr(settings, "METRICS_TOKEN", ""):
        if not has_metrics_token(request):
            return HttpResponse("metrics need the bearer token\n", status=401, content_type="text/plain")
    elif not is_loopback_client(request):
        return HttpResponse(
            "metrics are served to other hosts only with METRICS_TOKEN set (then send Authorization: Bearer)\n",
            status=403,
            content_type="text/plain",
        )
    return HttpResponse(generate_latest(metrics_registry()), content_type=CONTENT_TYPE_LATEST)


# ---- request middleware ---------------------------------------------------------------------------


def _static_prefix() -> str:
    from django.conf import settings

    return "/" + settings.STATIC_URL.lstrip("/")


access_log = logging.getLogger("dashboard.request")


def record_request(method: str, route: str, status: int, took: float, trace_id: str) -> None:
    """One access-log line and one latency observation for an answered request (the middleware
    below, and the ASGI upload endpoint that answers before Django)."""
    REQUEST_LATENCY.labels(method, route, str(status)).observe(took)
    access_log.info(
        "%s %s %s",
        method,
        route,
        status,
        extra={
            "trace_id": trace_id,
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(took * 1000, 1),
        },
    )


class RequestObservabilityMiddleware:
    """Binds the trace id for the request, logs one line per request and times it by route."""

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request):
        trace_id = parse_trace_header(request.headers.get(TRACE_HEADER)) or new_trace_id()
        token = bind_trace_id(trace_id)
        request.trace_id = trace_id
        start = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            unbind_trace_id(token)
        took = time.perf_counter() - start
        match = getattr(request, "resolver_match", None)
        # The route pattern, never the raw path, so hashes in URLs don't explode the label set.
        if match:
            route = match.route or match.view_name
        else:
            route = "static" if request.path.startswith(_static_prefix()) else "unmatched"
        response.headers.setdefault("X-Trace-Id", trace_id)
        if not hasattr(response, "deferred_long_poll"):  # not an answer: its second pass is logged
            record_request(request.method, route or "unmatched", response.status_code, took, trace_id)
        return response

    def process_exception(self, request, exception):
        from django.http import JsonResponse

        message = unavailable_message(exception)
        if message is None:
            return None
        response = JsonResponse(
            {"status": "unavailable", "error": message, "message": message,
             "trace_id": getattr(request, "trace_id", "")},
            status=503,
        )
        response["Retry-After"] = "1"
        return response


def unavailable_message(exception: BaseException) -> str | None:
    """A lost database connection or a refusing storage is a 503 the client may retry (with
    Retry-After), not a 500: the message to send, logged (and counted for storage), or None for any
    other error. Django drops a broken DB connection when the request ends, so the next request
    reconnects."""
    from django.db import InterfaceError, OperationalError

    if isinstance(exception, (OperationalError, InterfaceError)):
        logger.warning("database unavailable: %s", exception, exc_info=exception)
        return "The database is unavailable; retry shortly."
    if _is_storage_error(exception):
        # Views touch files only through media/storage.py: an OSError or S3 error here is the
        # storage refusing (full disk, read-only, bucket gone). Writes there are atomic, so
        # nothing half-written was kept.
        count_storage_error("web")
        logger.error("storage unavailable: %s", exception, exc_info=exception)
        return f"Storage refused the operation ({type(exception).__name__}); nothing was kept. Retry later."
    return None


# ---- Celery --------------------------------------------------------------------------------------


def connect_celery_signals() -> None:
    """Trace ids across the broker, task timing and storage-error counts. Idempotent."""
    from celery import signals

    signals.before_task_publish.connect(_add_trace_header, weak=False, dispatch_uid="dd_trace_publish")
    signals.task_prerun.connect(_task_prerun, weak=False, dispatch_uid="dd_task_prerun")
    signals.task_postrun.connect(_task_postrun, weak=False, dispatch_uid="dd_task_postrun")
    signals.task_failure.connect(_task_failure, weak=False, dispatch_uid="dd_task_failure")
    signals.worker_ready.connect(_worker_ready, weak=False, dispatch_uid="dd_worker_ready")


def _add_trace_header(sender=None, headers=None, **_):
    if headers is not None and not headers.get(TASK_TRACE_HEADER):
        # A task started from a task keeps the same trace; a task from a shell/beat gets its own.
        headers[TASK_TRACE_HEADER] = current_trace_id() or new_trace_id()


_task_state: dict[str, tuple[contextvars.Token, float]] = {}
# One line when a task starts and one when it ends, both carrying the trace id of the request
# that queued it (the worker's own lines in between carry it too).
task_logger = logging.getLogger("dashboard.task")


def _task_prerun(task_id=None, task=None, **_):
    trace_id = None
    if task is not None:
        # Custom message headers show up on the request context (protocol 2).
        trace_id = getattr(task.request, TASK_TRACE_HEADER, None) or (task.request.headers or {}).get(
            TASK_TRACE_HEADER
        )
    _task_state[task_id] = (bind_trace_id(parse_trace_header(trace_id) or new_trace_id()), time.perf_counter())
    task_logger.info("task %s started", getattr(task, "name", "?"), extra={"task": getattr(task, "name", "?"),
                                                                          "task_id": task_id})


def _task_postrun(task_id=None, task=None, state=None, **_):
    entry = _task_state.pop(task_id, None)
    if entry is None:
        return
    token, start = entry
    took = time.perf_counter() - start
    name = task.name if task else "?"
    TASK_DURATION.labels(name, state or "UNKNOWN").observe(took)
    task_logger.info("task %s %s", name, state or "finished",
                     extra={"task": name, "task_id": task_id, "state": state, "duration_ms": round(took * 1000, 1)})
    try:
        unbind_trace_id(token)
    except ValueError:  # reset from another context (eager calls); the next task rebinds anyway
        _trace_id.set("")


def _task_failure(sender=None, exception=None, **_):
    if exception is not None and _is_storage_error(exception):
        count_storage_error(f"task:{getattr(sender, 'name', '?')}")


def _worker_ready(**_):
    # Workers on other hosts can't share the web tier's multiprocess directory; they expose their own.
    port = os.environ.get("WORKER_METRICS_PORT")
    if port and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import start_http_server

        start_http_server(int(port))
        logger.info("worker metrics on :%s/metrics", port)
