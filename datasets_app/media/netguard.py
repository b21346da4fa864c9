"""SSRF guard: a host is resolved and every address checked BEFORE any connection is opened.

Object URLs in a private-files document are chosen by whoever calls the API, and the worker that
reads them sits inside our network. So a URL whose host resolves to a loopback, link-local,
private, shared (CGNAT), multicast, reserved or cloud-metadata address is refused, unless the
integration explicitly allows private networks (`CloudIntegration.allow_private_network`, for
MinIO on a LAN or the loopback servers of the test suite).

`guarded_session()` goes further for `requests`, and `guard_botocore_client()` for boto3: their
connections resolve and check the host themselves and then connect to the checked address (TLS
still verifies the host name), so neither a redirect nor a DNS answer that changes between the
check and the connect (rebinding) can reach a refused address. ffmpeg and PyAV, which connect by
themselves, read private media through the loopback relay (relay.py) for the same reason.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .cloud_errors import CloudError

# Metadata services answer on these; they are also covered by link-local/private, but are named so
# the error says what was hit.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "168.63.129.16")
)
METADATA_HOSTNAMES = frozenset(
    {"metadata.google.internal", "metadata", "instance-data", "instance-data.ec2.internal"}
)


class AddressRefused(CloudError):
    """The URL's host is, or resolves to, an address this integration may not reach (loopback,
    private, link-local, metadata...). A CloudError, so a refused object read reports like any
    other failure of a customer's storage."""


class HostUnresolvable(Exception):
    """The URL's host does not resolve."""


NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the last 32 bits
NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: where the IPv4 sits is the operator's choice
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d (:: and ::1 excluded below)
IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # SIIT ::ffff:0:a.b.c.d (RFC 2765)
ISATAP_ID, ISATAP_MASK = 0x00005EFE, 0xFCFFFFFF  # interface id 0[0-3]00:5efe:a.b.c.d (RFC 5214)


def _last32(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)


