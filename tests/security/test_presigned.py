"""Issue 11, item 12 (S3 part): pre-signed URLs of hosted S3 storage, against moto on loopback.

The encord SDK uploads with a plain PUT to the URL we return (encord/http/utils.py
`_upload_single_file`: `session.put(signed_url, data=f, headers=...)`), and asks for URLs before it
says anything about the files (`presigned-urls?count=&uploadItemType=`): the protocol leaves no room
for a presigned POST with a content-length-range, nor for signing a size we never learn. So the
size is enforced where the server first reads the object: at registration (HEAD) and again while
the job streams it. Pre-signed GETs fix Content-Disposition to a download, so an object uploaded
as text/html never renders as a page on the bucket's origin."""

from __future__ import annotations

import uuid

import pytest
import requests

from datasets_app import models as m
from datasets_app.media import downloads, storage
from datasets_app.sdk import UserClient, jobs
from datasets_app.sdk.exceptions import InvalidArgumentError
from datasets_app.sdk.uploads import issue_upload_urls

from ..cloud_servers import make_jpeg


def _writer(dataset, ds_user):
    return UserClient.for_user(ds_user).get_dataset(str(dataset.dataset_hash))


def test_an_oversized_presigned_put_is_refused_when_registered(settings, s3_hosted, dataset, ds_user):
    settings.UPLOAD_MAX_BYTES = 4096
    ds = _writer(dataset, ds_user)
    (slot,) = issue_upload_urls(ds.principal, 1, "image")
    # S3 takes whatever the PUT carries: 64 KB against a 4 KB limit.
    put = requests.put(slot.signed_url, data=b"\xff" * 65536, headers={"Content-Type": "image/jpeg"}, timeout=30)
    assert put.status_code == 200
    with pytest.raises(InvalidArgumentError, match=r"65536 bytes; the limit is 4096 bytes"):
        ds.start_data_job({"images": [{"objectUrl": slot.object_key, "title": "big.jpg"}]})
    assert not m.DataJob.objects.filter(dataset=dataset).exists()
    assert not storage.exists(slot.object_key), "the oversized object stays in the bucket"


def test_an_object_swapped_for_a_bigger_one_after_registration_is_refused_by_the_job(
    settings, s3_hosted, dataset, ds_user, django_capture_on_commit_callbacks
):
    """The PUT URL stays valid after registration: an object replaced by one over the limit is
    refused while the job streams it, not written to the worker's disk whole."""
    settings.UPLOAD_MAX_BYTES = 4096
    ds = _writer(dataset, ds_user)
    (slot,) = issue_upload_urls(ds.principal, 1, "image")
    small = make_jpeg(16, 16)
    assert len(small) < 4096
    assert requests.put(slot.signed_url, data=small, timeout=30).status_code == 200
    with django_capture_on_commit_callbacks(execute=False):
        process_hash = ds.start_data_job({"images": [{"objectUrl": slot.object_key, "title": "a.jpg"}]})
    assert requests.put(slot.signed_url, data=b"\xff" * 65536, timeout=30).status_code == 200
    job = m.DataJob.objects.get(process_hash=process_hash)
    jobs.run_data_job(job.pk)
    status = ds.get_data_job(process_hash)
    assert status.units_error_count == 1, status
    assert "limit of 4096 bytes" in status.errors[0]
    assert not m.DataRow.objects.filter(dataset=dataset).exists()


def test_presigned_gets_of_hosted_files_are_downloads(s3_hosted, dataset, ds_user, tmp_path, django_capture_on_commit_callbacks):
    ds = _writer(dataset, ds_user)
    path = tmp_path / "photo.jpg"
    path.write_bytes(make_jpeg(24, 24))
    with django_capture_on_commit_callbacks(execute=False):
        process_hash = ds.upload_image_start(path)
    jobs.run_data_job(m.DataJob.objects.get(process_hash=process_hash).pk)
    row = m.DataRow.objects.get(dataset=dataset)
    # an uploader may have given its object any type, text/html included
    s3, bucket = s3_hosted
    s3.client().copy_object(
        Bucket=bucket,
        Key=row.storage_key,
        CopySource={"Bucket": bucket, "Key": row.storage_key},
        ContentType="text/html",
        MetadataDirective="REPLACE",
    )
    url = ds.get_data_row(str(row.data_hash), signed_url=True).signed_url
    assert "response-content-disposition=attachment" in url
    got = requests.get(url, timeout=30)
    assert got.status_code == 200 and got.content == path.read_bytes()
    assert got.headers["Content-Disposition"].startswith("attachment"), got.headers


def test_presigned_gets_of_private_s3_objects_are_downloads(moto_s3, org_admin):
    bucket = f"private-{uuid.uuid4().hex[:8]}"
    moto_s3.client().create_bucket(Bucket=bucket)
    moto_s3.client().put_object(Bucket=bucket, Key="x/page.jpg", Body=b"<script>alert(1)</script>", ContentType="text/html")
    integration = moto_s3.integration(org_admin)
    url = downloads.signed_file_url("", f"s3://{bucket}/x/page.jpg", integration)
    assert url.startswith(moto_s3.endpoint_url)
    got = requests.get(url, timeout=30)
    assert got.status_code == 200
    assert got.headers["Content-Disposition"].startswith("attachment"), got.headers
