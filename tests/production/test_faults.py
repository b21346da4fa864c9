"""Faults against the real services (PostgreSQL, Redis, gunicorn, Celery workers as processes;
nothing mocked). Skipped with the reason unless DATABASE_URL is PostgreSQL and CELERY_BROKER_URL is
Redis (.ci/run's second pass).

Job types used: re-encode tasks and upload data jobs (video units)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection, transaction

from dashboard.celery import app
from datasets_app import models as m
from datasets_app.sdk import UserClient
from datasets_app.sdk.reencode_jobs import output_key_for
from tests.factories import (
    DatasetFactory,
    DatasetMembershipFactory,
    ReEncodeTaskFactory,
    ReEncodeVideoFactory,
    UserFactory,
    hosted_video_row,
)

from .topology import Topology

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


_VIDEO_CACHE: dict[str, Path] = {}


def _video(tmp_path_factory, frames: int) -> Path:
    key = f"v{frames}"
    if key not in _VIDEO_CACHE:
        from tests.media.test_video import make_video

        path = tmp_path_factory.mktemp("videos") / f"clip{frames}.mp4"
        _VIDEO_CACHE[key] = make_video(path, frames=frames, fps=30, width=480, height=360)
    return _VIDEO_CACHE[key]


def _stored_keys() -> set[str]:
    root = Path(settings.MEDIA_ROOT)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def _editor(dataset):
    user = DatasetMembershipFactory(dataset=dataset, role=m.DatasetUserRole.ADMIN).user
    return UserClient.for_user(user).get_dataset(str(dataset.dataset_hash))


def _wait_done(topo: Topology, task_id: int, timeout: float = 120) -> m.ReEncodeTask:
    def done() -> bool:
        return m.ReEncodeTask.objects.get(pk=task_id).status != "SUBMITTED"

    topo.wait_for(done, f"re-encode task {task_id} to finish", timeout=timeout)
    return m.ReEncodeTask.objects.get(pk=task_id)


def _assert_one_clean_result(task_id: int, row: m.DataRow, original_key: str) -> None:
    task = m.ReEncodeTask.objects.get(pk=task_id)
    assert task.status == "DONE", task.message
    (part,) = m.ReEncodeVideo.objects.filter(task_id=task_id)
    assert part.status == "DONE"
    row.refresh_from_db()
    out_key = output_key_for(row)
    # the row points at the one output; the original is remembered, never the output itself
    assert row.storage_key == out_key and row.original_storage_key == original_key
    assert m.DataRow.objects.filter(dataset=row.dataset).count() == 1
    assert m.ReEncodeTask.objects.filter(dataset=row.dataset).count() == 1
    # exactly the original and the output are stored: no duplicate, no orphan. A killed encode may
    # leave its scratch file beside the media; beat's orphan sweep removes it once old enough
    # (here: with no age margin, as if that time had passed).
    scratch = {k for k in _stored_keys() if k.startswith(".tmp-reencode/")}
    assert _stored_keys() - scratch == {original_key, out_key}
    if scratch:
        from datasets_app.sdk import maintenance

        assert set(maintenance.sweep_orphan_files(older_than=dt.timedelta(0))) == scratch
    assert _stored_keys() == {original_key, out_key}


def test_media_worker_killed_mid_job_completes_after_restart(topo, tmp_path_factory):
    # given a long enough video and a queued re-encode being worked on
    ds = DatasetFactory()
    row = hosted_video_row(ds, _video(tmp_path_factory, frames=450))
    original_key = row.storage_key
    task_id = _editor(ds).re_encode_data([str(row.data_hash)])
    # veryslow: the encode must still be running when the kill lands (at veryfast a quick machine
    # finished it between the first progress report and the kill)
    topo.worker("media-1", REENCODE_PRESET="veryslow")
    topo.wait_for(
        lambda: m.ReEncodeVideo.objects.filter(task_id=task_id, frames_done__gt=0).exists(),
        "the re-encode to make progress", timeout=90,
    )
    # when the whole worker (main process, pool child, ffmpeg) is SIGKILLed mid-job
    topo.kill("media-1")
    assert m.ReEncodeTask.objects.get(pk=task_id).status == "SUBMITTED"
    # then a restarted worker gets the unacknowledged message back and finishes the job once
    t0 = time.monotonic()
    topo.worker("media-2", REENCODE_PRESET="ultrafast")
    t1 = time.monotonic()
    _wait_done(topo, task_id)
    print(f"restart {t1 - t0:.1f}s, redelivery+finish {time.monotonic() - t1:.1f}s")
    _assert_one_clean_result(task_id, row, original_key)


def test_same_task_delivered_twice_gives_one_result(topo, tmp_path_factory):
    ds = DatasetFactory()
    row = hosted_video_row(ds, _video(tmp_path_factory, frames=120))
    original_key = row.storage_key
    task_id = _editor(ds).re_encode_data([str(row.data_hash)])  # first delivery (on commit)
    from datasets_app.tasks import reencode_videos_task

    reencode_videos_task.delay(task_id)  # the same task again, as a broker redelivery would
    # two worker processes take one copy each, at the same time
    topo.worker("media-a", concurrency=2)
    _wait_done(topo, task_id)
    topo.wait_for(lambda: topo.log("media-a").count("succeeded in") >= 2, "both deliveries to finish")
    _assert_one_clean_result(task_id, row, original_key)


def test_redis_restart_loses_no_job(topo, private_redis, tmp_path_factory):
    redis_server = private_redis
    try:
        ds = DatasetFactory()
        rows = [hosted_video_row(ds, _video(tmp_path_factory, frames=60), title=f"copy{i}.mp4") for i in range(2)]
        tasks = []
        for row in rows:
            task = ReEncodeTaskFactory(dataset=ds)
            ReEncodeVideoFactory(task=task, data_row=row, data_hash=row.data_hash)
            tasks.append(task.pk)
        # given the jobs queued on Redis while no media worker runs
        with app.connection_for_write(redis_server.url) as conn:
            for pk in tasks:
                app.send_task("datasets_app.tasks.reencode_videos_task", args=[pk], queue="media", connection=conn)
        import redis

        assert redis.Redis.from_url(redis_server.url).llen("media") == 2
        # when Redis restarts without persistence, its queue is gone
        redis_server.stop()
        redis_server.start()
        assert redis.Redis.from_url(redis_server.url).llen("media") == 0
        topo.worker("media-r")
        time.sleep(2)
        assert set(m.ReEncodeTask.objects.filter(pk__in=tasks).values_list("status", flat=True)) == {"SUBMITTED"}
        # then the database still knows them, and the requeue (beat's job) brings them back
        out = topo.manage("requeue_stuck_jobs", "--stuck-after", "0")
        assert "re-queued 2 job(s)" in out
        for pk in tasks:
            assert _wait_done(topo, pk).status == "DONE"
        assert m.ReEncodeVideo.objects.filter(task_id__in=tasks, status="DONE").count() == 2
    finally:
        topo.stop_all()


def _terminate_our_backends() -> int:
    """pg_terminate_backend on every other connection to THIS test database only."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cur.fetchone()[0]


