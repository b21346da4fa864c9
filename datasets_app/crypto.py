"""Secrets at rest: Fernet encryption (MultiFernet for rotation) and keyed digests for lookup."""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


def _derived_key(purpose: bytes) -> bytes:
    return hashlib.sha256(purpose + settings.SECRET_KEY.encode()).digest()


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if keys:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    return MultiFernet([Fernet(base64.urlsafe_b64encode(_derived_key(b"datasets-dashboard/fernet/")))])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS), settings.SECRET_KEY)


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    return fernet().decrypt(token.encode()).decode()


def secret_digest(secret: str) -> str:
    """HMAC-SHA256 of a secret: the lookup column, so no plaintext comparison or storage."""
    return hmac.new(_derived_key(b"datasets-dashboard/digest/"), secret.encode(), hashlib.sha256).hexdigest()