def embedded_ipv4(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses an IPv6 address leads to, each with the form that embeds it: 6to4,
    Teredo (server and client), NAT64 (well-known prefix), IPv4-compatible, IPv4-translated and
    ISATAP. A relay or translator on the way delivers such an address to the IPv4 host, so that
    host is what the guard must judge. (6rd and NAT64 with an operator's own prefix cannot be
    recognised from the address alone.)"""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found: list[tuple[str, ipaddress.IPv4Address]] = []
    if address.sixtofour is not None:
        found.append(("6to4 (2002::/16)", address.sixtofour))
    if address.teredo is not None:
        server, client = address.teredo
        found += [("Teredo server", server), ("Teredo client", client)]
    if address in NAT64_WELL_KNOWN:
        found.append(("NAT64 (64:ff9b::/96)", _last32(address)))
    if address in IPV4_COMPATIBLE and int(address) > 1:
        found.append(("IPv4-compatible (::a.b.c.d)", _last32(address)))
    if address in IPV4_TRANSLATED:
        found.append(("IPv4-translated (::ffff:0:a.b.c.d)", _last32(address)))
    if (int(address) >> 32) & ISATAP_MASK == ISATAP_ID:
        found.append(("ISATAP (interface id 5efe:a.b.c.d)", _last32(address)))
    return found


def classify(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why this address is refused ("a loopback", "a private", ...), or None when it is public.

    An IPv6 address that embeds an IPv4 address is refused when the IPv4 one would be (the
    phrase then names the form: "a 6to4 (2002::/16) address embedding 10.0.0.5, a private")."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in NAT64_LOCAL_USE:
        return "a local-use NAT64 (64:ff9b:1::/48)"
    for form, inner in embedded_ipv4(address):
        why = _classify_plain(inner)
        if why is not None:
            return f"a {form} address embedding {inner}, {why}"
    if address in NAT64_WELL_KNOWN:
        return None  # a DNS64 answer for a public IPv4 host (IPv6-only networks)
    return _classify_plain(address)


def _classify_plain(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if address in METADATA_ADDRESSES:
        return "a cloud metadata service"
    if address.is_loopback:
        return "a loopback"
    if address.is_link_local:
        return "a link-local"
    if address.is_unspecified:
        return "an unspecified"
    if address.is_multicast:
        return "a multicast"
    if isinstance(address, ipaddress.IPv4Address) and address in ipaddress.ip_network("100.64.0.0/10"):
        return "a shared (carrier-grade NAT)"
    if address.is_private:
        return "a private"
    if address.is_reserved or not address.is_global:
        return "a reserved"
    return None


def resolve(host: str, port: int | None = None) -> list[str]:
    """Every address `host` resolves to (an IP literal resolves to itself). No connection is made."""
    host = (host or "").strip().strip("[]")
    if not host:
        raise HostUnresolvable("The URL has no host.")
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise HostUnresolvable(f"The host {host!r} does not resolve ({exc}).") from None
    seen: list[str] = []
    for info in infos:
        addr = info[4][0].split("%", 1)[0]
        if addr not in seen:
            seen.append(addr)
    return seen


def check_host(host: str, port: int | None = None, *, allow_private_network: bool = False) -> list[str]:
    """The host's addresses, all checked; AddressRefused names the first refused one.

    Every address must pass: a name answering with one public and one private address could
    otherwise be steered to the private one."""
    bare = (host or "").strip().strip("[]").rstrip(".").lower()
    if not allow_private_network and bare in METADATA_HOSTNAMES:
        raise AddressRefused(f"The host {host!r} is a cloud metadata service; it is never fetched.")
    addresses = resolve(bare, port)
    if allow_private_network:
        return addresses
    for addr in addresses:
        why = classify(ipaddress.ip_address(addr))
        if why is not None:
            shown = host if host == addr else f"{host} ({addr})"
            raise AddressRefused(
                f"The host {shown} is {why} address; this integration does not allow private networks."
            )
    return addresses


def check_url(url: str, *, allow_private_network: bool = False) -> list[str]:
    """Checks the host of an http(s) URL (see check_host); other schemes are refused."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise AddressRefused(f"Only http(s) URLs can be fetched, not {parts.scheme or 'a relative URL'!r}.")
    try:
        port = parts.port
    except ValueError:
        raise AddressRefused(f"The URL {url!r} has an invalid port.") from None
    return check_host(parts.hostname or "", port, allow_private_network=allow_private_network)


# ---- requests with the check inside the connection ---------------------------------------------


class _GuardMixin:
    allow_private_network = False

    def _new_conn(self):  # type: ignore[override]
        # Resolve and check here, then connect to the checked address; TLS SNI and certificate
        # checks keep using the host name (urllib3 keeps `host` and `_dns_host` apart).
        addresses = check_host(self.host, self.port, allow_private_network=self.allow_private_network)
        self._dns_host = addresses[0]
        return super()._new_conn()


def _guarded_pools(
    allow_private_network: bool,
    *,
    connection: type = HTTPConnection,
    secure_connection: type = HTTPSConnection,
    pool: type = HTTPConnectionPool,
    secure_pool: type = HTTPSConnectionPool,
) -> dict[str, type]:
    """urllib3 pool classes by scheme whose connections check the host as they open (_GuardMixin),
    built on the given connection and pool classes (urllib3's, or botocore's own subclasses)."""
    flag = {"allow_private_network": allow_private_network}
    guarded = type("GuardedConnection", (_GuardMixin, connection), flag)
    guarded_secure = type("GuardedSecureConnection", (_GuardMixin, secure_connection), flag)
    return {
        "http": type("GuardedPool", (pool,), {"ConnectionCls": guarded}),
        "https": type("GuardedSecurePool", (secure_pool,), {"ConnectionCls": guarded_secure}),
    }


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose every new connection is checked by check_host first."""

    def __init__(self, *, allow_private_network: bool = False, **kwargs) -> None:
        self.allow_private_network = allow_private_network
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _guarded_pools(self.allow_private_network)
        self.poolmanager.key_fn_by_scheme = dict(self.poolmanager.key_fn_by_scheme)


def guarded_pool_manager(*, allow_private_network: bool = False, maxsize: int = 32) -> urllib3.PoolManager:
    """A urllib3 PoolManager with the same per-connection check (lighter than requests on a hot path)."""
    manager = urllib3.PoolManager(num_pools=16, maxsize=maxsize, block=False)
    manager.pool_classes_by_scheme = _guarded_pools(allow_private_network)
    return manager


def guard_botocore_client(client, *, allow_private_network: bool = False):
    """Gives a boto3 client's connection pools the same per-connection check, so botocore too
    connects only to an address it has just checked (a DNS answer changing after the endpoint's
    first check included). botocore has no public hook for its connection classes: this sets the
    pool classes of the client's URLLib3Session (tests/media/test_cloud.py proves it holds)."""
    from botocore import awsrequest

    http_session = client._endpoint.http_session
    http_session._pool_classes_by_scheme = _guarded_pools(
        allow_private_network,
        connection=awsrequest.AWSHTTPConnection,
        secure_connection=awsrequest.AWSHTTPSConnection,
        pool=awsrequest.AWSHTTPConnectionPool,
        secure_pool=awsrequest.AWSHTTPSConnectionPool,
    )
    http_session._manager.pool_classes_by_scheme = http_session._pool_classes_by_scheme
    return client


def guarded_session(*, allow_private_network: bool = False, pool_size: int = 16) -> requests.Session:
    """A requests Session that cannot connect to a refused address, redirects included."""
    session = requests.Session()
    adapter = GuardedAdapter(
        allow_private_network=allow_private_network,
        pool_connections=pool_size,
        pool_maxsize=pool_size,
        max_retries=urllib3.Retry(total=2, connect=2, read=0, status=0, redirect=5, backoff_factor=0.2),
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.trust_env = False  # an HTTP(S)_PROXY would connect for us and bypass the check
    return session
