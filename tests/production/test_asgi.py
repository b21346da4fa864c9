"""The ASGI application (dashboard/asgi.py) driven in-process with hand-made ASGI messages: signed
uploads stream into storage as the body arrives, other bodies are capped before they are read,
streamed responses (v1 data rows, signed media) go out in pieces, and job long polls wait in the
event loop, not in a web thread. The same application under real uvicorn workers is in
test_faults.py and test_asgi_serving.py."""

from __future__ import annotations

import asyncio
import hashlib
import os

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from dashboard.asgi import application
from datasets_app import models as m
from datasets_app.media.downloads import signed_download_url
from datasets_app.sdk.policy import Principal
from datasets_app.sdk.uploads import issue_upload_urls
from tests.asgi_scopes import http_scope
from tests.factories import DataJobFactory, UserFactory
from tests.local_storage import stored_files
from tests.waits import finish_job_from_another_thread

pytestmark = pytest.mark.django_db(transaction=True)


class Exchange:
    """One request: body messages in (then, optionally, a disconnect), response messages out."""

    def __init__(self, body_pieces: list[bytes], *, disconnect_after_body: bool = False) -> None:
        self.incoming = [
            {"type": "http.request", "body": piece, "more_body": i < len(body_pieces) - 1 or disconnect_after_body}
            for i, piece in enumerate(body_pieces)
        ] or [{"type": "http.request", "body": b"", "more_body": False}]
        self.disconnect_after_body = disconnect_after_body
        self.sent: list[dict] = []
        self.body_reads = 0

    async def receive(self) -> dict:
        if self.incoming:
            self.body_reads += 1
            await asyncio.sleep(0)
            return self.incoming.pop(0)
        if not self.disconnect_after_body:
            await asyncio.sleep(3600)  # a live client that sends nothing more
        return {"type": "http.disconnect"}

    async def send(self, message: dict) -> None:
        self.sent.append(message)

    def run(self, scope: dict) -> Exchange:
        asyncio.run(self.arun(scope))
        return self

    async def arun(self, scope: dict) -> Exchange:
        await application(scope, self.receive, self.send)
        return self

    @property
    def status(self) -> int | None:
        starts = [msg for msg in self.sent if msg["type"] == "http.response.start"]
        assert len(starts) <= 1, starts
        return starts[0]["status"] if starts else None

    @property
    def headers(self) -> dict[str, str]:
        start = next(msg for msg in self.sent if msg["type"] == "http.response.start")
        return {k.decode(): v.decode() for k, v in start["headers"]}

    @property
    def body_messages(self) -> list[bytes]:
        return [msg.get("body", b"") for msg in self.sent if msg["type"] == "http.response.body"]

    @property
    def body(self) -> bytes:
        return b"".join(self.body_messages)


def test_signed_put_streams_a_body_of_many_messages_into_storage(ds_user):
    (slot,) = issue_upload_urls(Principal(user=ds_user), 1, "video", base_url="http://testserver/")
    pieces = [os.urandom(64 * 1024 + i) for i in range(40)]  # ~2.6 MB in 40 messages
    content = b"".join(pieces)
    exchange = Exchange(pieces).run(
        http_scope("PUT", slot.signed_url, {"content-length": str(len(content)), "content-type": "video/mp4"})
    )
    assert exchange.status == 200, exchange.body
    digest = hashlib.sha256(content).hexdigest()
    assert exchange.headers["etag"] == f'"{digest}"' and len(exchange.headers["x-trace-id"]) == 32
    with default_storage.open(slot.object_key, "rb") as stored:
        assert hashlib.sha256(stored.read()).hexdigest() == digest
    record = m.UploadSlot.objects.get(item_uuid=slot.item_uuid)
    assert (record.size, record.sha256, record.uploaded_at is not None) == (len(content), digest, True)
    assert stored_files() == {slot.object_key}


