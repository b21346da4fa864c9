"""Who is asking: Ed25519 request signatures (v1 body digest, v2 `encord-sig`), bearer tokens and
dataset API keys, each resolved to a `Principal` (protocol §3, Appendix A.3).

Every check reads the raw body bytes as received; nothing is re-serialised before verification.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest

from datasets_app.sdk import accounts
from datasets_app.sdk.dataset import authenticate_api_key
from datasets_app.sdk.exceptions import (
    AuthenticationError,
    InvalidArgumentError,
    PayloadTooLargeError,
    RateLimitExceededError,
)
from datasets_app.sdk.policy import Principal, parse_hash, require_key_dataset

V1_SIGNATURE = re.compile(r"^([0-9a-fA-F]{64}):([0-9a-fA-F]{128})$")
V2_COVERED = '("@method" "@request-target" "content-digest")'
V2_PREFIX = "encord-sig="
HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass(frozen=True)
class Credentials:
    """The parsed `Authorization` header: one of the three schemes (A.3: told apart by shape)."""

    scheme: str  # "ed25519" | "bearer" | "api_key"
    key_hex: str = ""
    signature: bytes = b""
    secret: str = ""


def read_body(request: HttpRequest) -> bytes:
    """The raw request body, refusing anything over settings.API_MAX_BODY_BYTES before reading it."""
    limit = settings.API_MAX_BODY_BYTES
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise PayloadTooLargeError(f"The request body is {length} bytes; the limit is {limit} bytes.")
    try:
        return request.body
    except RequestDataTooBig:
        raise PayloadTooLargeError(f"The request body is over the limit of {limit} bytes.") from None


def parse_authorization(header: str) -> Credentials:
    header = (header or "").strip()
    if not header:
        raise AuthenticationError(
            "Missing Authorization header: sign requests with your SSH key (EncordUserClient."
            "create_with_ssh_private_key) or pass a bearer token or dataset API key."
        )
    if header[:7].lower() == "bearer ":
        return Credentials(scheme="bearer", secret=header[7:].strip())
    if match := V1_SIGNATURE.match(header):
        return Credentials(scheme="ed25519", key_hex=match[1].lower(), signature=bytes.fromhex(match[2]))
    return Credentials(scheme="api_key", secret=header)


@lru_cache(maxsize=1024)
def _public_key(key_hex: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(key_hex))


def verify_ed25519(key_hex: str, signature: bytes, message: bytes) -> bool:
    """True when `signature` is `key_hex`'s Ed25519 signature over `message`."""
    try:
        _public_key(key_hex.lower()).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _user_principal(key_hex: str) -> Principal:
    user, key = accounts.user_for_public_key(key_hex)
    return Principal(user=user, signed_with=key)


def _bearer_principal(token: str) -> Principal:
    return Principal(user=accounts.user_for_bearer_token(token), by_bearer_token=True)


def authenticate_v1(request: HttpRequest, body: bytes, *, endpoint: str) -> Principal:
    """The principal of a v1 call (§3.2, A.3); AuthenticationError / AuthorisationError otherwise.

    `endpoint` is "public" (dataset calls: SSH signature, bearer token or dataset API key) or
    "user" (user-level calls: SSH signature or bearer token only).
    """
    creds = parse_authorization(request.META.get("HTTP_AUTHORIZATION", ""))
    if creds.scheme == "ed25519":
        # The signature covers the 32-byte SHA-256 digest of the raw body, not the body itself.
        if not verify_ed25519(creds.key_hex, creds.signature, hashlib.sha256(body).digest()):
            raise AuthenticationError(
                "The request signature does not verify: sign the SHA-256 digest of the exact body "
                "bytes with the Ed25519 key registered in your account."
            )
        return _user_principal(creds.key_hex)
    if creds.scheme == "bearer":
        return _bearer_principal(creds.secret)
    if endpoint != "public":
        raise AuthenticationError(
            "Dataset API keys only work on dataset requests (POST /public); sign user-level calls "
            "with your SSH key."
        )
    key = authenticate_api_key(creds.secret)
    # A.3: the key names its dataset; ResourceID must name the same one (compared as UUIDs).
    resource_id = request.META.get("HTTP_RESOURCEID", "").strip()
    try:
        asked = parse_hash(resource_id, "ResourceID") if resource_id else None
    except InvalidArgumentError:
        asked = None
    require_key_dataset(key, asked, hint=": send the key's own dataset hash as ResourceID")
    return Principal(api_key=key)