def test_database_connections_dropped_during_requests_recover_without_restart(topo, client):
    ds = DatasetFactory()
    user = UserFactory(is_org_admin=True)
    client.force_login(user)
    cookies = {"sessionid": client.cookies["sessionid"].value}
    base = topo.web(workers=2)
    web_pid = topo.procs["web"].pid
    session = requests.Session()
    session.cookies.update(cookies)
    urls = [f"{base}/healthz", f"{base}/datasets", f"{base}/datasets/{ds.dataset_hash}"]
    for url in urls:
        assert session.get(url, timeout=10).status_code == 200

    # when connections are killed again and again while 4 clients keep requesting
    statuses: list[int] = []
    transport_errors: list[str] = []
    stop = threading.Event()

    def client_loop() -> None:
        s = requests.Session()
        s.cookies.update(cookies)
        i = 0
        while not stop.is_set():
            try:
                statuses.append(s.get(urls[i % len(urls)], timeout=15).status_code)
            except requests.RequestException as exc:  # a hang or a reset connection is not clean
                transport_errors.append(repr(exc))
            i += 1

    # and one real encord SDK client: its failures must be the SDK's typed errors, never transport ones
    from tests.api.conftest import openssh_private, register_key

    from encord.exceptions import EncordException
    from encord.user_client import EncordUserClient

    sdk = EncordUserClient.create_with_ssh_private_key(openssh_private(register_key(user)), domain=base)
    sdk_outcomes: list[str] = []

    def sdk_loop() -> None:
        while not stop.is_set():
            try:
                sdk.get_datasets()
                sdk_outcomes.append("ok")
            except EncordException as exc:
                sdk_outcomes.append(type(exc).__name__)
            except Exception as exc:  # noqa: BLE001 - anything else is a failure of the test
                transport_errors.append(repr(exc))

    threads = [threading.Thread(target=client_loop) for _ in range(4)] + [threading.Thread(target=sdk_loop)]
    for t in threads:
        t.start()
    killed = 0
    for _ in range(5):
        time.sleep(0.4)
        killed += _terminate_our_backends()
    stop.set()
    for t in threads:
        t.join(timeout=30)

    # then every answer was an HTTP response (some clean 503s to retry), never a 500 or a dropped connection
    print("pg_terminate_backend:", killed, "responses:", {s: statuses.count(s) for s in set(statuses)},
          "SDK:", {o: sdk_outcomes.count(o) for o in set(sdk_outcomes)})
    assert killed > 0 and statuses
    assert not transport_errors, transport_errors[:3]
    assert set(statuses) <= {200, 503}, sorted(set(statuses))
    # the SDK's getters retry the 503s (Retry-After): its caller saw no error at all
    assert set(sdk_outcomes) == {"ok"}, sdk_outcomes
    assert sdk.get_datasets() is not None  # the SDK works again, same server
    # and the same web tier (no restart) answers everything once the database is back
    for _ in range(3):
        for url in urls:
            assert session.get(url, timeout=10).status_code == 200, url
    assert topo.procs["web"].pid == web_pid and topo.procs["web"].poll() is None
    assert "Booting worker" in topo.log("web") and topo.log("web").count("Worker exiting") == 0


