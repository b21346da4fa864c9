"""Chunked browser uploads when hosted storage is S3 (moto's server on loopback): the staged file
streams into the bucket once complete (no local rename), hashed on the way."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time

import boto3
import pytest
from django.urls import reverse

from datasets_app import models as m

from .test_upload import put, start

PORT = int(os.environ.get("DASHBOARD_MOTO_PORT", "18410"))
BUCKET = "dashboard-hosted"

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def moto_endpoint():
    exe = shutil.which("moto_server") or os.path.join(os.path.dirname(sys.executable), "moto_server")
    proc = subprocess.Popen(
        [exe, "-H", "127.0.0.1", "-p", str(PORT)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", PORT)) == 0:
                    break
            time.sleep(0.2)
        endpoint = f"http://127.0.0.1:{PORT}"
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        ).create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def s3_hosted(settings, moto_endpoint):
    settings.AWS_STORAGE_BUCKET_NAME = BUCKET
    settings.AWS_S3_ENDPOINT_URL = moto_endpoint
    settings.AWS_S3_REGION_NAME = "us-east-1"
    settings.AWS_ACCESS_KEY_ID = "test"
    settings.AWS_SECRET_ACCESS_KEY = "test"
    settings.AWS_DEFAULT_ACL = None
    settings.AWS_S3_FILE_OVERWRITE = True
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "storages.backends.s3.S3Storage"}}
    return moto_endpoint


def test_chunked_upload_lands_in_the_bucket(as_user, dataset, ds_user, s3_hosted):
    c = as_user(ds_user)
    data = os.urandom(300_000)
    upload_id = start(c, dataset, "blob.mp4", len(data), mode="videos").json()["upload_id"]
    for offset in range(0, len(data), 128_000):
        assert put(c, dataset, upload_id, offset, data[offset : offset + 128_000]).status_code == 200
    assert c.get(reverse("dashboard:upload-chunk", args=[dataset.dataset_hash, upload_id])).json()["complete"]
    slot = m.UploadSlot.objects.get(item_uuid=upload_id)
    assert slot.sha256 == hashlib.sha256(data).hexdigest()
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_hosted,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    assert s3.get_object(Bucket=BUCKET, Key=slot.object_key)["Body"].read() == data
