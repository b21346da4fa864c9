"""Provider adapters (media/cloud/) against real servers on loopback, and their SSRF checks.

Each provider: URL forms, listing, HEAD, ranged read, streamed read, the provider's signed URL
(fetched with plain requests to prove it works), a probe through RangeFile, and a 404."""

from __future__ import annotations

import json
import socket
import uuid
from urllib.parse import urlsplit

import pytest
import requests

from datasets_app.media import cloud

from ..cloud_servers import AZURITE_KEY, make_jpeg, make_mp4
from .traffic import answer_in_turn, connections  # noqa: F401  (fixture)


@pytest.mark.parametrize(
    "provider,config",
    [
        ("s3", {"endpoint_url": "http://10.0.0.1:9000"}),
        ("s3", {"endpoint_url": "http://169.254.169.254"}),
        ("gcs", {"endpoint_url": "http://127.0.0.1:18298"}),
        ("azure", {"endpoint_url": "http://10.0.0.1:10000/acct", "account": "acct"}),
    ],
)
def test_adapters_refuse_private_endpoints_before_connecting(provider, config, connections):
    adapter = cloud.ADAPTERS[provider](config=config, credentials={}, allow_private_network=False)
    url = {
        "s3": "s3://bucket/k.jpg",
        "gcs": "gs://bucket/k.jpg",
        "azure": config["endpoint_url"] + "/c/k.jpg",
    }[provider]
    with pytest.raises(cloud.AddressRefused):
        adapter.head(adapter.parse(url))
    assert connections == []


@pytest.mark.parametrize(
    "url", ["https://127.0.0.1/a.jpg", "https://10.0.0.1/a.jpg", "https://169.254.169.254/latest/meta-data/"]
)
def test_https_adapter_refuses_private_urls_before_connecting(url, connections):
    adapter = cloud.HTTPSAdapter(config={}, credentials={}, allow_private_network=False)
    with pytest.raises(cloud.AddressRefused):
        adapter.head(adapter.parse(url))
    assert connections == []


def test_s3_client_connections_are_checked_when_they_open(moto_s3, monkeypatch, connections):
    # boto3 connects by itself: the endpoint's check when the client is made is not enough.
    port = urlsplit(moto_s3.endpoint_url).port
    answer_in_turn(monkeypatch, "rebind-s3.example", [["93.184.216.34"], ["127.0.0.1"]])
    adapter = cloud.S3Adapter(
        config={"endpoint_url": f"http://rebind-s3.example:{port}"},
        credentials={"access_key_id": "testing", "secret_access_key": "testing"},
        allow_private_network=False,
    )
    ref = adapter.parse("s3://bucket/k.jpg")
    for call in (lambda: adapter.head(ref), lambda: list(adapter.iter_chunks(ref))):
        with pytest.raises(cloud.AddressRefused, match=r"rebind-s3.example \(127.0.0.1\) is a loopback"):
            call()
    assert connections == []


# ---- providers against loopback servers --------------------------------------------------------


JPEG = make_jpeg(640, 480)


def exercise(adapter: cloud.CloudAdapter, url: str, missing_url: str, *, listing: tuple[str, str] | None):
    ref = adapter.parse(url)
    info = adapter.head(ref)
    assert info.size == len(JPEG)
    data, rinfo = adapter.read_range(ref, 2, 10)
    assert data == JPEG[2:12] and rinfo.size == len(JPEG)
    assert b"".join(adapter.iter_chunks(ref, 100)) == JPEG
    signed = adapter.signed_url(ref, 120)
    got = requests.get(signed, timeout=10)
    assert got.status_code == 200 and got.content == JPEG
    from PIL import Image

    f = adapter.open(ref, block_size=256)
    with Image.open(f) as img:
        assert img.size == (640, 480)
    assert f.bytes_fetched < len(JPEG) or len(JPEG) < 2048
    with pytest.raises(cloud.ObjectNotFound):
        adapter.head(adapter.parse(missing_url))
    if listing:
        bucket, key = listing
        assert (key, len(JPEG)) in adapter.list_objects(bucket)
    return signed


