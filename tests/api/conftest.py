"""Fixtures for driving the real `encord` SDK against a live server."""

from __future__ import annotations

import hashlib

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
