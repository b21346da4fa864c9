"""Time-limited HMAC signatures for URLs we hand out (uploads, downloads).

`sign(purpose, *parts, expires)` binds a purpose ("upload", "download") and the values that must not
change (an item id, a storage key) to an expiry; `verify` checks all of it in constant time."""

from __future__ import annotations

import hashlib
import hmac
import time

from django.conf import settings


def _key(purpose: str) -> bytes:
    return hashlib.sha256(f"datasets-dashboard/url/{purpose}/".encode() + settings.SECRET_KEY.encode()).digest()


def sign(purpose: str, *parts: str, expires: int) -> str:
    message = "\n".join([purpose, *map(str, parts), str(int(expires))]).encode()
    return hmac.new(_key(purpose), message, hashlib.sha256).hexdigest()


def expiry(lifetime_seconds: int) -> int:
    return int(time.time()) + int(lifetime_seconds)


def verify(purpose: str, *parts: str, expires: str | int, signature: str) -> bool:
    """True when the signature matches and `expires` (unix seconds) is still in the future."""
    try:
        expires_at = int(expires)
    except (TypeError, ValueError):
        return False
    if expires_at < time.time():
        return False
    expected = sign(purpose, *parts, expires=expires_at)
    return hmac.compare_digest(expected, str(signature or ""))