def test_s3_adapter_against_moto(moto_s3):
    bucket = f"b-{uuid.uuid4().hex[:8]}"
    client = moto_s3.client()
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="dir/a b.jpg", Body=JPEG, ContentType="image/jpeg")
    adapter = cloud.S3Adapter(
        config={"endpoint_url": moto_s3.endpoint_url},
        credentials={"access_key_id": "testing", "secret_access_key": "testing"},
        allow_private_network=True,
    )
    signed = exercise(
        adapter, f"s3://{bucket}/dir/a b.jpg", f"s3://{bucket}/nope.jpg", listing=(bucket, "dir/a b.jpg")
    )
    assert "X-Amz-Signature=" in signed and "X-Amz-Expires=120" in signed
    # the endpoint's own https form names the same object
    same = adapter.parse(f"{moto_s3.endpoint_url}/{bucket}/dir/a%20b.jpg")
    assert (same.bucket, same.key) == (bucket, "dir/a b.jpg")
    assert adapter.parse("https://mybucket.s3.eu-west-1.amazonaws.com/x/y.jpg").bucket == "mybucket"
    assert adapter.parse("https://s3.eu-west-1.amazonaws.com/mybucket/x/y.jpg").key == "x/y.jpg"
    with pytest.raises(cloud.UnsupportedURL):
        adapter.parse("https://evil.example.com/bucket/key.jpg")
    with pytest.raises(cloud.UnsupportedURL):
        adapter.parse(f"s3://{bucket}/")


def test_s3_adapter_closed_endpoint_is_unreachable():
    adapter = cloud.S3Adapter(
        config={"endpoint_url": "http://127.0.0.1:1"}, credentials={}, allow_private_network=True
    )
    with pytest.raises(cloud.Unreachable):
        adapter.head(adapter.parse("s3://bucket/x.jpg"))


def _service_account(http_media) -> dict:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {
        "type": "service_account",
        "project_id": "test",
        "private_key_id": "k1",
        "private_key": pem.decode(),
        "client_email": "reader@test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": http_media.base_url + "/token",
    }


def test_gcs_adapter_against_emulator(gcs_emulator, http_media):
    bucket = f"g-{uuid.uuid4().hex[:8]}"
    gcs_emulator.client().create_bucket(bucket).blob("dir/a.jpg").upload_from_string(
        JPEG, content_type="image/jpeg"
    )
    anonymous = cloud.GCSAdapter(
        config={"endpoint_url": gcs_emulator.endpoint_url}, credentials={}, allow_private_network=True
    )
    exercise(anonymous, f"gs://{bucket}/dir/a.jpg", f"gs://{bucket}/nope.jpg", listing=(bucket, "dir/a.jpg"))
    assert anonymous.parse(f"https://storage.googleapis.com/{bucket}/dir/a.jpg").key == "dir/a.jpg"
    assert anonymous.parse(f"{gcs_emulator.endpoint_url}/{bucket}/dir/a.jpg").bucket == bucket
    # With a service account: OAuth token from the (loopback) token endpoint, V4-signed URLs.
    sa = cloud.GCSAdapter(
        config={"endpoint_url": gcs_emulator.endpoint_url},
        credentials={"service_account_json": json.dumps(_service_account(http_media))},
        allow_private_network=True,
    )
    signed = exercise(sa, f"gs://{bucket}/dir/a.jpg", f"gs://{bucket}/nope.jpg", listing=None)
    assert "X-Goog-Signature=" in signed and "X-Goog-Expires=120" in signed
    assert http_media.token_requests, "the service account fetched its token"


