"""JSON logs with the request's trace id, the trace id carried into Celery tasks by a real worker,
and the Prometheus endpoint."""

from __future__ import annotations

import json
import logging
import queue

from django.http import HttpResponse
from django.test import RequestFactory
from prometheus_client.parser import text_string_to_metric_families

from dashboard.celery import app
from datasets_app import models as m
from datasets_app import observability as obs
from tests.factories import DataJobFactory, DataJobUnitFactory, DatasetFactory, ReEncodeTaskFactory

SEEN: queue.Queue = queue.Queue()
TRACE_QUEUE = "trace-test"  # one of TEST_WORKER_QUEUES (tests/conftest.py)


@app.task(name="tests.production.record_trace_task")
def record_trace_task(tag: str) -> None:
    SEEN.put((tag, obs.current_trace_id()))


@app.task(name="tests.production.storage_failure_task")
def storage_failure_task() -> None:
    raise PermissionError("bucket refuses writes")


def test_parse_trace_header_takes_the_trace_part_and_refuses_junk():
    assert obs.parse_trace_header("105445aa7843bc8bf206b12000100000/1;o=1") == "105445aa7843bc8bf206b12000100000"
    assert obs.parse_trace_header("abc123") == "abc123"
    assert obs.parse_trace_header("") is None
    assert obs.parse_trace_header("<script>/1") is None
    assert obs.parse_trace_header("x" * 65) is None


def test_json_formatter_writes_one_object_a_line_with_the_trace_id():
    formatter = obs.JsonFormatter()
    token = obs.bind_trace_id("trace-1")
    try:
        try:
            raise ValueError("boom\nsecond line")
        except ValueError:
            record = logging.getLogger("x").makeRecord(
                "x", logging.ERROR, __file__, 1, "failed %s", ("job",), exc_info=__import__("sys").exc_info(),
                extra={"job_id": 7},
            )
        line = formatter.format(record)
    finally:
        obs.unbind_trace_id(token)
    assert "\n" not in line
    out = json.loads(line)
    assert out["message"] == "failed job" and out["trace_id"] == "trace-1" and out["level"] == "ERROR"
    assert out["job_id"] == 7 and "ValueError: boom" in out["exception"]


def test_logging_config_json_applies_to_the_root_logger():
    config = obs.logging_config(fmt="json", level="INFO")
    assert config["formatters"]["default"]["()"] == "datasets_app.observability.JsonFormatter"
    assert config["handlers"]["console"]["filters"] == ["trace_id"]


def test_request_gets_the_cloud_trace_id_or_a_new_one(client, db, caplog):
    caplog.set_level(logging.INFO, logger="dashboard.request")
    response = client.get("/healthz", HTTP_X_CLOUD_TRACE_CONTEXT="0af7651916cd43dd8448eb211c80319c/7;o=1")
    assert response["X-Trace-Id"] == "0af7651916cd43dd8448eb211c80319c"
    (record,) = [r for r in caplog.records if r.name == "dashboard.request"]
    assert record.trace_id == "0af7651916cd43dd8448eb211c80319c" and record.route == "healthz"
    assert record.status == 200

    other = client.get("/healthz")
    assert len(other["X-Trace-Id"]) == 32 and other["X-Trace-Id"] != response["X-Trace-Id"]
    assert obs.current_trace_id() == ""  # nothing leaks past the request


def test_trace_id_travels_from_the_request_into_the_task_it_starts(db, _module_worker_thread):
    def view(request):
        record_trace_task.apply_async(("from-request",), queue=TRACE_QUEUE)
        return HttpResponse("queued")

    middleware = obs.RequestObservabilityMiddleware(view)
    request = RequestFactory().get("/x", HTTP_X_CLOUD_TRACE_CONTEXT="feedbeef00112233/1")
    middleware(request)
    tag, seen = SEEN.get(timeout=60)
    assert (tag, seen) == ("from-request", "feedbeef00112233")

    # a task queued outside any request still gets a trace id of its own
    record_trace_task.apply_async(("outside",), queue=TRACE_QUEUE)
    tag, seen = SEEN.get(timeout=60)
    assert tag == "outside" and len(seen) == 32 and seen != "feedbeef00112233"


def _sample(text: str, name: str, **labels) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None


def test_metrics_endpoint_reports_latency_by_route_and_jobs_by_state(client, db):
    ds = DatasetFactory()
    DataJobFactory(dataset=ds, kind="upload")
    DataJobFactory(dataset=ds, kind="upload", status="ERROR")
    ReEncodeTaskFactory(dataset=ds)
    before = _sample(client.get("/metrics").content.decode(), "dd_http_request_duration_seconds_count",
                     route="healthz", status="200") or 0
    client.get("/healthz")
    text = client.get("/metrics").content.decode()
    assert _sample(text, "dd_http_request_duration_seconds_count", route="healthz", status="200") == before + 1
    assert _sample(text, "dd_jobs", kind="upload", state="PENDING") == 1
    assert _sample(text, "dd_jobs", kind="upload", state="ERROR") == 1
    assert _sample(text, "dd_jobs", kind="reencode", state="SUBMITTED") == 1
    assert _sample(text, "dd_data_job_units_recent_seconds_count") == 0

    # a unit that took 3 s, finished a minute ago, shows in the unit-duration summary
    import datetime as dt

    from django.utils import timezone

    job = m.DataJob.objects.first()
    done = timezone.now() - dt.timedelta(minutes=1)
    DataJobUnitFactory(job=job, index=0, spec={}, status="DONE", started_at=done - dt.timedelta(seconds=3),
                       finished_at=done)
    text = client.get("/metrics").content.decode()
    assert _sample(text, "dd_data_job_units_recent_seconds_count") == 1
    assert _sample(text, "dd_data_job_units_recent_seconds_sum") == 3.0


def test_metrics_token_is_required_when_set(client, db, settings):
    settings.METRICS_TOKEN = "s3cret"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200


def test_storage_failures_in_tasks_are_counted():
    before = obs.STORAGE_ERRORS.labels(operation="task:tests.production.storage_failure_task")._value.get()
    storage_failure_task.apply()
    after = obs.STORAGE_ERRORS.labels(operation="task:tests.production.storage_failure_task")._value.get()
    assert after == before + 1
