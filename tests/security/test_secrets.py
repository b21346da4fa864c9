"""Issue 11, item 2: no stored credential of a cloud integration ever leaves the server.

An integration's secrets (an Azure SAS token or account key, S3 secret keys, an HTTPS bearer token)
are for the server's own reads. A dataset USER or a READ key asking for a row's signed URL must get
a link scoped to one object, read-only and short-lived, or a link to our own signed media route,
never the stored secret. Each test drives real requests: the real encord SDK against the live
server, Azurite / moto / a plain HTTP server on loopback, the dashboard pages, and the log records
of the whole exchange, and scans all of it for the secret."""

from __future__ import annotations

import logging
import socket
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote, urlsplit

import pytest
import requests
from django.test import Client
from django.urls import reverse

from datasets_app import models as m
from datasets_app.sdk import UserClient, private_data, private_import
from tests.api.conftest import raw_client, sdk_client  # noqa: F401

from ..cloud_servers import AZURITE_KEY, make_jpeg

JPEG = make_jpeg(40, 30)


def _azure_account_sas(azurite) -> str:
    """What an admin pastes in: an account SAS that may read, write, delete and list everything."""
    from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

    return generate_account_sas(
        account_name=azurite.account,
        account_key=AZURITE_KEY,
        resource_types=ResourceTypes(service=True, container=True, object=True),
        permission=AccountSasPermissions(read=True, write=True, delete=True, list=True, add=True, create=True),
        expiry=datetime.now(UTC) + timedelta(days=1),
    )


def _needles(secret: str) -> list[str]:
    """The secret as it could appear: whole, URL-encoded, and (for a SAS) its signature alone."""
    out = {secret, quote(secret, safe=""), unquote(secret)}
    for part in secret.split("&"):
        if part.startswith("sig="):
            sig = part[4:]
            out.update({sig, unquote(sig), quote(unquote(sig), safe="")})
    return [n for n in out if len(n) >= 8]


def _assert_absent(secret: str, where: str, text: str) -> None:
    for needle in _needles(secret):
        assert needle not in text, f"the stored secret appears in {where}: ...{needle[:12]}..."


def _provider(request, org_admin, name: str):
    """(integration, object URL, secret) of a private object holding JPEG, for one provider."""
    if name == "azure-sas":
        az = request.getfixturevalue("azurite")
        container = f"c-{uuid.uuid4().hex[:8]}"
        az.service().create_container(container).upload_blob("dir/a.jpg", JPEG)
        secret = _azure_account_sas(az)
        config = {"endpoint_url": az.endpoint_url, "account": az.account}
        creds, url = {"sas_token": secret}, f"{az.endpoint_url}/{container}/dir/a.jpg"
    elif name == "azure-key":
        az = request.getfixturevalue("azurite")
        container = f"c-{uuid.uuid4().hex[:8]}"
        az.service().create_container(container).upload_blob("dir/a.jpg", JPEG)
        secret = AZURITE_KEY
        config = {"endpoint_url": az.endpoint_url, "account": az.account}
        creds, url = {"account_key": secret}, f"{az.endpoint_url}/{container}/dir/a.jpg"
    elif name in ("s3", "s3-session"):
        s3 = request.getfixturevalue("moto_s3")
        bucket = f"b-{uuid.uuid4().hex[:8]}"
        s3.client().create_bucket(Bucket=bucket)
        s3.client().put_object(Bucket=bucket, Key="dir/a.jpg", Body=JPEG, ContentType="image/jpeg")
        secret = f"s3-secret-{uuid.uuid4().hex}"  # moto takes any key pair
        config = {"endpoint_url": s3.endpoint_url}
        creds, url = {"access_key_id": "AKIDTEST", "secret_access_key": secret}, f"s3://{bucket}/dir/a.jpg"
        if name == "s3-session":  # temporary (STS) credentials: the session token is a secret too
            secret = f"session-{uuid.uuid4().hex}"
            creds["session_token"] = secret
    else:  # https with a bearer token
        web = request.getfixturevalue("http_media")
        folder = f"h-{uuid.uuid4().hex[:8]}"
        (web.root / folder).mkdir()
        (web.root / folder / "a.jpg").write_bytes(JPEG)
        secret = f"bearer-{uuid.uuid4().hex}"
        config = {"base_url": f"{web.base_url}/{folder}"}
        creds, url = {"bearer_token": secret}, f"{web.base_url}/{folder}/a.jpg"
    integration = private_data.integration_create(
        owner=org_admin,
        title=name,
        provider="https" if name == "https-bearer" else name.split("-")[0],
        config=config,
        credentials=creds,
        allow_private_network=True,
    )
    return integration, url, secret


def _import(org_admin, dataset, integration, url) -> m.DataRow:
    ds = UserClient.for_user(org_admin).get_dataset(str(dataset.dataset_hash))
    process_hash = ds.add_private_data_to_dataset_start(
        str(integration.integration_uuid), {"images": [{"objectUrl": url, "title": "a.jpg"}]}
    )
    private_import.run_private_job(m.DataJob.objects.get(process_hash=process_hash).pk)
    result = ds.add_private_data_to_dataset_get_result(process_hash, timeout_seconds=0)
    assert result.status == "DONE", result.errors
    return m.DataRow.objects.get(dataset=dataset, item__url=url)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("provider", ["azure-sas", "azure-key", "s3", "s3-session", "https-bearer"])
