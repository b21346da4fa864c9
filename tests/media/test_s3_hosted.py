"""Hosted storage on S3 (moto's server on loopback): pre-signed upload URLs are the object store's
own, bytes never pass through us, the job hashes while it streams the object once; downloads are
pre-signed GETs. The real encord 0.1.211 SDK uploads through it."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import time

import boto3
import pytest
import requests

from datasets_app import models as m
from datasets_app.media import storage
from datasets_app.sdk import UserClient, jobs
from tests.api.conftest import fresh_rate_limits, sdk_client  # noqa: F401
from tests.media.mediagen import make_image

MOTO_PORT = int(os.environ.get("MEDIA_MOTO_PORT", "18110"))
BUCKET = "hosted-media"


@pytest.fixture(scope="module")
def moto_endpoint():
    exe = shutil.which("moto_server") or os.path.join(os.path.dirname(os.sys.executable), "moto_server")
    proc = subprocess.Popen(
        [exe, "-H", "127.0.0.1", "-p", str(MOTO_PORT)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", MOTO_PORT)) == 0:
                break
        time.sleep(0.2)
    endpoint = f"http://127.0.0.1:{MOTO_PORT}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket=BUCKET)
    yield endpoint
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def s3_hosted(settings, moto_endpoint, media_in_tmp):
    settings.AWS_STORAGE_BUCKET_NAME = BUCKET
    settings.AWS_S3_ENDPOINT_URL = moto_endpoint
    settings.AWS_S3_REGION_NAME = "us-east-1"
    settings.AWS_ACCESS_KEY_ID = "test"
    settings.AWS_SECRET_ACCESS_KEY = "test"
    settings.AWS_QUERYSTRING_EXPIRE = 3600
    settings.AWS_DEFAULT_ACL = None
    settings.AWS_S3_FILE_OVERWRITE = True
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "storages.backends.s3.S3Storage"}}
    yield moto_endpoint


def test_presigned_put_is_the_object_stores_and_job_hashes_the_object(
    tmp_path, dataset, ds_user, s3_hosted, django_capture_on_commit_callbacks
):
    ds = UserClient.for_user(ds_user).get_dataset(str(dataset.dataset_hash))
    from datasets_app.sdk.uploads import issue_upload_urls

    (slot,) = issue_upload_urls(ds.principal, 1, "image", base_url="http://testserver")
    assert slot.signed_url.startswith(f"{s3_hosted}/{BUCKET}/{slot.object_key}?")
    assert "Signature=" in slot.signed_url
    # not uploaded yet: the start is refused, naming the key
    from datasets_app.sdk.exceptions import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="has not been uploaded"):
        ds.start_data_job({"images": [{"objectUrl": slot.object_key}]})
    body = make_image(tmp_path / "a.png", 50, 40).read_bytes()
    assert (
        requests.put(
            slot.signed_url, data=body, headers={"Content-Type": "image/png"}, timeout=10
        ).status_code
        == 200
    )
    with django_capture_on_commit_callbacks(execute=False):
        process_hash = ds.start_data_job({"images": [{"objectUrl": slot.object_key, "title": "a.png"}]})
    jobs.run_data_job(m.DataJob.objects.get(process_hash=process_hash).pk)
    (info,) = ds.get_data_job(process_hash).data_hashes_with_titles
    row = m.DataRow.objects.get(data_hash=info.data_hash)
    assert (row.width, row.height, row.file_size) == (50, 40, len(body))
    assert row.sha256 == hashlib.sha256(body).hexdigest()
    assert storage.exists(row.thumbnail_key)
    # downloads are S3's own pre-signed GETs
    fetched = ds.get_data_row(str(row.data_hash), signed_url=True)
    assert fetched.signed_url.startswith(f"{s3_hosted}/{BUCKET}/")
    assert requests.get(fetched.signed_url, timeout=10).content == body


def test_sdk_layer_upload_streams_into_s3(
    tmp_path, dataset, ds_user, s3_hosted, django_capture_on_commit_callbacks
):
    ds = UserClient.for_user(ds_user).get_dataset(str(dataset.dataset_hash))
    path = make_image(tmp_path / "b.jpg", 64, 48)
    with django_capture_on_commit_callbacks(execute=False):
        process_hash = ds.upload_image_start(path)
    slot = m.UploadSlot.objects.get(dataset=dataset)
    assert slot.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    jobs.run_data_job(m.DataJob.objects.get(process_hash=process_hash).pk)
    assert ds.get_data_job(process_hash).status == "DONE"


@pytest.mark.django_db(transaction=True)
def test_encord_sdk_uploads_image_group_to_s3(tmp_path, dataset, ds_user, sdk_client, s3_hosted, data_worker):  # noqa: F811
    files = [str(make_image(tmp_path / f"{i}.jpg", 64, 48, color=(i * 70, 0, 0))) for i in range(3)]
    sdk_ds = sdk_client(ds_user).get_dataset(str(dataset.dataset_hash))
    (group,) = sdk_ds.create_image_group(files, title="s3 group")
    row = m.DataRow.objects.get(data_hash=group.data_hash)
    keys = list(row.members.order_by("data_sequence").values_list("storage_key", flat=True))
    assert [t for t in row.members.order_by("data_sequence").values_list("title", flat=True)] == [
        "0.jpg",
        "1.jpg",
        "2.jpg",
    ]
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_hosted,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    assert all(s3.head_object(Bucket=BUCKET, Key=k)["ContentLength"] > 0 for k in keys)