def test_metrics_are_summed_across_gunicorn_workers(topo):
    base = topo.web(workers=2)
    for _ in range(20):
        assert requests.get(f"{base}/healthz", timeout=10).status_code == 200
    from prometheus_client.parser import text_string_to_metric_families

    text = requests.get(f"{base}/metrics", timeout=10).text
    count = next(
        s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "dd_http_request_duration_seconds_count" and s.labels.get("route") == "healthz"
    )
    assert count >= 21  # the readiness probe + 20, whichever process answered each


def _upload_url(base: str) -> tuple[m.UploadSlot, str]:
    from datasets_app.sdk.policy import Principal
    from datasets_app.sdk.uploads import issue_upload_urls

    (issued,) = issue_upload_urls(Principal(user=UserFactory()), 1, "image", base_url=base)
    return m.UploadSlot.objects.get(item_uuid=issued.item_uuid), issued.signed_url


def _cut_put(url: str, *, total: int, sent: int) -> None:
    """A PUT announcing `total` bytes whose connection is closed after `sent` of them."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        head = (
            f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Type: image/png\r\nContent-Length: {total}\r\n\r\n"
        )
        sock.sendall(head.encode() + b"\x89PNG" + b"x" * (sent - 4))
        time.sleep(0.3)


def _no_partial_files() -> None:
    leftovers = [k for k in _stored_keys() if ".part-" in k]
    assert not leftovers, leftovers


def test_upload_cut_half_way_keeps_nothing_and_the_url_still_works(topo):
    base = topo.web(workers=1)
    slot, url = _upload_url(base)
    # when the client's connection drops half-way through the body
    _cut_put(url, total=400_000, sent=200_000)
    # (499: the client closed the request, logged as nginx does; nobody is left to answer)
    topo.wait_for(lambda: '"route": "upload/<str:item_uuid>", "status": 499' in topo.log("web"),
                  "the server to log the cut upload", timeout=30)
    # then no object, no partial file, the slot not marked uploaded, no row
    slot.refresh_from_db()
    assert slot.uploaded_at is None and slot.size is None
    assert not default_storage.exists(slot.object_key)
    _no_partial_files()
    assert not m.DataRow.objects.exists()
    # and the client's retry of the same URL succeeds
    body = b"\x89PNG" + b"y" * 1000
    response = requests.put(url, data=body, headers={"Content-Type": "image/png"}, timeout=20)
    assert response.status_code == 200, response.text
    slot.refresh_from_db()
    assert slot.size == len(body) and default_storage.size(slot.object_key) == len(body)


def test_storage_refusing_writes_gives_a_clear_error_and_keeps_nothing(topo, tmp_path):
    # given a web tier whose media storage refuses writes (its directory cannot be created: the
    # same OSError path as a read-only or full disk, which root can't simulate with permissions)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    topo.env["MEDIA_ROOT"] = str(blocker / "media")
    base = topo.web(workers=1)
    slot, url = _upload_url(base)
    response = requests.put(url, data=b"\x89PNG" + b"z" * 5000, headers={"Content-Type": "image/png"}, timeout=20)
    # then the client gets a 503 that says what happened, to retry later
    assert response.status_code == 503, response.text
    assert "Storage refused" in response.json()["message"] and response.headers["Retry-After"] == "1"
    slot.refresh_from_db()
    assert slot.uploaded_at is None and slot.size is None
    assert not m.DataRow.objects.exists()
    assert not (blocker / "media").exists()
    # and the failure is counted for alerting
    from prometheus_client.parser import text_string_to_metric_families

    text = requests.get(f"{base}/metrics", timeout=10).text
    errors = [
        s.value for f in text_string_to_metric_families(text) for s in f.samples
        if s.name == "dd_storage_errors_total" and s.labels.get("operation") == "web"
    ]
    assert errors == [1.0]


def _use_s3(request, settings, topo) -> None:
    """Hosted media on moto's S3 server, for this process and every process topo starts."""
    import uuid

    server = request.getfixturevalue("moto_s3")
    bucket = f"faults-{uuid.uuid4().hex[:12]}"
    server.client().create_bucket(Bucket=bucket)
    aws = {
        "AWS_STORAGE_BUCKET_NAME": bucket,
        "AWS_S3_ENDPOINT_URL": server.endpoint_url,
        "AWS_S3_REGION_NAME": server.region,
        "AWS_ACCESS_KEY_ID": server.access_key_id,
        "AWS_SECRET_ACCESS_KEY": server.secret_access_key,
    }
    for name, value in aws.items():
        setattr(settings, name, value)
    settings.AWS_QUERYSTRING_EXPIRE = 3600
    settings.AWS_DEFAULT_ACL = None
    settings.AWS_S3_FILE_OVERWRITE = True
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "storages.backends.s3.S3Storage"}}
    topo.env.update(aws)


