"""Cloud integrations (organisation admins; secrets write-only) and the private-data import page."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from datasets_app import models as m
from datasets_app.sdk import UserClient

pytestmark = pytest.mark.django_db

SECRET = "wJalrXUtnFEMI-very-secret"


def test_only_org_admins_see_the_integrations_link(as_user, org_admin, ds_admin):
    link = f'href="{reverse("dashboard:integrations")}"'
    assert link in as_user(org_admin).get(reverse("dashboard:dataset-list")).content.decode()
    assert link not in as_user(ds_admin).get(reverse("dashboard:dataset-list")).content.decode()


def test_integrations_page_is_for_org_admins_only(as_user, org_admin, ds_admin):
    assert as_user(org_admin).get(reverse("dashboard:integrations")).status_code == 200
    assert as_user(ds_admin).get(reverse("dashboard:integrations")).status_code == 404
    assert (
        as_user(ds_admin)
        .post(
            reverse("dashboard:integrations"),
            {"title": "x", "provider": "https", "endpoint_url": "https://a.example"},
        )
        .status_code
        == 404
    )
    assert not m.CloudIntegration.objects.exists()
    assert (
        reverse("dashboard:integrations")
        not in as_user(ds_admin).get(reverse("dashboard:dataset-list")).content.decode()
    )


def test_create_s3_compatible_integration_secrets_are_write_only(as_user, org_admin):
    c = as_user(org_admin)
    response = c.post(
        reverse("dashboard:integrations"),
        {
            "title": "MinIO lab",
            "provider": "s3",
            "endpoint_url": "http://minio.internal:9000",
            "region": "eu-west-1",
            "access_key_id": "AKIAEXAMPLE",
            "secret_access_key": SECRET,
            "allow_private_network": "on",
        },
    )
    assert response.status_code == 302
    integration = m.CloudIntegration.objects.get()
    assert integration.config["endpoint_url"] == "http://minio.internal:9000"
    assert SECRET not in integration.credentials_encrypted and integration.allow_private_network
    page = c.get(reverse("dashboard:integrations")).content.decode()
    assert "MinIO lab" in page and SECRET not in page and "AKIAEXAMPLE" not in page


@pytest.mark.parametrize(
    "data,error_id",
    [
        ({"title": "", "provider": "https", "endpoint_url": "https://a.example"}, "id_title_error"),
        ({"title": "x", "provider": "https"}, "id_endpoint_url_error"),
        ({"title": "x", "provider": "s3", "access_key_id": "AK"}, "id_secret_access_key_error"),
        (
            {"title": "x", "provider": "gcs", "service_account_json": "not json"},
            "id_service_account_json_error",
        ),
        ({"title": "x", "provider": "azure"}, "id_account_error"),
        ({"title": "x", "provider": "ftp"}, "id_provider_error"),
        ({"title": "x", "provider": "s3", "endpoint_url": "not a url"}, "id_endpoint_url_error"),
    ],
)
def test_integration_form_errors_next_to_fields(as_user, org_admin, data, error_id):
    response = as_user(org_admin).post(
        reverse("dashboard:integrations"),
        {**data, "secret_access_key": SECRET} if data.get("provider") == "gcs" else data,
    )
    body = response.content.decode()
    assert response.status_code == 200 and error_id in body
    assert SECRET not in body
    assert not m.CloudIntegration.objects.exists()


def test_delete_integration_confirms(as_user, org_admin):
    created = UserClient.for_user(org_admin).create_cloud_integration(
        "web", "https", config={"base_url": "https://files.example"}
    )
    c = as_user(org_admin)
    url = reverse("dashboard:integration-delete", args=[created.id])
    assert "Imports through it stop working" in c.get(url).content.decode()
    assert c.post(url).status_code == 302
    assert not m.CloudIntegration.objects.exists()
    assert c.get(url).status_code == 404


def manifest():
    return {
        "videos": [
            {
                "objectUrl": "https://files.example/clips/a.mp4",
                "title": "a.mp4",
                "videoMetadata": {
                    "fps": 25.0,
                    "duration": 2.0,
                    "width": 64,
                    "height": 48,
                    "file_size": 1000,
                    "mime_type": "video/mp4",
                },
            }
        ]
    }


@pytest.fixture
def https_integration(org_admin):
    return UserClient.for_user(org_admin).create_cloud_integration(
        "web", "https", config={"base_url": "https://files.example"}
    )


def test_import_page_starts_a_job_and_shows_its_rows(as_user, dataset, org_admin, https_integration):
    c = as_user(org_admin)
    url = reverse("dashboard:private-data-import", args=[dataset.dataset_hash])
    page = c.get(url).content.decode()
    assert "web (https)" in page
    response = c.post(url, {"integration": https_integration.id, "manifest": json.dumps(manifest())})
    assert response.status_code == 302
    job_page = c.get(response["Location"]).content.decode()
    assert "a.mp4" in job_page and 'data-status="DONE"' in job_page
    assert m.DataRow.objects.get(dataset=dataset).url == "https://files.example/clips/a.mp4"


def test_import_accepts_an_uploaded_manifest_file(as_user, dataset, org_admin, https_integration):
    upload = SimpleUploadedFile(
        "files.json", json.dumps(manifest()).encode(), content_type="application/json"
    )
    response = as_user(org_admin).post(
        reverse("dashboard:private-data-import", args=[dataset.dataset_hash]),
        {"integration": https_integration.id, "manifest_file": upload},
    )
    assert response.status_code == 302
    assert m.DataRow.objects.filter(dataset=dataset).count() == 1


@pytest.mark.parametrize(
    "manifest_text,error_id",
    [
        ("", "id_manifest_error"),
        ("{not json", "id_manifest_error"),
        ("[1, 2]", "id_manifest_error"),
        ("/etc/passwd", "id_manifest_error"),
        ('{"videos": [{"objectUrl": 5}]}', "form-error"),
    ],
)
def test_import_errors_are_shown_not_500(
    as_user, dataset, org_admin, https_integration, manifest_text, error_id
):
    response = as_user(org_admin).post(
        reverse("dashboard:private-data-import", args=[dataset.dataset_hash]),
        {"integration": https_integration.id, "manifest": manifest_text},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert error_id in body
    assert not m.DataJob.objects.exists()


def test_import_page_without_integration_and_for_strangers(as_user, dataset, ds_user, stranger):
    page = (
        as_user(ds_user)
        .get(reverse("dashboard:private-data-import", args=[dataset.dataset_hash]))
        .content.decode()
    )
    assert "no cloud integration" in page
    assert (
        as_user(stranger)
        .get(reverse("dashboard:private-data-import", args=[dataset.dataset_hash]))
        .status_code
        == 404
    )


@pytest.mark.parametrize("count", [1, 10])
def test_integrations_page_queries_are_constant(as_user, org_admin, count, django_assert_max_num_queries):
    client = UserClient.for_user(org_admin)
    for i in range(count):
        client.create_cloud_integration(f"web {i}", "https", config={"base_url": f"https://f{i}.example"})
    c = as_user(org_admin)
    with django_assert_max_num_queries(4):
        response = c.get(reverse("dashboard:integrations"))
    assert response.content.decode().count("Delete…") == count
