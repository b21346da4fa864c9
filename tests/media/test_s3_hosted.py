"""Hosted storage on S3 (moto's server on loopback: the shared `s3_hosted` of tests/cloud_servers.py):
pre-signed upload URLs are the object store's own, bytes never pass through us, the job hashes
while it streams the object once; downloads are pre-signed GETs. The real encord 0.1.211 SDK
uploads through it."""

from __future__ import annotations

import hashlib

import pytest
import requests

from datasets_app import models as m
from datasets_app.media import storage
from datasets_app.sdk import UserClient, jobs
from tests.api.conftest import fresh_rate_limits, sdk_client  # noqa: F401
from tests.media.mediagen import make_image


def test_presigned_put_is_the_object_stores_and_job_hashes_the_object(
    tmp_path, dataset, ds_user, s3_hosted, django_capture_on_commit_callbacks
):
    server, bucket = s3_hosted
    ds = UserClient.for_user(ds_user).get_dataset(str(dataset.dataset_hash))
    from datasets_app.sdk.uploads import issue_upload_urls

    (slot,) = issue_upload_urls(ds.principal, 1, "image", base_url="http://testserver")
    assert slot.signed_url.startswith(f"{server.endpoint_url}/{bucket}/{slot.object_key}?")
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
    assert fetched.signed_url.startswith(f"{server.endpoint_url}/{bucket}/")
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
    server, bucket = s3_hosted
    assert all(server.client().head_object(Bucket=bucket, Key=k)["ContentLength"] > 0 for k in keys)
