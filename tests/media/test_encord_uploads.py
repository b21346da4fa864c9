"""The real encord==0.1.211 SDK uploads through our API (presigned URLs, signed PUT, data job,
long poll) with a real Celery worker; plus the PUT endpoint's refusals on the wire."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import pytest
import requests
from django.core.files.storage import default_storage

from datasets_app import models as m
from datasets_app.sdk import jobs
from datasets_app.sdk.policy import Principal
from datasets_app.sdk.uploads import issue_upload_urls
from tests.api.conftest import fresh_rate_limits, raw_client, sdk_client  # noqa: F401
from tests.local_storage import stored_files
from tests.media.mediagen import make_dicom, make_image, make_video
from tests.tasks.test_data_jobs import snapshot  # no shared home yet
from tests.waits import sequence_videos_settled

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sdk_dataset(dataset, ds_user, sdk_client):  # noqa: F811
    return sdk_client(ds_user).get_dataset(str(dataset.dataset_hash))


def rerun_jobs(dataset):
    for job_id in m.DataJob.objects.filter(dataset=dataset).values_list("pk", flat=True):
        jobs.run_data_job(job_id)


def test_sdk_upload_video_image_group_dicom(tmp_path, dataset, sdk_dataset, data_worker):
    video = sdk_dataset.upload_video(make_video(tmp_path / "clip.mp4", frames=10))
    row = m.DataRow.objects.get(data_hash=video.data_hash)
    assert row.title == "clip.mp4" and row.frame_count == 10 and row.data_type == "VIDEO"

    image = sdk_dataset.upload_image(make_image(tmp_path / "one.png", 40, 30))
    assert (
        image.title == "one.png"
        and image.file_link == m.DataRow.objects.get(data_hash=image.data_hash).storage_key
    )

    sizes = [(64, 48), (32, 32), (64, 48)]
    files = [
        str(make_image(tmp_path / f"g{i}.jpg", w, h, color=(i * 60, 0, 0))) for i, (w, h) in enumerate(sizes)
    ]
    groups = sdk_dataset.create_image_group(files, title="walk")
    assert len(groups) == 2
    rows = [m.DataRow.objects.get(data_hash=g.data_hash) for g in groups]
    assert sorted([mem.title for mem in r.members.order_by("data_sequence")] for r in rows) == [
        ["g0.jpg", "g2.jpg"],
        ["g1.jpg"],
    ]
    assert all(r.is_optimised_image_group for r in rows)  # the SDK's create_video defaults to True

    series = sdk_dataset.create_dicom_series([str(make_dicom(tmp_path / f"d{n}.dcm", n)) for n in (2, 1)])
    drow = m.DataRow.objects.get(data_hash=series["data_hash"])
    assert [mem.title for mem in drow.members.order_by("data_sequence")] == ["d1.dcm", "d2.dcm"]

    # the SDK sees the rows, with signed URLs that serve the files
    listed = {r.uid for r in sdk_dataset.list_data_rows()}
    assert listed == {video.data_hash, image.data_hash, str(drow.data_hash), *(g.data_hash for g in groups)}
    sequence_videos_settled(dataset)
    before = snapshot(dataset)
    rerun_jobs(dataset)  # every task delivered a second time
    assert snapshot(dataset) == before


def test_sdk_upload_of_text_as_image_raises_and_leaves_nothing(tmp_path, dataset, sdk_dataset, data_worker):
    from encord.exceptions import EncordException

    bad = tmp_path / "fake.jpg"
    bad.write_text("text, not pixels")
    with pytest.raises(EncordException, match="not an image"):
        sdk_dataset.upload_image(bad)
    assert not m.DataRow.objects.filter(dataset=dataset).exists()
    assert stored_files() == set()


def test_signed_put_refuses_bad_signature_reuse_and_oversize(
    tmp_path, ds_user, settings, live_server, data_worker
):
    (slot,) = issue_upload_urls(Principal(user=ds_user), 1, "image", base_url=live_server.url)
    assert slot.signed_url.startswith(live_server.url + "/upload/")
    tampered = slot.signed_url.replace("signature=", "signature=0")
    assert requests.put(tampered, data=b"x", timeout=10).status_code == 403
    settings.UPLOAD_MAX_BYTES = 1000
    big = requests.put(slot.signed_url, data=b"x" * 2000, timeout=10)
    assert big.status_code == 413
    assert not default_storage.exists(slot.object_key) and stored_files() == set()
    ok = requests.put(slot.signed_url, data=b"y" * 10, timeout=10)
    assert ok.status_code == 200  # exactly 200
    db_slot = m.UploadSlot.objects.get(item_uuid=slot.item_uuid)
    assert db_slot.size == 10 and db_slot.sha256 == __import__("hashlib").sha256(b"y" * 10).hexdigest()
    m.UploadSlot.objects.filter(pk=db_slot.pk).update(consumed_at=db_slot.uploaded_at)
    assert requests.put(slot.signed_url, data=b"z", timeout=10).status_code == 409
    assert default_storage.open(slot.object_key).read() == b"y" * 10


def test_signed_put_expired_url_is_refused(ds_user, settings, live_server, data_worker):
    settings.UPLOAD_URL_LIFETIME_SECONDS = 1
    (slot,) = issue_upload_urls(Principal(user=ds_user), 1, "video", base_url=live_server.url)
    time.sleep(2.1)
    assert requests.put(slot.signed_url, data=b"x", timeout=10).status_code == 403


def test_upload_interrupted_half_way_keeps_nothing(ds_user, live_server, data_worker):
    (slot,) = issue_upload_urls(Principal(user=ds_user), 1, "video", base_url=live_server.url)
    url = urlsplit(slot.signed_url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(
            f"PUT {url.path}?{url.query} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Length: 4000000\r\n\r\n".encode()
            + b"a" * 1_000_000
        )
        time.sleep(0.3)
    # the server sees the body end early: no file, the slot is not marked uploaded
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and stored_files():
        time.sleep(0.2)
    assert stored_files() == set()
    assert m.UploadSlot.objects.get(item_uuid=slot.item_uuid).uploaded_at is None


def test_v2_presigned_urls_gives_exactly_count(ds_user, live_server):
    issued = issue_upload_urls(Principal(user=ds_user), 7, "dicomFile", base_url=live_server.url)
    assert len(issued) == 7 and len({i.object_key for i in issued}) == 7
    assert all(i.object_key == f"uploads/{i.item_uuid}" for i in issued)
    unsigned = requests.get(
        live_server.url + "/v2/public/presigned-urls?count=3&uploadItemType=image", timeout=10
    )
    assert unsigned.status_code == 401  # the SDK's signature is required
