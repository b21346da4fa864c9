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
            cache[user.pk] = EncordUserClient.create_with_ssh_private_key(openssh_private(key), domain=live_server.url)
        return cache[user.pk]

    return make


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Rate-limit counters live in the cache; user pks repeat across tests, so start clean."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


class RawClient:
    """Hand-built requests on the wire, for inputs the SDK would never send (and API keys,
    which 0.1.211 cannot send). v1 bodies are signed exactly as the SDK signs them."""

    def __init__(self, base_url: str, *, key: Ed25519PrivateKey | None = None, api_key: str | None = None,
                 bearer: str | None = None) -> None:
        self.base_url = base_url
        self.key = key
        self.api_key = api_key
        self.bearer = bearer

    def authorization(self, body: bytes) -> str:
        if self.key is not None:
            pub = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
            return f"{pub}:{self.key.sign(hashlib.sha256(body).digest()).hex()}"
        if self.bearer is not None:
            return f"Bearer {self.bearer}"
        return self.api_key or ""

    def post_raw(self, path: str, body: bytes, *, resource_id: str = "", headers: dict | None = None, sign_body=None):
        import requests

        all_headers = {
            "Content-Type": "application/json",
            "Authorization": self.authorization(body if sign_body is None else sign_body),
            "ResourceID": resource_id,
            "ResourceType": "dataset" if resource_id else "",
        }
        all_headers.update(headers or {})
        return requests.post(self.base_url + path, data=body, headers=all_headers, timeout=30)

    def v1(self, query_type, query_method, uid=None, payload=None, *, resource_id="", endpoint="public"):
        """The envelope's JSON (the HTTP status is asserted to be 200 unless 413/429)."""
        body = json.dumps({"query_type": query_type, "query_method": query_method,
                           "values": {"uid": uid, "payload": payload}}).encode()
        path = "/public/user" if endpoint == "user" else "/public"
        response = self.post_raw(path, body, resource_id=resource_id)
        assert response.status_code in (200, 413, 429), response.content[:500]
        return response.json()


@pytest.fixture
def raw_client(live_server):
    """raw_client(user=... | api_key=... | bearer=...) -> RawClient against the live server."""

    def make(user=None, *, api_key: str | None = None, bearer: str | None = None) -> RawClient:
        key = None
        if user is not None:
            key = register_key(user)
        return RawClient(live_server.url, key=key, api_key=api_key, bearer=bearer)

    return make


def error_code(envelope: dict) -> str | None:
    return envelope["response"][0] if envelope.get("status") != 200 else None