def _b64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def _v2_params(signature_input: str) -> tuple[str, int, str]:
    """(the @signature-params string, created, keyid) of an `encord-sig` Signature-Input."""
    if not signature_input.startswith(V2_PREFIX):
        raise AuthenticationError("Signature-Input must be labelled encord-sig.")
    params = signature_input[len(V2_PREFIX) :]
    if not params.startswith(V2_COVERED + ";"):
        raise AuthenticationError(
            'Signature-Input must cover exactly ("@method" "@request-target" "content-digest").'
        )
    values: dict[str, str] = {}
    for item in params[len(V2_COVERED) + 1 :].split(";"):
        name, sep, value = item.partition("=")
        if not sep or name in values:
            raise AuthenticationError("Signature-Input has a malformed or repeated parameter.")
        values[name] = value
    if set(values) != {"created", "keyid", "alg"}:
        raise AuthenticationError("Signature-Input needs exactly the parameters created, keyid and alg.")
    if values["alg"] != '"ed25519"':
        raise AuthenticationError('Signature-Input alg must be "ed25519".')
    keyid = values["keyid"]
    if not (len(keyid) == 66 and keyid[0] == keyid[-1] == '"' and HEX64.match(keyid[1:-1])):
        raise AuthenticationError("Signature-Input keyid must be the 64-hex Ed25519 public key in quotes.")
    if not values["created"].isdigit() or len(values["created"]) > 12:
        raise AuthenticationError("Signature-Input created must be a Unix timestamp in seconds.")
    return params, int(values["created"]), keyid[1:-1].lower()


def request_target(request: HttpRequest) -> str:
    """Path and query exactly as on the request line where the server exposes it (§11)."""
    raw = request.META.get("RAW_URI") or request.META.get("REQUEST_URI")
    if raw and raw.startswith("/"):
        return raw
    return request.get_full_path()


def authenticate_v2(request: HttpRequest, body: bytes, *, now: float | None = None) -> Principal:
    """The principal of a v2 request: a bearer token or an `encord-sig` signature (§3.3)."""
    header = request.META.get("HTTP_AUTHORIZATION", "").strip()
    if header[:7].lower() == "bearer ":
        return _bearer_principal(header[7:].strip())
    digest_header = request.META.get("HTTP_CONTENT_DIGEST")
    signature_input = request.META.get("HTTP_SIGNATURE_INPUT")
    signature_header = request.META.get("HTTP_SIGNATURE")
    if not (digest_header and signature_input and signature_header):
        raise AuthenticationError(
            "Missing Content-Digest, Signature-Input or Signature header: sign the request with your "
            "SSH key (EncordUserClient.create_with_ssh_private_key) or send a bearer token."
        )
    params, created, key_hex = _v2_params(signature_input)
    expected_digest = "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
    if digest_header != expected_digest:
        raise AuthenticationError("Content-Digest does not match the request body.")
    now = time.time() if now is None else now
    if now - created > settings.API_SIGNATURE_MAX_AGE_SECONDS:
        raise AuthenticationError(
            f"The signature was created {int(now - created)} s ago; requests older than "
            f"{settings.API_SIGNATURE_MAX_AGE_SECONDS} s are refused. Check your clock."
        )
    if created - now > settings.API_SIGNATURE_MAX_SKEW_SECONDS:
        raise AuthenticationError(
            f"The signature is dated {int(created - now)} s in the future; check your clock."
        )
    if not (signature_header.startswith("encord-sig=:") and signature_header.endswith(":")):
        raise AuthenticationError("Signature must be encord-sig=:<base64>:.")
    try:
        signature = _b64(signature_header[len("encord-sig=:") : -1])
    except (binascii.Error, ValueError):
        raise AuthenticationError("Signature is not valid base64.") from None
    base = "\n".join(
        [
            f'"@method": {request.method.upper()}',
            f'"@request-target": {request_target(request)}',
            f'"content-digest": {digest_header}',
            f'"@signature-params": {params}',
        ]
    ).encode()
    if len(signature) != 64 or not verify_ed25519(key_hex, signature, base):
        raise AuthenticationError("The request signature does not verify for this method, target and body.")
    return _user_principal(key_hex)


def identity_of(principal: Principal) -> str:
    return f"key:{principal.api_key.pk}" if principal.is_key else f"user:{principal.user.pk}"


def throttle(principal: Principal, *, now: float | None = None) -> None:
    """RateLimitExceededError (with retry_after) once an identity passes API_RATE_LIMIT_PER_MINUTE.

    A fixed one-minute window counted in Django's cache (Redis in production: `add`/`incr` are
    atomic there). Written here rather than with django-ratelimit because the identity is only
    known after the signature check inside the view, and this is all the limiter we need.
    """
    limit = settings.API_RATE_LIMIT_PER_MINUTE
    if limit <= 0:
        return
    now = time.time() if now is None else now
    window = int(now // 60)
    key = f"api-rate:{identity_of(principal)}:{window}"
    if cache.add(key, 1, timeout=90):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=90)
            count = 1
    if count > limit:
        retry_after = max(1, 60 - int(now) % 60)
        raise RateLimitExceededError(
            f"More than {limit} requests a minute from this identity; retry in {retry_after} s.",
            retry_after=retry_after,
        )
