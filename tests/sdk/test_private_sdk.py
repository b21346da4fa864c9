"""The real encord==0.1.211 SDK's add_private_data_to_dataset against the live server, with a real
Celery worker probing objects in moto's S3 server on loopback."""

from __future__ import annotations

import json
import uuid

import pytest

from datasets_app import models as m
from datasets_app.sdk import private_data

from ..api.conftest import openssh_private, register_key
from ..cloud_servers import make_dicom, make_jpeg, make_mp4
from ..factories import UserFactory


@pytest.fixture
def encord_client(live_server):
    from encord.user_client import EncordUserClient

    def make(user):
        return EncordUserClient.create_with_ssh_private_key(
            openssh_private(register_key(user)), domain=live_server.url
        )

    return make


@pytest.fixture
def s3_bucket(moto_s3):
    name = f"sdk-{uuid.uuid4().hex[:8]}"
    c = moto_s3.client()
    c.create_bucket(Bucket=name)
    c.put_object(Bucket=name, Key="a.jpg", Body=make_jpeg(40, 30), ContentType="image/jpeg")
    c.put_object(Bucket=name, Key="b.jpg", Body=make_jpeg(40, 30), ContentType="image/jpeg")
    c.put_object(Bucket=name, Key="v.mp4", Body=make_mp4(32, 24, frames=5, fps=5), ContentType="video/mp4")
    c.put_object(Bucket=name, Key="1.dcm", Body=make_dicom(1))
    return name


def test_encord_sdk_adds_private_data_through_a_worker(
    data_worker, encord_client, dataset, ds_admin, moto_s3, s3_bucket, tmp_path
):
    integration = moto_s3.integration(ds_admin)
    client = encord_client(ds_admin)
    (found,) = client.get_cloud_integrations()
    assert (found.id, found.title) == (str(integration.integration_uuid), "moto")
    sdk_ds = client.get_dataset(str(dataset.dataset_hash))
    manifest = tmp_path / "manifest.json"
    manifest.write_text(
        json.dumps(
            {
                "videos": [{"objectUrl": f"s3://{s3_bucket}/v.mp4", "title": "clip"}],
                "images": [
                    {
                        "objectUrl": f"{moto_s3.endpoint_url}/{s3_bucket}/a.jpg",
                        "clientMetadata": {"split": "train"},
                    }
                ],
                "image_groups": [
                    {
                        "title": "pair",
                        "objectUrl_0": f"s3://{s3_bucket}/a.jpg",
                        "objectUrl_1": f"s3://{s3_bucket}/b.jpg",
                    }
                ],
                "dicom_series": [{"title": "ct", "objectUrl_0": f"s3://{s3_bucket}/1.dcm"}],
            }
        )
    )
    response = sdk_ds.add_private_data_to_dataset(found.id, str(manifest))
    assert sorted(d.title for d in response.dataset_data_list) == ["a.jpg", "clip", "ct", "pair"]
    video = m.DataRow.objects.get(dataset=dataset, item__name="clip")
    assert (video.width, video.height, video.frame_count) == (32, 24, 5) and video.storage_key == ""
    # re-submitting with skip_duplicate_urls adds nothing: the job is DONE at once
    again = {
        "images": [{"objectUrl": f"{moto_s3.endpoint_url}/{s3_bucket}/a.jpg"}],
        "skip_duplicate_urls": True,
    }
    job_id = sdk_ds.add_private_data_to_dataset_start(found.id, again)
    result = sdk_ds.add_private_data_to_dataset_get_result(job_id, timeout_seconds=30)
    assert result.status.value == "DONE" and result.data_hashes_with_titles == []


def test_encord_sdk_private_data_errors(data_worker, encord_client, dataset, ds_admin, moto_s3, s3_bucket):
    from encord.exceptions import EncordException, InvalidArgumentsError, ResourceNotFoundError

    other = private_data.integration_create(
        owner=UserFactory(),
        title="not yours",
        provider="s3",
        config={"endpoint_url": moto_s3.endpoint_url},
        allow_private_network=True,
    )
    mine = moto_s3.integration(ds_admin)
    sdk_ds = encord_client(ds_admin).get_dataset(str(dataset.dataset_hash))
    doc = {"images": [{"objectUrl": f"s3://{s3_bucket}/a.jpg"}]}
    with pytest.raises(ResourceNotFoundError):
        sdk_ds.add_private_data_to_dataset_start(str(other.integration_uuid), doc)
    with pytest.raises(InvalidArgumentsError):
        sdk_ds.add_private_data_to_dataset_start(str(mine.integration_uuid), {"images": [{"objectUrl": 1}]})
    with pytest.raises(EncordException):
        sdk_ds.add_private_data_to_dataset(
            str(mine.integration_uuid), {"images": [{"objectUrl": f"s3://{s3_bucket}/missing.jpg"}]}
        )
    assert not m.DataRow.objects.filter(dataset=dataset).exists()
