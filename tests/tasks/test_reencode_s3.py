"""Hosted storage on S3 (moto's server on loopback): the re-encode streams the source from a presigned
URL, uploads the output under the deterministic key, and signed_url is S3's presigned URL, which
downloads and seeks (HTTP Range)."""

from __future__ import annotations

import uuid
from fractions import Fraction

import av
import pytest
import requests
from django.core.files import File
from django.core.files.storage import default_storage

from datasets_app.sdk import UserClient, reencode_jobs
from tests.factories import DataRowFactory
from tests.media.test_video import make_video, vfr_pts


@pytest.fixture
def s3_storage(settings, moto_s3):
    bucket = f"hosted-{uuid.uuid4().hex[:8]}"
    moto_s3.client().create_bucket(Bucket=bucket)
    settings.AWS_S3_ENDPOINT_URL = moto_s3.endpoint_url
    settings.AWS_S3_REGION_NAME = moto_s3.region
    settings.AWS_ACCESS_KEY_ID = moto_s3.access_key_id
    settings.AWS_SECRET_ACCESS_KEY = moto_s3.secret_access_key
    settings.AWS_QUERYSTRING_EXPIRE = 3600
    settings.AWS_DEFAULT_ACL = None
    settings.AWS_S3_FILE_OVERWRITE = True
    settings.AWS_STORAGE_BUCKET_NAME = bucket
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": bucket, "endpoint_url": moto_s3.endpoint_url},
        },
    }
    return moto_s3.client(), bucket


def test_reencode_with_s3_hosted_storage(tmp_path, s3_storage, dataset, ds_user, django_capture_on_commit_callbacks):
    s3, bucket = s3_storage
    pts = vfr_pts(24)
    src = make_video(tmp_path / "v.mp4", pts=pts, fps=20)
    row = DataRowFactory(dataset=dataset, title="v.mp4")
    with open(src, "rb") as fh:
        assert default_storage.save(row.storage_key, File(fh, name="v.mp4")) == row.storage_key
    editor = UserClient.for_user(ds_user).get_dataset(str(dataset.dataset_hash))

    for _ in range(2):  # twice: the second run overwrites the same object
        with django_capture_on_commit_callbacks(execute=False):
            task_id = editor.re_encode_data([str(row.data_hash)])
        assert reencode_jobs.run_reencode(task_id) == "DONE"

    (result,) = editor.re_encode_data_status(task_id).result
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == sorted([row.storage_key, result.bucket_path])
    assert "X-Amz-Signature=" in result.signed_url or "Signature=" in result.signed_url
    size = s3.head_object(Bucket=bucket, Key=result.bucket_path)["ContentLength"]
    part = requests.get(result.signed_url, headers={"Range": "bytes=0-99"}, timeout=10)
    assert part.status_code == 206 and part.headers["Content-Range"] == f"bytes 0-99/{size}"
    with av.open(result.signed_url) as c:
        stream = c.streams.video[0]
        frames = [bytes(f.planes[0]) for f in c.decode(stream)]
        assert len(frames) == len(pts)
        target = round(Fraction(10) / Fraction(stream.average_rate) / stream.time_base)
        c.seek(target, stream=stream)
        frame = next(f for f in c.decode(stream) if f.pts >= target)
        assert frame.pts == target and bytes(frame.planes[0]) == frames[10]
    row.refresh_from_db()
    assert row.storage_key == result.bucket_path and row.media_info["verdict"] == "ok"