def test_azure_adapter_against_azurite(azurite):
    container = f"c-{uuid.uuid4().hex[:8]}"
    azurite.service().create_container(container).upload_blob("dir/a.jpg", JPEG)
    adapter = cloud.AzureAdapter(
        config={"endpoint_url": azurite.endpoint_url, "account": azurite.account},
        credentials={"account_key": AZURITE_KEY},
        allow_private_network=True,
    )
    signed = exercise(
        adapter,
        f"{azurite.endpoint_url}/{container}/dir/a.jpg",
        f"{azurite.endpoint_url}/{container}/nope.jpg",
        listing=(container, "dir/a.jpg"),
    )
    assert "sig=" in signed and "sp=r" in signed
    # the public Azure form is accepted for the configured account
    az = cloud.AzureAdapter(config={"account": "acct"}, credentials={}, allow_private_network=False)
    ref = az.parse("https://acct.blob.core.windows.net/cont/x/y.jpg")
    assert (ref.bucket, ref.key) == ("cont", "x/y.jpg")
    with pytest.raises(cloud.UnsupportedURL):
        az.parse("https://other.blob.core.windows.net/cont/x.jpg")


def test_https_adapter_against_local_server(http_media):
    (http_media.root / "a.jpg").write_bytes(JPEG)
    adapter = cloud.HTTPSAdapter(config={}, credentials={}, allow_private_network=True)
    exercise(adapter, http_media.base_url + "/a.jpg", http_media.base_url + "/nope.jpg", listing=None)
    strict = cloud.HTTPSAdapter(config={}, credentials={}, allow_private_network=False)
    with pytest.raises(cloud.UnsupportedURL, match="https://"):
        strict.parse(http_media.base_url + "/a.jpg")


def test_https_adapter_unreachable_port_is_reported():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    adapter = cloud.HTTPSAdapter(config={"connect_timeout": 1}, credentials={}, allow_private_network=True)
    with pytest.raises(cloud.Unreachable):
        adapter.head(adapter.parse(f"http://127.0.0.1:{port}/a.jpg"))


def test_range_file_seeks_without_reading_everything(moto_s3):
    bucket = f"r-{uuid.uuid4().hex[:8]}"
    client = moto_s3.client()
    client.create_bucket(Bucket=bucket)
    video = make_mp4()
    client.put_object(Bucket=bucket, Key="v.mp4", Body=video)
    adapter = cloud.S3Adapter(
        config={"endpoint_url": moto_s3.endpoint_url},
        credentials={"access_key_id": "testing", "secret_access_key": "testing"},
        allow_private_network=True,
    )
    f = adapter.open(adapter.parse(f"s3://{bucket}/v.mp4"), block_size=512)
    assert f.size == len(video)
    f.seek(-100, 2)
    assert f.read() == video[-100:]
    f.seek(10)
    assert f.read(20) == video[10:30]


def test_s3_ranged_reads_refuse_a_private_endpoint_before_connecting(connections):
    adapter = cloud.S3Adapter(
        config={"endpoint_url": "http://10.0.0.1:9000"}, credentials={}, allow_private_network=False
    )
    ref = adapter.parse("s3://bucket/k.jpg")
    with pytest.raises(cloud.AddressRefused):
        adapter.read_range(ref, 0, 10)
    with pytest.raises(cloud.AddressRefused):
        adapter.open(ref)
    assert connections == []


def test_an_unreachable_azure_store_is_given_up_on_in_seconds_not_a_minute():
    """azure-storage-blob's own retry waits 15 s, then 18 s, then 24 s (±3) between attempts: a
    private import from a store that is down held each unit for most of a minute. Two retries at
    most, a few seconds of waiting in all, as for S3 and GCS."""
    adapter = cloud.AzureAdapter(
        config={"endpoint_url": "http://127.0.0.1:9/acct", "account": "acct"}, credentials={},
        allow_private_network=True,
    )
    policy = adapter.service._config.retry_policy
    waits = [policy.get_backoff_time({"count": count}) for count in range(policy.total_retries)]
    assert policy.total_retries == 2 and sum(waits) <= 4, waits