@pytest.mark.parametrize("hosted", ["local", "s3"])
def test_media_worker_killed_mid_data_job_completes_without_duplicates_or_orphans(
    topo, tmp_path_factory, hosted, request, settings
):
    import datetime as dt

    if hosted == "s3":
        _use_s3(request, settings, topo)

    from datasets_app.media import storage
    from datasets_app.sdk import maintenance
    from tests.media.mediagen import make_video

    # given one upload job of 24 videos, queued for the media tier
    ds = DatasetFactory()
    editor = _editor(ds)
    folder = tmp_path_factory.mktemp("job-videos")
    files = [make_video(folder / f"v{i}.mp4", frames=90) for i in range(24)]
    stored = editor._store_local_files(files, "video")
    process_hash = editor.start_data_job(
        {"videos": [{"objectUrl": key, "title": name, "clientMetadata": {}} for key, name in stored]}
    )
    job = m.DataJob.objects.get(process_hash=process_hash)
    # when the media worker is SIGKILLed with the job half done: the test holds row locks on units
    # 12-23, so the worker finishes 0-11 and then waits on unit 12 (waiting for a first done unit
    # and killing raced a fast machine, which finished all 24 between two polls)
    with transaction.atomic():
        list(job.units.select_for_update().filter(index__gte=12))
        topo.worker("media-d1")
        topo.wait_for(lambda: job.units.filter(status="DONE").count() == 12, "units 0-11 done", timeout=90)
        topo.kill("media-d1")
    assert job.units.filter(status="DONE").count() == 12
    job.refresh_from_db()
    assert job.status == "PENDING"
    # then a restarted worker finishes it: every video once, no duplicate rows, no orphan files
    topo.worker("media-d2")
    topo.wait_for(lambda: m.DataJob.objects.get(pk=job.pk).status != "PENDING", "the job to finish", timeout=120)
    job.refresh_from_db()
    assert job.status == "DONE", job.message
    assert job.units.filter(status="DONE").count() == 24
    titles = list(m.DataRow.objects.filter(dataset=ds).values_list("item__name", flat=True))
    assert sorted(titles) == sorted(f"v{i}.mp4" for i in range(24))
    # The only unreferenced files allowed are the temp file of a write the kill cut short (local
    # storage writes to .part-* and renames); beat's orphan sweep removes exactly those.
    orphans = set(maintenance.find_orphan_files(older_than=dt.timedelta(0)))
    assert all(k.rsplit("/", 1)[-1].startswith(".part-") for k in orphans), orphans
    if orphans:
        assert set(maintenance.sweep_orphan_files(older_than=dt.timedelta(0))) == orphans
    assert list(storage.missing_files()) == []
    if hosted == "local":
        _no_partial_files()