def test_a_dataset_user_never_receives_the_integrations_secret(
    provider, request, caplog, live_server, dataset, org_admin, ds_user, sdk_client, raw_client  # noqa: F811
):
    caplog.set_level(logging.DEBUG)
    integration, url, secret = _provider(request, org_admin, provider)
    row = _import(org_admin, dataset, integration, url)

    # v1, through the real encord SDK, as a dataset USER: the row's signed URL
    sdk_ds = sdk_client(ds_user).get_dataset(str(dataset.dataset_hash))
    (data_row,) = sdk_ds.list_data_rows()
    data_row.refetch_data(signed_url=True)
    signed = data_row.signed_url
    assert signed
    _assert_absent(secret, "the row's signed URL", signed)
    # ...and the whole v1 answer, and v2's list of integrations
    v1 = raw_client(ds_user).v1(
        "datarow",
        "GET",
        str(row.data_hash),
        {"additional_data": {"signed_url": True, "images_data_fetch_options": {"fetch_signed_urls": True}}},
        resource_id=str(dataset.dataset_hash),
    )
    _assert_absent(secret, "a v1 answer", repr(v1))
    v2 = raw_client(ds_user, bearer=True).v2("GET", "/v2/public/cloud-integrations")
    _assert_absent(secret, "a v2 answer", v2.content.decode())

    # the link works: the bytes, and a byte range
    got = requests.get(signed, timeout=30)
    assert got.status_code == 200, got.text[:300]
    assert got.content == JPEG
    part = requests.get(signed, headers={"Range": "bytes=2-11"}, timeout=30)
    assert part.status_code == 206 and part.content == JPEG[2:12]
    for response in (got, part):
        _assert_absent(secret, "the media response's headers", repr(dict(response.headers)))

    # a SAS the server hands out is scoped to this blob, read-only, short-lived
    if provider.startswith("azure") and "sig=" in signed:
        query = dict(p.split("=", 1) for p in urlsplit(signed).query.split("&"))
        assert query.get("sr") == "b" and unquote(query["sp"]) == "r"
        expiry = datetime.fromisoformat(unquote(query["se"]).replace("Z", "+00:00"))
        assert expiry < datetime.now(UTC) + timedelta(hours=2)

    # dashboard pages the user sees
    browser = Client()
    browser.force_login(ds_user)
    for name, kwargs in (
        ("dashboard:dataset-detail", {"dataset_hash": dataset.dataset_hash}),
        ("dashboard:data-row", {"dataset_hash": dataset.dataset_hash, "data_hash": row.data_hash}),
    ):
        page = browser.get(reverse(name, kwargs=kwargs))
        assert page.status_code == 200
        _assert_absent(secret, f"the page {name}", page.content.decode())

    # and every log line of all of the above
    _assert_absent(secret, "the logs", caplog.text)


@pytest.mark.django_db(transaction=True)
def test_a_media_link_is_bound_to_its_object(request, live_server, dataset, org_admin, ds_user, sdk_client):  # noqa: F811
    """Our signed media route serves exactly the object it was signed for: another object URL of
    the same integration, or another integration, with the same signature is refused."""
    integration, url, _secret = _provider(request, org_admin, "azure-sas")
    _import(org_admin, dataset, integration, url)
    sdk_ds = sdk_client(ds_user).get_dataset(str(dataset.dataset_hash))
    (data_row,) = sdk_ds.list_data_rows()
    data_row.refetch_data(signed_url=True)
    signed = data_row.signed_url
    assert signed.startswith(live_server.url), signed
    other = url.rsplit("/", 1)[0] + "/b.jpg"
    forged = signed.replace(quote(url, safe=""), quote(other, safe=""))
    assert forged != signed
    refused = requests.get(forged, timeout=30)
    assert refused.status_code == 403 and "expired" in refused.text


def test_an_unreachable_azure_store_does_not_echo_the_sas_in_the_jobs_error(
    org_admin, dataset, azurite, django_capture_on_commit_callbacks, caplog
):
    """A failing request's exception text carries its URL, SAS included; the job's error (shown on
    the job page and in the long-polling answer) and the logs must not."""
    caplog.set_level(logging.DEBUG)
    secret = _azure_account_sas(azurite)
    with socket.socket() as probe:  # a port the system just handed out and nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}/{azurite.account}"
    integration = private_data.integration_create(
        owner=org_admin,
        title="down",
        provider="azure",
        config={"endpoint_url": endpoint, "account": azurite.account},
        credentials={"sas_token": secret},
        allow_private_network=True,
    )
    ds = UserClient.for_user(org_admin).get_dataset(str(dataset.dataset_hash))
    with django_capture_on_commit_callbacks():
        process_hash = ds.add_private_data_to_dataset_start(
            str(integration.integration_uuid), {"images": [{"objectUrl": f"{endpoint}/c/a.jpg"}]}, True
        )
    private_import.run_private_job(m.DataJob.objects.get(process_hash=process_hash).pk)
    result = ds.add_private_data_to_dataset_get_result(process_hash, timeout_seconds=0)
    assert result.units_error_count == 1
    assert "unreachable" in result.errors[0].lower()
    _assert_absent(secret, "the job's error", repr(result.errors))
    _assert_absent(secret, "the logs", caplog.text)
