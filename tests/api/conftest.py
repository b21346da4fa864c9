"""Fixtures for driving the real `encord` SDK against a live server."""

from __future__ import annotations

import hashlib
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from datasets_app.sdk import accounts


def private_key_for(seed_text: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed_text.encode()).digest())


def openssh_private(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()).decode()


def openssh_public(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()


def register_key(user) -> Ed25519PrivateKey:
    """Registers a deterministic Ed25519 key for `user` and returns its private half."""
    key = private_key_for(f"key-of-{user.email}")
    if not user.public_keys.exists():
        accounts.add_public_key(user, openssh_public(key) + " test")
    return key


@pytest.fixture
def sdk_client(live_server):
    """sdk_client(user) -> encord.EncordUserClient signing as `user` against the live server."""
    from encord.user_client import EncordUserClient

    cache: dict[int, EncordUserClient] = {}

    def make(user) -> EncordUserClient:
        if user.pk not in cache:
            key = register_key(user)
            cache[user.pk] = EncordUserClient.create_with_ssh_private_key(
                openssh_private(key), domain=live_server.url
            )
        return cache[user.pk]

    return make


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Rate-limit counters live in the cache; user pks repeat across tests, so start clean."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


class DjangoResponse:
    """A Django test-client response with the attributes of a `requests` one."""

    def __init__(self, response) -> None:
        self.status_code = response.status_code
        self.headers = response.headers
        self.content = b"".join(response.streaming_content) if response.streaming else response.content

    def json(self):
        return json.loads(self.content)


class RawClient:
    """Hand-built requests on the wire, for inputs the SDK would never send (and API keys,
    which 0.1.211 cannot send). v1 bodies are signed exactly as the SDK signs them.

    Over HTTP to a live server (`base_url`), or in-process through Django's test client
    (`django_client`), which lets a test roll its database back instead of flushing it."""

    def __init__(
        self,
        base_url: str = "",
        *,
        key: Ed25519PrivateKey | None = None,
        api_key: str | None = None,
        bearer: str | None = None,
        django_client=None,
    ) -> None:
        self.base_url = base_url
        self.key = key
        self.api_key = api_key
        self.bearer = bearer
        self.django_client = django_client

    def authorization(self, body: bytes) -> str:
        if self.key is not None:
            pub = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
            return f"{pub}:{self.key.sign(hashlib.sha256(body).digest()).hex()}"
        if self.bearer is not None:
            return f"Bearer {self.bearer}"
        return self.api_key or ""

    def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None):
        headers = {k: v for k, v in (headers or {}).items() if v is not None}
        if self.django_client is not None:
            content_type = headers.pop("Content-Type", "application/json")
            response = self.django_client.generic(
                method, path, data=body, content_type=content_type, headers=headers
            )
            return DjangoResponse(response)
        import requests

        return requests.request(method, self.base_url + path, data=body, headers=headers, timeout=60)

    def post_raw(
        self, path: str, body: bytes, *, resource_id: str = "", headers: dict | None = None, sign_body=None
    ):
        all_headers = {
            "Content-Type": "application/json",
            "Authorization": self.authorization(body if sign_body is None else sign_body),
            "ResourceID": resource_id,
            "ResourceType": "dataset" if resource_id else "",
        }
        all_headers.update(headers or {})
        return self.request("POST", path, body, all_headers)

    def v2(self, method: str, path: str, payload=None):
        """A v2 request with this client's bearer token (JSON body when `payload` is given)."""
        body = b"" if payload is None else json.dumps(payload).encode()
        headers = {"Authorization": f"Bearer {self.bearer}"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        return self.request(method, path, body, headers)

    def v1(self, query_type, query_method, uid=None, payload=None, *, resource_id="", endpoint="public"):
        """The envelope's JSON (the HTTP status is asserted to be 200 unless 413/429)."""
        body = json.dumps(
            {
                "query_type": query_type,
                "query_method": query_method,
                "values": {"uid": uid, "payload": payload},
            }
        ).encode()
        path = "/public/user" if endpoint == "user" else "/public"
        response = self.post_raw(path, body, resource_id=resource_id)
        assert response.status_code in (200, 413, 429), response.content[:500]
        return response.json()


def _raw_factory(**transport):
    def make(user=None, *, api_key: str | None = None, bearer: str | None = None) -> RawClient:
        key = register_key(user) if user is not None else None
        if user is not None and bearer is True:
            bearer = accounts.issue_bearer_token(user)
            key = None
        return RawClient(key=key, api_key=api_key, bearer=bearer, **transport)

    return make


@pytest.fixture
def raw_client(live_server):
    """raw_client(user | api_key=... | bearer=...) -> RawClient over HTTP to the live server."""
    return _raw_factory(base_url=live_server.url)


@pytest.fixture
def wire_client(db):
    """wire_client(user | api_key=... | bearer=...) -> RawClient in-process (rolled-back DB).
    `wire_client(user, bearer=True)` authenticates with a fresh bearer token instead of the key."""
    from django.test import Client

    return _raw_factory(django_client=Client())


def error_code(envelope: dict) -> str | None:
    return envelope["response"][0] if envelope.get("status") != 200 else None