def test_same_data_job_delivered_twice_to_racing_workers_gives_one_result(topo, tmp_path_factory):
    import datetime as dt

    from datasets_app.sdk import maintenance
    from datasets_app.tasks import run_video_data_job_task
    from tests.media.mediagen import make_video

    ds = DatasetFactory()
    editor = _editor(ds)
    folder = tmp_path_factory.mktemp("race-videos")
    stored = editor._store_local_files([make_video(folder / f"r{i}.mp4", frames=30) for i in range(6)], "video")
    process_hash = editor.start_data_job(  # first delivery, on commit
        {"videos": [{"objectUrl": key, "title": name, "clientMetadata": {}} for key, name in stored]}
    )
    job = m.DataJob.objects.get(process_hash=process_hash)
    run_video_data_job_task.delay(job.pk)  # the same job again
    # two worker processes, each taking one copy at the same time
    topo.worker("media-race", concurrency=2)
    topo.wait_for(lambda: m.DataJob.objects.get(pk=job.pk).status != "PENDING", "the job to finish", timeout=120)
    topo.wait_for(lambda: topo.log("media-race").count("succeeded in") >= 2, "both deliveries to finish")
    job.refresh_from_db()
    assert job.status == "DONE", job.message
    titles = sorted(m.DataRow.objects.filter(dataset=ds).values_list("item__name", flat=True))
    assert titles == [f"r{i}.mp4" for i in range(6)]
    assert job.units.filter(status="DONE").count() == 6
    assert list(maintenance.find_orphan_files(older_than=dt.timedelta(0))) == []


def test_trace_id_of_an_sdk_upload_reaches_the_worker_that_runs_its_job(topo, client):
    """Across real processes: encord SDK -> gunicorn -> Redis -> default worker, JSON logs."""
    import json

    from encord.user_client import EncordUserClient

    from tests.api.conftest import openssh_private, register_key
    from tests.media.mediagen import make_image

    ds = DatasetFactory()
    user = DatasetMembershipFactory(dataset=ds, role=m.DatasetUserRole.ADMIN).user
    base = topo.web(workers=1)
    topo.worker("default-t", queues="default")
    sdk = EncordUserClient.create_with_ssh_private_key(openssh_private(register_key(user)), domain=base)
    image = make_image(Path(topo.tmp) / "traced.png", 32, 24)
    sdk.get_dataset(str(ds.dataset_hash)).upload_image(image)

    def lines(name: str) -> list[dict]:
        return [json.loads(line) for line in topo.log(name).splitlines() if line.startswith("{")]

    started = [r for r in lines("default-t") if r.get("message", "").startswith("task datasets_app.tasks.run_data_job_task started")]
    assert len(started) == 1
    trace = started[0]["trace_id"]
    requests_with_it = [r for r in lines("web") if r.get("logger") == "dashboard.request" and r.get("trace_id") == trace]
    # the request that registered the upload (the job start) had this trace id
    assert [r["route"] for r in requests_with_it] == ["public"]
    finished = [r for r in lines("default-t") if r.get("task") == "datasets_app.tasks.run_data_job_task"
                and r.get("state") == "SUCCESS"]
    assert finished and finished[0]["trace_id"] == trace
