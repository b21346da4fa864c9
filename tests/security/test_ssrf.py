"""Item 11 of issue 11: IPv6 addresses that embed an IPv4 address (6to4, NAT64, Teredo,
IPv4-compatible/-translated, ISATAP) must be judged by the IPv4 address they reach.

`2002:a00:5::1` is a 6to4 address: a 6to4 relay delivers it to 10.0.0.5, so a private-files
document naming it reached the private network. These tests ask the guard for its DECISION only
(netguard.classify / check_host on address literals, which never resolve or connect): this machine
may route IPv6 off the host, so no test here opens a connection, and the audit hook proves it."""

from __future__ import annotations

import ipaddress
import sys

import pytest

from datasets_app.media import netguard

_connects: list[tuple] = []
_auditing = [False]


def _audit(event, args):
    if _auditing[0] and event in ("socket.connect", "socket.getaddrinfo"):
        _connects.append((event, args))


sys.addaudithook(_audit)


@pytest.fixture
def no_traffic():
    _connects.clear()
    _auditing[0] = True
    yield
    _auditing[0] = False
    assert _connects == [], f"the guard's decision must not touch the network: {_connects}"


REFUSED = [
    # (address, embedded IPv4 it reaches, what the message must say)
    ("2002:a00:5::1", "10.0.0.5", "6to4"),  # the example
    ("2002:7f00:1::", "127.0.0.1", "6to4"),
    ("2002:a9fe:a9fe::1", "169.254.169.254", "6to4"),
    ("2002:c0a8:10a::1", "192.168.1.10", "6to4"),
    ("2002:6440:1::1", "100.64.0.1", "6to4"),
    ("64:ff9b::a00:5", "10.0.0.5", "NAT64"),
    ("64:ff9b::7f00:1", "127.0.0.1", "NAT64"),
    ("64:ff9b::a9fe:a9fe", "169.254.169.254", "NAT64"),
    ("::a00:5", "10.0.0.5", "IPv4-compatible"),
    ("::7f00:1", "127.0.0.1", "IPv4-compatible"),
    ("::ffff:0:a00:5", "10.0.0.5", "IPv4-translated"),
    ("::ffff:10.0.0.5", "10.0.0.5", "private"),  # IPv4-mapped (already refused before this fix)
    # Teredo: server 65.54.227.120, client 10.0.0.5 (stored inverted in the last 32 bits)
    ("2001:0:4136:e378:8000:63bf:f5ff:fffa", "10.0.0.5", "Teredo"),
    # ISATAP interface identifiers under a global prefix name the site's IPv4 host
    ("2a00:1450:4001::5efe:a00:5", "10.0.0.5", "ISATAP"),
    ("2a00:1450:4001::200:5efe:c0a8:10a", "192.168.1.10", "ISATAP"),
]


@pytest.mark.parametrize("address,embedded,form", REFUSED)
def test_ipv6_embedding_a_non_global_ipv4_is_refused(address, embedded, form, no_traffic):
    why = netguard.classify(ipaddress.ip_address(address))
    assert why is not None, f"{address} reaches {embedded} but was classified as public"
    with pytest.raises(netguard.AddressRefused) as refused:
        netguard.check_host(address)
    message = str(refused.value)
    assert address in message and form in message and embedded in message
    assert "does not allow private networks" in message


def test_local_use_nat64_prefix_is_refused(no_traffic):
    # 64:ff9b:1::/48 (RFC 8215) is for one operator's network, and where the IPv4 address sits
    # depends on that operator's prefix length: it is refused whatever follows.
    for address in ("64:ff9b:1::a00:5", "64:ff9b:1::808:808", "64:ff9b:1:a00:5::"):
        with pytest.raises(netguard.AddressRefused, match="local-use NAT64"):
            netguard.check_host(address)


@pytest.mark.parametrize(
    "address",
    [
        "2002:808:808::1",  # 6to4 of 8.8.8.8: a public relay reaches a public host
        "64:ff9b::808:808",  # DNS64 answer for 8.8.8.8 on an IPv6-only host
        "2001:4860:4860::8888",  # plain global IPv6
        "2a00:1450:4001:82b::200e",
    ],
)
def test_ipv6_reaching_a_global_address_still_passes(address, no_traffic):
    assert netguard.classify(ipaddress.ip_address(address)) is None
    assert netguard.check_host(address) == [address]


def test_private_network_integrations_may_still_use_them(no_traffic):
    assert netguard.check_host("2002:a00:5::1", allow_private_network=True) == ["2002:a00:5::1"]


def test_embedded_forms_are_listed_for_the_reader():
    forms = netguard.embedded_ipv4(ipaddress.ip_address("2001:0:4136:e378:8000:63bf:f5ff:fffa"))
    assert ("Teredo server", ipaddress.ip_address("65.54.227.120")) in forms
    assert ("Teredo client", ipaddress.ip_address("10.0.0.5")) in forms
    assert netguard.embedded_ipv4(ipaddress.ip_address("2001:4860:4860::8888")) == []
