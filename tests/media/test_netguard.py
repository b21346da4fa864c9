"""The SSRF guard (media/netguard.py): addresses refused before any connection, on every path
that connects (a requests session, a urllib3 pool, a boto3 client); only loopback is contacted."""

from __future__ import annotations

import ipaddress

import pytest

from datasets_app.media import netguard

from .traffic import connections  # noqa: F401  (fixture)

@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "10.0.0.1",
        "169.254.169.254",
        "::1",
        "192.168.1.10",
        "100.64.0.1",
        "::ffff:10.0.0.1",
        "0.0.0.0",
        "metadata.google.internal",
    ],
)
def test_netguard_refuses_non_public_addresses_without_connecting(host, connections):
    with pytest.raises(netguard.AddressRefused):
        netguard.check_host(host)
    url_host = f"[{host}]" if ":" in host else host
    with pytest.raises(netguard.AddressRefused):
        netguard.guarded_session().get(f"http://{url_host}:18299/latest/meta-data/", timeout=2)
    assert connections == []


def test_netguard_allows_public_address_literals():
    assert netguard.check_host("8.8.8.8") == ["8.8.8.8"]
    assert netguard.classify(ipaddress.ip_address("169.254.169.254")) == "a cloud metadata service"


def test_netguard_hostname_resolving_to_loopback_is_refused(connections):
    with pytest.raises(netguard.AddressRefused, match="localhost .127.0.0.1. is a loopback"):
        netguard.check_url("https://localhost/x")
    assert connections == []


def test_netguard_refuses_non_http_schemes():
    for url in ("file:///etc/passwd", "gopher://x/", "ftp://example.com/a"):
        with pytest.raises(netguard.AddressRefused):
            netguard.check_url(url)


def test_guarded_session_with_private_network_allowed_reaches_loopback(http_media):
    (http_media.root / "hello.txt").write_bytes(b"hi")
    r = netguard.guarded_session(allow_private_network=True).get(
        http_media.base_url + "/hello.txt", timeout=5
    )
    assert r.status_code == 200 and r.content == b"hi"


def test_guarded_pool_manager_refuses_metadata_address(connections):
    pool = netguard.guarded_pool_manager()
    with pytest.raises(netguard.AddressRefused):
        pool.request("GET", "http://169.254.169.254/latest/meta-data/", retries=False)
    assert connections == []


def test_a_url_without_a_host_or_with_a_bad_port_is_refused_without_a_lookup():
    with pytest.raises(netguard.HostUnresolvable, match="no host"):
        netguard.resolve("")
    with pytest.raises(netguard.HostUnresolvable):
        netguard.check_url("https:///no-host")
    with pytest.raises(netguard.AddressRefused, match="invalid port"):
        netguard.check_url("https://example.com:99999/x")


def test_the_refusal_is_a_cloud_error():
    from datasets_app.media import cloud

    assert netguard.AddressRefused is cloud.AddressRefused
    assert issubclass(netguard.AddressRefused, cloud.CloudError)


def test_guarded_adapter_checks_each_connection_of_any_session(connections):
    import requests

    session = requests.Session()
    session.mount("http://", netguard.GuardedAdapter())
    with pytest.raises(netguard.AddressRefused, match="10.0.0.1 is a private"):
        session.get("http://10.0.0.1:9/x", timeout=2)
    assert connections == []


def test_guard_botocore_client_checks_the_endpoint_as_it_connects(connections):
    import boto3
    from botocore.config import Config
    from botocore.exceptions import HTTPClientError

    client = boto3.session.Session().client(
        "s3",
        endpoint_url="http://169.254.169.254",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, proxies={}),
    )
    netguard.guard_botocore_client(client)
    with pytest.raises(HTTPClientError) as failure:  # botocore wraps what the connection raised
        client.head_object(Bucket="b", Key="k")
    refusal = failure.value.kwargs["error"]
    assert isinstance(refusal, netguard.AddressRefused) and "cloud metadata service" in str(refusal)
    assert connections == []