def test_uploads_reuse_database_connections_and_stream_without_one(ds_user, monkeypatch):
    """Small PUTs one after another (the SDK's folder uploads) open at most the upload database
    pool's connections, not one each (opening one was ~3.5 ms of a 6 ms PUT on PostgreSQL); the
    threads that stream bodies never open one."""
    import threading

    from django.db import connections
    from django.db.backends.signals import connection_created

    from datasets_app.api import upload_views

    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 60)
    opened_in: list[str] = []

    def on_open(sender, connection, **kwargs):
        opened_in.append(threading.current_thread().name)

    slots = issue_upload_urls(Principal(user=ds_user), 12, "image", base_url="http://testserver/")
    connection_created.connect(on_open, weak=False)
    try:
        for slot in slots:
            content = os.urandom(2000)
            exchange = Exchange([content]).run(http_scope("PUT", slot.signed_url, {"content-length": "2000"}))
            assert exchange.status == 200, exchange.body
    finally:
        connection_created.disconnect(on_open)
        _close_connections_of(upload_views.upload_database_threads, upload_views.UPLOAD_DATABASE_THREADS)
    assert m.UploadSlot.objects.filter(uploaded_at__isnull=False).count() == 12
    assert not [name for name in opened_in if not name.startswith("upload-db")], opened_in
    assert len(opened_in) <= upload_views.UPLOAD_DATABASE_THREADS, opened_in


@pytest.mark.parametrize("declared", [2000, 3 * 1024 * 1024], ids=["small body", "streamed body"])
def test_a_put_whose_body_stalls_is_refused_after_the_idle_limit(ds_user, monkeypatch, declared):
    from datasets_app.api import upload_views

    monkeypatch.setattr(upload_views, "BODY_IDLE_SECONDS", 0.5)
    (slot,) = issue_upload_urls(Principal(user=ds_user), 1, "image", base_url="http://testserver/")
    exchange = Exchange([b"x" * 10])
    exchange.incoming[-1]["more_body"] = True  # then nothing more on an open connection
    exchange.run(http_scope("PUT", slot.signed_url, {"content-length": str(declared)}))
    assert exchange.status == 408 and b"No data arrived for 0.5 s" in exchange.body
    assert stored_files() == set()
    assert m.UploadSlot.objects.get(item_uuid=slot.item_uuid).uploaded_at is None


def test_a_small_put_sending_more_than_its_content_length_is_refused_and_not_gathered(ds_user):
    """The small-body path gathers the body before the slot is looked up: it must stop at the
    declared length (h11 passes a chunked body along with a Content-Length)."""
    (slot,) = issue_upload_urls(Principal(user=ds_user), 1, "image", base_url="http://testserver/")
    exchange = Exchange([b"x" * 1024 * 1024] * 6)
    exchange.run(http_scope("PUT", slot.signed_url, {"content-length": "1000"}))
    assert exchange.status == 400 and b"more than the 1000 bytes its Content-Length" in exchange.body
    assert exchange.body_reads < 6  # refused at the first batch over the length, not at the end
    assert stored_files() == set()


def _close_connections_of(pool, size: int) -> None:
    """Closes the connection each of the pool's threads keeps (`size` tasks that meet at a barrier
    run on `size` different threads)."""
    import threading

    from django.db import connections

    barrier = threading.Barrier(size)

    def close(_):
        barrier.wait(10)
        connections.close_all()

    list(pool.map(close, range(size)))


def test_signed_put_cut_off_by_the_client_keeps_nothing(ds_user):
    (slot,) = issue_upload_urls(Principal(user=ds_user), 1, "video", base_url="http://testserver/")
    exchange = Exchange([b"a" * 300_000, b"b" * 300_000], disconnect_after_body=True).run(
        http_scope("PUT", slot.signed_url, {"content-length": "4000000"})
    )
    assert exchange.status is None  # nobody left to answer
    assert stored_files() == set()
    assert m.UploadSlot.objects.get(item_uuid=slot.item_uuid).uploaded_at is None


