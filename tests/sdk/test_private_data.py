"""add_private_data_to_dataset through the SDK layer, against moto's S3 server and a local HTTP server.

Jobs are started with the SDK call and run with `private_import.run_private_job` (the batch runner,
which `jobs.run_data_job` hands private jobs to) or unit by unit with `process_private_unit`."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command

from datasets_app import crypto
from datasets_app import models as m
from datasets_app.sdk import UserClient, private_data, private_import
from datasets_app.sdk.exceptions import AuthorisationError, InvalidArgumentError, ResourceNotFoundError

from ..cloud_servers import make_dicom, make_jpeg, make_mp4, make_png
from ..factories import UserFactory
from ..media.traffic import connections  # noqa: F401  (a fixture)


@pytest.fixture(scope="module")
def bucket(moto_s3):
    """A bucket with a video, images of two sizes, DICOM files and a text file posing as an image."""
    name = f"private-{uuid.uuid4().hex[:8]}"
    c = moto_s3.client()
    c.create_bucket(Bucket=name)
    c.put_object(
        Bucket=name, Key="videos/clip.mp4", Body=make_mp4(64, 48, frames=10, fps=10), ContentType="video/mp4"
    )
    c.put_object(Bucket=name, Key="img/a.jpg", Body=make_jpeg(64, 48), ContentType="image/jpeg")
    c.put_object(Bucket=name, Key="img/b.jpg", Body=make_jpeg(64, 48), ContentType="image/jpeg")
    c.put_object(Bucket=name, Key="img/c.png", Body=make_png(32, 16), ContentType="image/png")
    c.put_object(Bucket=name, Key="img/text.jpg", Body=b"hello, I am not an image\n" * 10)
    c.put_object(Bucket=name, Key="img/empty.jpg", Body=b"")
    for n in (3, 1, 2):
        c.put_object(Bucket=name, Key=f"ct/{n}.dcm", Body=make_dicom(instance=n))
    return name


@pytest.fixture
def integration(org_admin, moto_s3):
    return moto_s3.integration(org_admin)


@pytest.fixture
def ds(org_admin, dataset):
    return UserClient.for_user(org_admin).get_dataset(str(dataset.dataset_hash))


def start(ds, integration, doc, ignore_errors=False, django_capture_on_commit_callbacks=None):
    return ds.add_private_data_to_dataset_start(str(integration.integration_uuid), doc, ignore_errors)


def run(ds, process_hash):
    job = m.DataJob.objects.get(process_hash=process_hash)
    private_import.run_private_job(job.pk)
    return ds.add_private_data_to_dataset_get_result(process_hash, timeout_seconds=0)


def test_private_import_probes_every_kind_through_the_integration(
    ds, integration, bucket, django_capture_on_commit_callbacks
):
    doc = {
        "videos": [
            {"objectUrl": f"s3://{bucket}/videos/clip.mp4", "title": "clip", "clientMetadata": {"k": 1}}
        ],
        "images": [{"objectUrl": f"s3://{bucket}/img/a.jpg"}],
        "image_groups": [
            {
                "title": "g",
                "objectUrl_1": f"s3://{bucket}/img/b.jpg",
                "objectUrl_0": f"s3://{bucket}/img/a.jpg",
                "objectUrl_2": f"s3://{bucket}/img/c.png",
            }
        ],
        "dicom_series": [
            {
                "title": "ct",
                "objectUrl_0": f"s3://{bucket}/ct/3.dcm",
                "objectUrl_1": f"s3://{bucket}/ct/1.dcm",
                "objectUrl_2": f"s3://{bucket}/ct/2.dcm",
            }
        ],
    }
    with django_capture_on_commit_callbacks() as callbacks:
        process_hash = start(ds, integration, doc)
    assert len(callbacks) == 1  # the job is enqueued after commit
    result = run(ds, process_hash)
    assert result.status == "DONE", result.errors
    assert result.units_done_count == 4 and result.units_error_count == 0
    # the group of mixed resolutions became two groups
    assert len(result.data_hashes_with_titles) == 5
    rows = {r.title: r for r in m.DataRow.objects.filter(dataset=ds.model)}
    video = rows["clip"]
    assert (video.width, video.height, video.frame_count, video.fps) == (64, 48, 10, 10.0)
    assert video.url == f"s3://{bucket}/videos/clip.mp4" and video.integration_id == integration.pk
    assert video.storage_key == "" and video.client_metadata == {"k": 1}
    assert video.media_info["verdict"] in ("ok", "at risk")
    image = rows["img/a.jpg"]  # the object path is the default title
    assert (image.width, image.height, image.mime_type) == (64, 48, "image/jpeg")
    groups = [r for r in rows.values() if r.data_type == m.DataType.IMG_GROUP]
    assert sorted((g.width, g.members.count()) for g in groups) == [(32, 1), (64, 2)]
    big = next(g for g in groups if g.width == 64)
    assert [mb.url for mb in big.members.order_by("data_sequence")] == [
        f"s3://{bucket}/img/a.jpg",
        f"s3://{bucket}/img/b.jpg",
    ]
    series = rows["ct"]
    assert [mb.url.rsplit("/", 1)[1] for mb in series.members.order_by("data_sequence")] == [
        "1.dcm",
        "2.dcm",
        "3.dcm",
    ]
    assert (series.width, series.height) == (8, 8)
    # nothing was copied into hosted storage
    assert not m.DataRow.objects.exclude(item__storage_key="").exists()


def test_private_import_runs_twice_without_duplicates(
    ds, integration, bucket, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        process_hash = start(ds, integration, {"images": [{"objectUrl": f"s3://{bucket}/img/a.jpg"}]})
    job = m.DataJob.objects.get(process_hash=process_hash)
    unit = job.units.get()
    first = private_import.process_private_unit(unit)
    again = private_import.process_private_unit(unit)
    assert first == again and m.DataRow.objects.filter(dataset=ds.model).count() == 1
    private_import.run_private_job(job.pk)
    private_import.run_private_job(job.pk)
    assert m.DataRow.objects.filter(dataset=ds.model).count() == 1
    assert ds.add_private_data_to_dataset_get_result(process_hash, 0).status == "DONE"


def test_private_import_with_metadata_probes_nothing_and_is_done_at_once(
    ds, integration, django_capture_on_commit_callbacks
):
    doc = {
        "images": [
            {
                "objectUrl": f"s3://nowhere-bucket/i{i}.jpg",
                "imageMetadata": {"mime_type": "image/jpeg", "file_size": 10, "width": 4, "height": 3},
            }
            for i in range(5)
        ],
        "videos": [
            {
                "objectUrl": "s3://nowhere-bucket/v.mp4",
                "title": "v",
                "videoMetadata": {
                    "fps": 25,
                    "duration": 2.0,
                    "width": 320,
                    "height": 240,
                    "file_size": 99,
                    "mime_type": "video/mp4",
                },
            }
        ],
    }
    with django_capture_on_commit_callbacks() as callbacks:
        process_hash = start(ds, integration, json.dumps(doc))
    assert callbacks == []  # nothing to run: the bucket does not even exist, and is never read
    result = ds.add_private_data_to_dataset_get_result(process_hash, 0)
    assert result.status == "DONE" and result.units_done_count == 6
    video = m.DataRow.objects.get(dataset=ds.model, item__name="v")
    assert (video.fps, video.duration, video.frame_count, video.width) == (25.0, 2.0, 50, 320)


def test_skip_duplicate_urls_skips_what_the_dataset_has(
    ds, integration, bucket, django_capture_on_commit_callbacks
):
    md = {"mime_type": "image/jpeg", "file_size": 1, "width": 1, "height": 1}
    first = {"images": [{"objectUrl": f"s3://{bucket}/img/a.jpg", "imageMetadata": md}]}
    with django_capture_on_commit_callbacks():
        start(ds, integration, first)
        again = {
            "images": [
                {"objectUrl": f"s3://{bucket}/img/a.jpg", "imageMetadata": md},
                {"objectUrl": f"s3://{bucket}/img/b.jpg", "imageMetadata": md},
                {"objectUrl": f"s3://{bucket}/img/b.jpg", "imageMetadata": md},
            ],
            "skip_duplicate_urls": True,
        }
        process_hash = start(ds, integration, again)
    result = ds.add_private_data_to_dataset_get_result(process_hash, 0)
    assert [r.title for r in result.data_hashes_with_titles] == ["img/b.jpg"]
    assert m.DataRow.objects.filter(dataset=ds.model).count() == 2


def test_upsert_metadata_updates_the_items_skipped_as_duplicates(
    ds, integration, bucket, django_capture_on_commit_callbacks
):
    md = {"mime_type": "image/jpeg", "file_size": 1, "width": 1, "height": 1}
    a, b = f"s3://{bucket}/img/a.jpg", f"s3://{bucket}/img/b.jpg"
    group = {"title": "g", "objectUrl_0": a, "objectUrl_1": b}
    with django_capture_on_commit_callbacks(execute=False):
        start(ds, integration, {"images": [{"objectUrl": a, "imageMetadata": md, "clientMetadata": {"v": 1}},
                                           {"objectUrl": b, "imageMetadata": md, "clientMetadata": {"keep": 1}}]})
        run(ds, start(ds, integration, {"image_groups": [{**group, "clientMetadata": {"v": 1}}]}))
    rows = lambda: dict(m.DataRow.objects.filter(dataset=ds.model).values_list("item__name", "item__client_metadata"))  # noqa: E731
    assert rows() == {"img/a.jpg": {"v": 1}, "img/b.jpg": {"keep": 1}, "g": {"v": 1}}
    # when the manifest comes again with new metadata, skipping duplicates and upserting
    again = {
        "images": [{"objectUrl": a, "imageMetadata": md, "clientMetadata": {"v": 2}},
                   {"objectUrl": b, "imageMetadata": md}],  # no clientMetadata: left as it is
        "image_groups": [{**group, "clientMetadata": {"v": 2}}],
        "skip_duplicate_urls": True,
        "upsert_metadata": True,
    }
    with django_capture_on_commit_callbacks(execute=False):
        process_hash = start(ds, integration, again)
    # then nothing new is made, and the existing items carry the new metadata
    assert ds.add_private_data_to_dataset_get_result(process_hash, 0).data_hashes_with_titles == []
    assert rows() == {"img/a.jpg": {"v": 2}, "img/b.jpg": {"keep": 1}, "g": {"v": 2}}
    # without skipping, upsert_metadata changes nothing (Encord's rule) and duplicates are made
    with django_capture_on_commit_callbacks(execute=False):
        start(ds, integration, {"images": [{"objectUrl": a, "imageMetadata": md, "clientMetadata": {"v": 3}}],
                                "upsert_metadata": True})
    versions = m.DataRow.objects.filter(dataset=ds.model, item__name="img/a.jpg").values_list("item__client_metadata", flat=True)
    assert sorted(v["v"] for v in versions) == [2, 3]


def test_private_group_with_create_video_becomes_a_hosted_video_read_through_the_integration(
    ds, integration, bucket, django_capture_on_commit_callbacks
):
    from datasets_app.sdk import sequence_videos

    doc = {"image_groups": [{"title": "seq", "createVideo": True,
                             "objectUrl_0": f"s3://{bucket}/img/a.jpg", "objectUrl_1": f"s3://{bucket}/img/b.jpg"}]}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = run(ds, start(ds, integration, doc))
    assert result.status == "DONE"
    row = m.DataRow.objects.get(dataset=ds.model, item__name="seq")
    assert (row.sequence_video_status, row.is_optimised_image_group) == ("PENDING", True)
    assert len(callbacks) == 2  # the import job's task, then the video's when the job ended
    # what the queued task does: the images are read through the integration, the video is hosted
    assert sequence_videos.make_sequence_video(str(row.data_hash)) == "DONE"
    row.refresh_from_db()
    assert row.sequence_video_key and default_storage.exists(row.sequence_video_key)
    assert row.media_info["sequence_video"]["frame_count"] == 2
    # deleting the row deletes the hosted video, never the bucket's images
    from datasets_app.media import storage

    assert storage.hosted_keys_of(m.StorageItem.objects.filter(pk=row.item_id)) == [row.sequence_video_key]


def test_failed_units_fail_the_job_unless_ignore_errors(
    ds, integration, bucket, django_capture_on_commit_callbacks
):
    doc = {
        "images": [
            {"objectUrl": f"s3://{bucket}/img/a.jpg"},
            {"objectUrl": f"s3://{bucket}/img/missing.jpg"},
            {"objectUrl": f"s3://{bucket}/img/text.jpg"},
            {"objectUrl": f"s3://{bucket}/img/empty.jpg"},
        ]
    }
    with django_capture_on_commit_callbacks():
        strict = start(ds, integration, doc)
        lenient = start(ds, integration, doc, ignore_errors=True)
    result = run(ds, strict)
    # nothing half-added: the good unit is rolled back with the job
    assert result.status == "ERROR" and result.units_error_count == 3 and result.units_cancelled_count == 1
    assert not m.DataRow.objects.filter(dataset=ds.model).exists()
    errors = {e.object_urls[0].rsplit("/", 1)[1]: e.error for e in result.data_unit_errors}
    assert "does not exist" in errors["missing.jpg"]
    assert "not an image" in errors["text.jpg"]
    assert "empty" in errors["empty.jpg"]
    assert all(e.action_description == "Importing image" and e.subtask_uuid for e in result.data_unit_errors)
    result = run(ds, lenient)
    assert result.status == "DONE" and len(result.data_hashes_with_titles) == 1 and len(result.errors) == 3


def test_ssrf_addresses_are_refused_per_unit_without_traffic(
    ds, org_admin, django_capture_on_commit_callbacks, connections
):
    https = private_data.integration_create(owner=org_admin, title="web", provider="https")
    doc = {
        "images": [
            {"objectUrl": "https://127.0.0.1/a.jpg"},
            {"objectUrl": "https://10.0.0.1/a.jpg"},
            {"objectUrl": "https://169.254.169.254/latest/meta-data/iam"},
        ]
    }
    with django_capture_on_commit_callbacks():
        process_hash = ds.add_private_data_to_dataset_start(str(https.integration_uuid), doc, True)
    connections.clear()
    result = run(ds, process_hash)
    assert result.units_error_count == 3
    assert all("does not allow private networks" in e for e in result.errors)
    # only database traffic (if any) on loopback: nothing to 10/8 or 169.254/16
    assert all(isinstance(a, str) or a[0].startswith("127.") or a[0] == "::1" for a in connections), connections


def test_unreachable_and_404_urls_over_https(ds, org_admin, http_media, django_capture_on_commit_callbacks):
    (http_media.root / "ok.png").write_bytes(make_png(10, 5))
    web = private_data.integration_create(
        owner=org_admin, title="local web", provider="https", allow_private_network=True
    )
    doc = {
        "images": [
            {"objectUrl": http_media.base_url + "/ok.png"},
            {"objectUrl": http_media.base_url + "/gone.png"},
            {"objectUrl": "http://127.0.0.1:1/x.png"},
            # unresolvable locally: no DNS query leaves the machine
            {"objectUrl": "https://bad..host/x.png"},
        ]
    }
    with django_capture_on_commit_callbacks():
        process_hash = ds.add_private_data_to_dataset_start(str(web.integration_uuid), doc, True)
    result = run(ds, process_hash)
    assert result.units_done_count == 1
    joined = " | ".join(result.errors)
    assert "gone.png does not exist (404)" in joined
    assert "127.0.0.1:1/x.png is unreachable" in joined
    assert "does not resolve" in joined


@pytest.mark.parametrize(
    "doc,message",
    [
        ({"videoz": []}, "unknown key"),
        ({"images": {"objectUrl": "s3://b/a.jpg"}}, "images must be a list"),
        ({"images": [{"objectUrl": 5}]}, r"images\[0\].objectUrl must be a non-empty URL"),
        ({"images": [{"objectUrl": "s3://b/a.jpg", "colour": "red"}]}, r"images\[0\] has unknown key"),
        (
            {"images": [{"objectUrl": "s3://b/a.jpg", "clientMetadata": []}]},
            "clientMetadata must be a JSON object",
        ),
        ({"images": [{"objectUrl": "s3://b/a.jpg", "imageMetadata": {"width": 1}}]}, "is missing"),
        (
            {
                "videos": [
                    {
                        "objectUrl": "s3://b/a.mp4",
                        "videoMetadata": {
                            "fps": "25",
                            "duration": 1,
                            "width": 1,
                            "height": 1,
                            "file_size": 1,
                            "mime_type": "video/mp4",
                        },
                    }
                ]
            },
            "fps must be",
        ),
        ({"image_groups": [{"objectUrl_0": "s3://b/a.jpg"}]}, r"image_groups\[0\].title must be"),
        ({"image_groups": [{"title": "g"}]}, "has no objectUrl_0"),
        ({"image_groups": [{"title": "g", "objectUrl_x": "s3://b/a.jpg"}]}, "unknown key 'objectUrl_x'"),
        (
            {"dicom_series": [{"title": "s", "objectUrl_0": "s3://b/a.dcm", "createVideo": True}]},
            "unknown key 'createVideo'",
        ),
        (
            {"images": [{"objectUrl": "https://elsewhere.example.com/b/a.jpg"}]},
            "not an object of this S3 integration",
        ),
        (
            {"skip_duplicate_urls": "yes", "images": [{"objectUrl": "s3://b/a.jpg"}]},
            "skip_duplicate_urls must be",
        ),
        (
            {"upsert_metadata": 1, "images": [{"objectUrl": "s3://b/a.jpg"}]},
            "upsert_metadata must be",
        ),
        ({"audio": [{"objectUrl": "s3://b/a.mp3"}]}, "not supported"),
        ({}, "lists nothing"),
        ("[1, 2]", "must be a JSON object"),
        ("{not json", "not valid JSON"),
        ("/no/such/file.json", "paths on the server are not read over the API"),
        (42, "must be a JSON object or JSON text"),
    ],
)
def test_bad_documents_are_refused_and_create_nothing(ds, integration, doc, message):
    with pytest.raises(InvalidArgumentError, match=message):
        ds.add_private_data_to_dataset_start(str(integration.integration_uuid), doc)
    assert not m.DataJob.objects.exists() and not m.DataRow.objects.exists()


def test_100k_entries_are_refused(ds, integration):
    doc = {"images": [{"objectUrl": f"s3://b/{i}.jpg"} for i in range(100_000)]}
    with pytest.raises(InvalidArgumentError, match="more than 50000 objects"):
        ds.add_private_data_to_dataset_start(str(integration.integration_uuid), doc)
    assert not m.DataJob.objects.exists()


def test_document_from_a_file_path_and_a_text_stream(
    ds, integration, tmp_path, django_capture_on_commit_callbacks
):
    md = {"mime_type": "image/png", "file_size": 1, "width": 1, "height": 1}
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"images": [{"objectUrl": "s3://b/a.png", "imageMetadata": md}]}))
    with django_capture_on_commit_callbacks():
        # In process, a pathlib.Path or an open file is read; a str is JSON text, never a path.
        ds.add_private_data_to_dataset_start(str(integration.integration_uuid), path)
        ds.add_private_data_to_dataset_start(str(integration.integration_uuid), io.StringIO(path.read_text()))
        with path.open("rb") as f:
            ds.add_private_data_to_dataset_start(str(integration.integration_uuid), f)
    assert m.DataRow.objects.filter(dataset=ds.model).count() == 3


def test_integration_of_another_user_is_not_found(dataset, ds_admin, integration):
    own = UserClient.for_user(ds_admin).get_dataset(str(dataset.dataset_hash))
    with pytest.raises(ResourceNotFoundError, match="Cloud integration"):
        own.add_private_data_to_dataset_start(
            str(integration.integration_uuid), {"images": [{"objectUrl": "s3://b/a.jpg"}]}
        )
    with pytest.raises(ResourceNotFoundError):
        own.add_private_data_to_dataset_start(str(uuid.uuid4()), {"images": [{"objectUrl": "s3://b/a.jpg"}]})
    with pytest.raises(InvalidArgumentError):
        own.add_private_data_to_dataset_start("not-a-uuid", {"images": [{"objectUrl": "s3://b/a.jpg"}]})
    assert not m.DataJob.objects.exists()


def test_read_key_may_not_add_private_data(open_as, integration):
    ds = open_as("read_key")
    from datasets_app.sdk.exceptions import OperationNotAllowed

    with pytest.raises(OperationNotAllowed):
        ds.add_private_data_to_dataset_start(
            str(integration.integration_uuid), {"images": [{"objectUrl": "s3://b/a.jpg"}]}
        )


def test_job_of_another_dataset_is_not_found(ds, integration, org_admin, django_capture_on_commit_callbacks):
    from ..factories import DatasetFactory

    other = UserClient.for_user(org_admin).get_dataset(str(DatasetFactory().dataset_hash))
    md = {"mime_type": "image/png", "file_size": 1, "width": 1, "height": 1}
    with django_capture_on_commit_callbacks():
        process_hash = ds.add_private_data_to_dataset_start(
            str(integration.integration_uuid),
            {"images": [{"objectUrl": "s3://b/a.png", "imageMetadata": md}]},
        )
    with pytest.raises(ResourceNotFoundError):
        other.add_private_data_to_dataset_get_result(process_hash, 0)


def test_signed_url_for_a_private_row_is_the_providers(integration, bucket, moto_s3):
    import requests

    url = private_data.private_signed_url(f"s3://{bucket}/img/a.jpg", integration, lifetime_seconds=60)
    assert url.startswith(moto_s3.endpoint_url) and "X-Amz-Expires=60" in url
    assert requests.get(url, timeout=10).content[:2] == b"\xff\xd8"


# ---- integrations: SDK and command ------------------------------------------------------------


def test_integration_secrets_are_encrypted_at_rest(integration):
    assert "testing" not in integration.credentials_encrypted
    assert json.loads(crypto.decrypt(integration.credentials_encrypted))["secret_access_key"] == "testing"


def test_only_org_admins_create_integrations_and_owners_delete_them(org_admin, db):
    user = UserFactory()
    with pytest.raises(AuthorisationError):
        UserClient.for_user(user).create_cloud_integration("x", "s3")
    created = UserClient.for_user(org_admin).create_cloud_integration("mine", "https", owner=user)
    assert [i.title for i in UserClient.for_user(user).get_cloud_integrations()] == ["mine"]
    with pytest.raises(ResourceNotFoundError):
        UserClient.for_user(UserFactory()).delete_cloud_integration(created.id)
    UserClient.for_user(user).delete_cloud_integration(created.id)
    assert not m.CloudIntegration.objects.exists()
    with pytest.raises(InvalidArgumentError, match="Unknown provider"):
        UserClient.for_user(org_admin).create_cloud_integration("x", "ftp")


def test_add_integration_command_prints_the_id_last(org_admin, monkeypatch, capsys):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-env")
    call_command(
        "add_integration",
        "--title",
        "minio",
        "--provider",
        "s3",
        "--endpoint-url",
        "http://127.0.0.1:9000/",
        "--region",
        "eu-west-1",
        "--access-key-id",
        "AK",
        "--allow-private-network",
        "--owner",
        org_admin.email,
    )
    last = capsys.readouterr().out.strip().splitlines()[-1]
    integration = m.CloudIntegration.objects.get(integration_uuid=uuid.UUID(last))
    assert integration.config == {"endpoint_url": "http://127.0.0.1:9000", "region": "eu-west-1"}
    assert integration.allow_private_network and integration.owner == org_admin
    assert json.loads(crypto.decrypt(integration.credentials_encrypted)) == {
        "access_key_id": "AK",
        "secret_access_key": "from-env",
    }


def test_add_integration_command_refuses_unknown_owner(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No user"):
        call_command(
            "add_integration", "--title", "t", "--provider", "https", "--owner", "nobody@example.com"
        )


def test_the_media_job_runner_processes_private_units_one_by_one(
    ds, integration, bucket, django_capture_on_commit_callbacks
):
    from datasets_app.sdk import jobs

    doc = {
        "images": [
            {"objectUrl": f"s3://{bucket}/img/a.jpg"},
            {"objectUrl": f"s3://{bucket}/img/c.png"},
            {"objectUrl": f"s3://{bucket}/img/text.jpg"},
        ],
        "dicom_series": [
            {
                "title": "ct",
                "objectUrl_0": f"s3://{bucket}/ct/2.dcm",
                "objectUrl_1": f"s3://{bucket}/ct/1.dcm",
            }
        ],
    }
    with django_capture_on_commit_callbacks():
        process_hash = ds.add_private_data_to_dataset_start(str(integration.integration_uuid), doc, True)
    job = m.DataJob.objects.get(process_hash=process_hash)
    assert jobs.run_data_job(job.pk) == "DONE"
    assert jobs.run_data_job(job.pk) == "DONE"  # a redelivery changes nothing
    result = ds.add_private_data_to_dataset_get_result(process_hash, 0)
    assert sorted(r.title for r in result.data_hashes_with_titles) == ["ct", "img/a.jpg", "img/c.png"]
    assert result.units_error_count == 1 and "not an image" in result.errors[0]
    assert m.DataRow.objects.filter(dataset=ds.model).count() == 3


@pytest.mark.parametrize("provider", ["gcs", "azure", "https"])
def test_private_import_through_each_provider(
    provider, request, ds, org_admin, django_capture_on_commit_callbacks
):
    from ..cloud_servers import AZURITE_KEY

    jpeg = make_jpeg(24, 12)
    name = f"p-{uuid.uuid4().hex[:8]}"
    if provider == "gcs":
        gcs = request.getfixturevalue("gcs_emulator")
        gcs.client().create_bucket(name).blob("x/y.jpg").upload_from_string(jpeg, content_type="image/jpeg")
        config, creds, url = {"endpoint_url": gcs.endpoint_url}, {}, f"gs://{name}/x/y.jpg"
    elif provider == "azure":
        az = request.getfixturevalue("azurite")
        az.service().create_container(name).upload_blob("x/y.jpg", jpeg)
        config = {"endpoint_url": az.endpoint_url, "account": az.account}
        creds, url = {"account_key": AZURITE_KEY}, f"{az.endpoint_url}/{name}/x/y.jpg"
    else:
        web = request.getfixturevalue("http_media")
        (web.root / f"{name}.jpg").write_bytes(jpeg)
        config, creds, url = {}, {}, f"{web.base_url}/{name}.jpg"
    integration = private_data.integration_create(
        owner=org_admin,
        title=provider,
        provider=provider,
        config=config,
        credentials=creds,
        allow_private_network=True,
    )
    with django_capture_on_commit_callbacks():
        process_hash = ds.add_private_data_to_dataset_start(
            str(integration.integration_uuid), {"images": [{"objectUrl": url}]}
        )
    result = run(ds, process_hash)
    assert result.status == "DONE", result.errors
    row = m.DataRow.objects.get(dataset=ds.model)
    assert (row.width, row.height, row.url, row.file_size) == (24, 12, url, len(jpeg))
    import requests

    signed = private_data.private_signed_url(url, integration, lifetime_seconds=60)
    assert requests.get(signed, timeout=10).content == jpeg


def test_decompression_bomb_in_a_bucket_is_refused(
    ds, integration, moto_s3, django_capture_on_commit_callbacks
):
    import io as _io

    from PIL import Image

    buf = _io.BytesIO()
    Image.new("1", (20000, 20000)).save(buf, "PNG")  # 400 Mpx: over Pillow's bomb limit, a tiny file
    name = f"bomb-{uuid.uuid4().hex[:8]}"
    moto_s3.client().create_bucket(Bucket=name)
    moto_s3.client().put_object(Bucket=name, Key="bomb.png", Body=buf.getvalue())
    with django_capture_on_commit_callbacks():
        process_hash = ds.add_private_data_to_dataset_start(
            str(integration.integration_uuid), {"images": [{"objectUrl": f"s3://{name}/bomb.png"}]}, True
        )
    result = run(ds, process_hash)
    assert result.units_error_count == 1 and "decompression bomb" in result.errors[0]


def test_write_key_uses_the_integrations_of_the_user_who_created_it(
    open_as, ds_admin, moto_s3, django_capture_on_commit_callbacks
):
    mine = private_data.integration_create(
        owner=ds_admin,
        title="admin's",
        provider="s3",
        config={"endpoint_url": moto_s3.endpoint_url},
        allow_private_network=True,
    )
    other = private_data.integration_create(
        owner=UserFactory(),
        title="someone's",
        provider="s3",
        config={"endpoint_url": moto_s3.endpoint_url},
        allow_private_network=True,
    )
    md = {"mime_type": "image/png", "file_size": 1, "width": 1, "height": 1}
    doc = {"images": [{"objectUrl": "s3://b/k.png", "imageMetadata": md}]}
    ds = open_as("write_key")
    with django_capture_on_commit_callbacks():
        process_hash = ds.add_private_data_to_dataset_start(str(mine.integration_uuid), doc)
    assert ds.add_private_data_to_dataset_get_result(process_hash, 0).status == "DONE"
    with pytest.raises(ResourceNotFoundError):
        ds.add_private_data_to_dataset_start(str(other.integration_uuid), doc)


def test_video_over_an_https_integration_is_probed(
    ds, org_admin, http_media, django_capture_on_commit_callbacks
):
    (http_media.root / "clip.mp4").write_bytes(make_mp4(48, 32, frames=6, fps=6))
    web = private_data.integration_create(
        owner=org_admin, title="web", provider="https", allow_private_network=True
    )
    with django_capture_on_commit_callbacks():
        process_hash = ds.add_private_data_to_dataset_start(
            str(web.integration_uuid),
            {"videos": [{"objectUrl": http_media.base_url + "/clip.mp4", "title": "c"}]},
        )
    assert run(ds, process_hash).status == "DONE"
    row = m.DataRow.objects.get(dataset=ds.model)
    assert (row.width, row.height, row.frame_count, row.fps) == (48, 32, 6, 6.0)
