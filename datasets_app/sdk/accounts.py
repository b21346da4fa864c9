"""Users and their Ed25519 public keys."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_ssh_public_key
from django.db import IntegrityError, transaction
from django.utils import timezone

from datasets_app import models as m

from .exceptions import AuthenticationError, DuplicateSshKeyError, InvalidArgumentError, ResourceNotFoundError
from .validation import clean_title


def parse_openssh_ed25519(line: str) -> tuple[str, str, str]:
    """(normalised OpenSSH line, raw key hex, SHA256 fingerprint); InvalidArgumentError otherwise."""
    if not isinstance(line, str) or not line.strip():
        raise InvalidArgumentError("Paste a public key line such as 'ssh-ed25519 AAAA... comment'.", field="public_key")
    text = line.strip()
    if len(text) > 4096 or "\n" in text:
        raise InvalidArgumentError("A public key is one line.", field="public_key")
    if not text.startswith("ssh-ed25519 "):
        raise InvalidArgumentError(
            "Only Ed25519 keys are supported: the line must start with 'ssh-ed25519'.", field="public_key"
        )
    try:
        key = load_ssh_public_key(text.encode())
    except (ValueError, TypeError):
        raise InvalidArgumentError("This is not a valid OpenSSH Ed25519 public key.", field="public_key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidArgumentError("Only Ed25519 keys are supported.", field="public_key")
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    blob = base64.b64decode(text.split()[1])
    fingerprint = "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return " ".join(text.split()[:3]), raw.hex(), fingerprint


def add_public_key(user: m.User, openssh_line: str, title: str = "") -> m.PublicKey:
    line, key_hex, fingerprint = parse_openssh_ed25519(openssh_line)
    name = clean_title(title, "key title") if title and title.strip() else (line.split(" ", 2)[2:] or [""])[0][:200]
    try:
        with transaction.atomic():
            return m.PublicKey.objects.create(
                user=user, openssh=line, key_hex=key_hex, fingerprint=fingerprint, title=name
            )
    except IntegrityError:
        raise DuplicateSshKeyError("This public key is already registered.", field="public_key") from None


def generate_key_pair(user: m.User, title: str = "") -> tuple[str, m.PublicKey]:
    """A new Ed25519 key pair: its public half registered for `user`, its private half returned
    (OpenSSH PEM, unencrypted) and never stored here. One insert."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()).decode()
    public_line = private.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    name = title.strip() if isinstance(title, str) and title.strip() else f"generated {timezone.now():%Y-%m-%d %H:%M}"
    return private_pem, add_public_key(user, f"{public_line} {user.email}", name)


def list_public_keys(user: m.User) -> list[m.PublicKey]:
    return list(user.public_keys.all())


def delete_public_key(user: m.User, key_id: int) -> None:
    deleted, _ = m.PublicKey.objects.filter(user=user, pk=key_id).delete()
    if not deleted:
        raise ResourceNotFoundError("Public key not found.")


def user_for_public_key(key_hex: str) -> tuple[m.User, m.PublicKey]:
    """The active user owning a raw Ed25519 key (hex), else AuthenticationError. One query."""
    pk = m.PublicKey.objects.select_related("user").filter(key_hex=key_hex.lower()).first()
    if pk is None or not pk.user.is_active:
        raise AuthenticationError("No user has this public key: register it in the dashboard (Account page).")
    now = timezone.now()
    if pk.last_used_at is None or (now - pk.last_used_at).total_seconds() > 60:
        m.PublicKey.objects.filter(pk=pk.pk).update(last_used_at=now)
    return pk.user, pk


def create_user(email: str, password: str | None = None, *, org_admin: bool = False) -> m.User:
    email = (email or "").strip()
    if "@" not in email or len(email) > 254:
        raise InvalidArgumentError(f"{email!r} is not an e-mail address.", field="email")
    if m.User.objects.filter(email__iexact=email).exists():
        from .exceptions import ResourceExistsError

        raise ResourceExistsError(f"A user with e-mail {email} already exists.", field="email")
    user = m.User.objects.create_user(email=email, password=password, is_org_admin=org_admin)
    if password is None:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


BEARER_TOKEN_LIFETIME = dt.timedelta(hours=24)


def issue_bearer_token(user: m.User) -> str:
    """A new bearer token for `user`, valid 24 h; only its keyed digest is stored. One insert."""
    import secrets

    from datasets_app import crypto

    if user is None or not user.is_active:
        raise AuthenticationError("This account is not active.")
    token = secrets.token_urlsafe(32)
    m.BearerToken.objects.create(
        user=user, token_digest=crypto.secret_digest(token), expires_at=timezone.now() + BEARER_TOKEN_LIFETIME
    )
    return token


def user_for_bearer_token(token: str) -> m.User:
    """The active user a live bearer token belongs to, else AuthenticationError. One query."""
    from datasets_app import crypto

    if not isinstance(token, str) or not token or len(token) > 200:
        raise AuthenticationError("Missing or malformed bearer token.")
    row = m.BearerToken.objects.select_related("user").filter(token_digest=crypto.secret_digest(token)).first()
    now = timezone.now()
    if row is None or row.expires_at <= now or not row.user.is_active:
        raise AuthenticationError("Unknown or expired bearer token: get a new one with get_bearer_token().")
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        m.BearerToken.objects.filter(pk=row.pk).update(last_used_at=now)
    return row.user