def test_signed_put_refusals_answer_without_reading_the_body(ds_user, settings):
    settings.UPLOAD_MAX_BYTES = 1000
    (slot,) = issue_upload_urls(Principal(user=ds_user), 1, "image", base_url="http://testserver/")
    too_big = Exchange([b"x" * 2000]).run(http_scope("PUT", slot.signed_url, {"content-length": "2000"}))
    assert too_big.status == 413 and b"the limit is 1000 bytes" in too_big.body
    tampered = Exchange([b"x" * 10]).run(
        http_scope("PUT", slot.signed_url.replace("signature=", "signature=0"), {"content-length": "10"})
    )
    assert tampered.status == 403
    short = Exchange([b"x" * 10]).run(http_scope("PUT", slot.signed_url, {"content-length": "20"}))
    assert short.status == 400 and b"after 10 of 20 bytes" in short.body
    assert stored_files() == set()


def test_other_bodies_are_capped_before_django_spools_them(settings):
    settings.REQUEST_MAX_BODY_BYTES = 1000
    declared = Exchange([b"{}"]).run(http_scope("POST", "/public", {"content-length": "5000"}))
    assert declared.status == 413 and declared.body_reads == 0
    # no Content-Length (chunked): counted as it arrives, cut at the cap
    counted = Exchange([b"x" * 600, b"x" * 600, b"x" * 600]).run(http_scope("POST", "/public"))
    assert counted.status == 413 and counted.body_reads == 2
    # under the cap: Django answers as usual (an unsigned v1 call: the protocol's error envelope)
    small = Exchange([b"{}"]).run(http_scope("POST", "/public", {"content-length": "2"}))
    assert small.status == 200 and b"error" in small.body.lower(), small.body  # a v1 error envelope


def test_signed_media_download_is_streamed_and_honours_range():
    content = os.urandom(3 * 1024 * 1024 + 5)
    key = default_storage.save("datasets/x/big.bin", ContentFile(content))
    url = signed_download_url(key, base_url="http://testserver/")
    whole = Exchange([]).run(http_scope("GET", url))
    assert whole.status == 200 and whole.body == content
    # sent as it is read, in pieces, not gathered first
    assert len(whole.body_messages) > 3 and max(map(len, whole.body_messages)) < len(content) // 2
    ranged = Exchange([]).run(http_scope("GET", url, {"range": "bytes=1000-1999"}))
    assert ranged.status == 206 and ranged.body == content[1000:2000]


def test_static_files_are_served():
    exchange = Exchange([]).run(http_scope("GET", "/static/css/app.css"))
    assert exchange.status == 200 and b"{" in exchange.body


def _v1(user, dataset, query_type: str, query_method: str, uid, payload=None) -> tuple[bytes, dict]:
    import json

    from tests.api.conftest import RawClient, register_key

    body = json.dumps(
        {"query_type": query_type, "query_method": query_method, "values": {"uid": uid, "payload": payload}}
    ).encode()
    headers = {
        "content-type": "application/json",
        "content-length": str(len(body)),
        "authorization": RawClient(key=register_key(user)).authorization(body),
        "resourceid": str(dataset.dataset_hash),
        "resourcetype": "dataset",
    }
    return body, headers


def test_v1_data_rows_are_streamed(dataset, ds_user):
    import json

    from tests.factories import DataRowFactory

    DataRowFactory.create_batch(3000, dataset=dataset)  # several V1Stream batches
    body, headers = _v1(ds_user, dataset, "dataset", "GET", str(dataset.dataset_hash))
    exchange = Exchange([body]).run(http_scope("POST", "/public", headers))
    rows = json.loads(exchange.body)["response"]["data_rows"]
    assert exchange.status == 200 and len(rows) == 3000
    assert len(exchange.body_messages) > 1


def test_long_polls_wait_in_the_event_loop_not_in_a_web_thread(dataset, ds_user):
    import json

    from dashboard import asgi

    job = DataJobFactory(dataset=dataset, kind=m.DataJob.KIND_UPLOAD, created_by=ds_user)
    poll = _v1(ds_user, dataset, "datasetdatalongpolling", "GET", str(dataset.dataset_hash),
               {"process_hash": str(job.process_hash), "timeout_seconds": 30})
    other = _v1(ds_user, dataset, "dataset", "GET", str(dataset.dataset_hash))
    waiting = asgi._web_threads._max_workers + 4  # more polls than web threads

    async def scenario() -> tuple[list[Exchange], Exchange]:
        loop = asyncio.get_running_loop()
        polls = [asyncio.ensure_future(Exchange([poll[0]]).arun(http_scope("POST", "/public", poll[1])))
                 for _ in range(waiting)]
        await asyncio.sleep(1.0)
        # while every poll waits, another request gets a web thread and its answer
        answered = await asyncio.wait_for(Exchange([other[0]]).arun(http_scope("POST", "/public", other[1])), 10)
        assert not any(p.done() for p in polls)
        # when the job ends, the polls wake up (well before their 30 s) and answer DONE
        await loop.run_in_executor(None, finish_job_from_another_thread, job.pk)
        done = await asyncio.wait_for(asyncio.gather(*polls), 15)
        return done, answered

    done, answered = asyncio.run(scenario())
    assert json.loads(answered.body)["response"]["dataset_hash"] == str(dataset.dataset_hash)
    assert {json.loads(e.body)["response"]["status"] for e in done} == {"DONE"}
    assert all(e.status == 200 for e in done)


def test_a_long_poll_on_a_job_that_stays_pending_answers_pending_after_its_timeout(dataset, ds_user):
    import json

    job = DataJobFactory(dataset=dataset, kind=m.DataJob.KIND_UPLOAD, created_by=ds_user)
    body, headers = _v1(ds_user, dataset, "datasetdatalongpolling", "GET", str(dataset.dataset_hash),
                        {"process_hash": str(job.process_hash), "timeout_seconds": 1})
    exchange = Exchange([body]).run(http_scope("POST", "/public", headers))
    assert exchange.status == 200 and json.loads(exchange.body)["response"]["status"] == "PENDING"
    # a poll of someone else's job is refused in the first pass, without waiting
    stranger_body, stranger_headers = _v1(UserFactory(), dataset, "datasetdatalongpolling", "GET",
                                          str(dataset.dataset_hash),
                                          {"process_hash": str(job.process_hash), "timeout_seconds": 30})
    refused = Exchange([stranger_body]).run(http_scope("POST", "/public", stranger_headers))
    assert json.loads(refused.body)["status"] != 200


def test_files_upload_polls_wait_in_the_event_loop_not_in_a_web_thread(ds_user):
    """#30 (GET .../data-upload-jobs/<job>?timeoutSeconds=) holds like the v1 poll: more polls
    than web threads wait while another request is answered, and wake when the job ends."""
    import json

    from dashboard import asgi
    from datasets_app.sdk import accounts
    from tests.factories import StorageFolderFactory

    folder = StorageFolderFactory(owner=ds_user)
    job = DataJobFactory(dataset=None, folder=folder, kind=m.DataJob.KIND_UPLOAD, created_by=ds_user)
    auth = {"authorization": f"Bearer {accounts.issue_bearer_token(ds_user)}"}
    poll_url = f"/v2/public/storage/folders/{folder.folder_uuid}/data-upload-jobs/{job.process_hash}?timeoutSeconds=604800"
    other_url = f"/v2/public/storage/folders/{folder.folder_uuid}"
    waiting = asgi._web_threads._max_workers + 4

    async def scenario():
        loop = asyncio.get_running_loop()
        polls = [asyncio.ensure_future(Exchange([b""]).arun(http_scope("GET", poll_url, auth))) for _ in range(waiting)]
        await asyncio.sleep(1.0)
        answered = await asyncio.wait_for(Exchange([b""]).arun(http_scope("GET", other_url, auth)), 10)
        assert not any(p.done() for p in polls)
        await loop.run_in_executor(None, finish_job_from_another_thread, job.pk)
        return await asyncio.wait_for(asyncio.gather(*polls), 15), answered

    done, answered = asyncio.run(scenario())
    assert answered.status == 200 and json.loads(answered.body)["uuid"] == str(folder.folder_uuid)
    assert {e.status for e in done} == {200}
    assert {json.loads(e.body)["status"] for e in done} == {"DONE"}
