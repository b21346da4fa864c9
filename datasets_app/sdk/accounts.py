"""Users and their Ed25519 public keys."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_ssh_public_key,
)
from django.db import IntegrityError, transaction
from django.utils import timezone

from datasets_app import crypto
from datasets_app import models as m

from .exceptions import (
    AuthenticationError,
    AuthorisationError,
    DuplicateSshKeyError,
    InvalidArgumentError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from .policy import Principal
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
        raise ResourceExistsError(f"A user with e-mail {email} already exists.", field="email")
    user = m.User.objects.create_user(email=email, password=password, is_org_admin=org_admin)
    if password is None:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


BEARER_TOKEN_LIFETIME = dt.timedelta(hours=24)
TOKEN_PREFIX_CHARS = 6  # shown on the Account page to tell tokens apart; ~36 of the token's 256 bits
MINT_NEEDS_SIGNATURE = (
    "A bearer token can only be minted by a request signed with your Ed25519 key "
    "(EncordUserClient.create_with_ssh_private_key(...).get_bearer_token()); a bearer token "
    "cannot mint another one. Register or generate a key on the dashboard's Account page."
)


def issue_bearer_token(user: m.User, public_key: m.PublicKey | None = None) -> str:
    """A new bearer token for `user`, valid 24 h; only its keyed digest is stored. One insert.

    For trusted in-process callers (tests, `manage.py shell`); requests reach only
    `mint_bearer_token`, which insists on an Ed25519 signature. Tokens minted by `public_key`
    are deleted with it."""
    if user is None or not user.is_active:
        raise AuthenticationError("This account is not active.")
    token = secrets.token_urlsafe(32)
    m.BearerToken.objects.create(
        user=user,
        public_key=public_key,
        token_digest=crypto.secret_digest(token),
        prefix=token[:TOKEN_PREFIX_CHARS],
        expires_at=timezone.now() + BEARER_TOKEN_LIFETIME,
    )
    return token


def mint_bearer_token(principal: Principal) -> str:
    """A new bearer token for a request signed with one of the user's Ed25519 keys; a request
    that authenticated with a bearer token (or anything else) gets AuthorisationError, so a
    stolen token cannot renew itself. One insert."""
    key = principal.signed_with
    if principal.user is None or key is None or key.user_id != principal.user.pk:
        raise AuthorisationError(MINT_NEEDS_SIGNATURE)
    return issue_bearer_token(principal.user, key)


def refuse_bearer_token(principal: Principal, action: str) -> None:
    """AuthorisationError when a bearer token authenticated `principal`: what outlives the token
    (dataset API keys, their secrets, new tokens) needs a signature or a dashboard session, so
    revoking a stolen token, or its expiry, ends the theft."""
    if principal.by_bearer_token:
        raise AuthorisationError(
            f"{action} needs a request signed with your Ed25519 key (or the dashboard): a bearer "
            "token cannot create or read credentials that would outlive it."
        )


def user_for_bearer_token(token: str) -> m.User:
    """The active user a live bearer token belongs to, else AuthenticationError. One query."""
    if not isinstance(token, str) or not token or len(token) > 200:
        raise AuthenticationError("Missing or malformed bearer token.")
    row = m.BearerToken.objects.select_related("user").filter(token_digest=crypto.secret_digest(token)).first()
    now = timezone.now()
    if row is not None and row.revoked_at is not None:
        raise AuthenticationError(
            "This bearer token was revoked; sign get_bearer_token() with your Ed25519 key for a new one."
        )
    if row is None or row.expires_at <= now or not row.user.is_active:
        raise AuthenticationError("Unknown or expired bearer token: get a new one with get_bearer_token().")
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        m.BearerToken.objects.filter(pk=row.pk).update(last_used_at=now)
    return row.user


def live_bearer_tokens(user: m.User) -> list[m.BearerToken]:
    """`user`'s tokens that still work (neither revoked nor expired), newest first, each with the
    key that minted it. One query; never the secret (only its digest and prefix are stored)."""
    return list(
        m.BearerToken.objects.filter(user=user, revoked_at__isnull=True, expires_at__gt=timezone.now())
        .select_related("public_key")
        .order_by("-created_at", "-id")
    )


def revoke_bearer_token(user: m.User, token_id: int) -> m.BearerToken:
    """Revokes one of `user`'s live tokens (ResourceNotFoundError for anyone else's or a dead one)."""
    row = next((t for t in live_bearer_tokens(user) if t.pk == token_id), None)
    if row is None:
        raise ResourceNotFoundError("No such bearer token, or it has already expired or been revoked.")
    m.BearerToken.objects.filter(pk=row.pk).update(revoked_at=timezone.now())
    return row


def revoke_bearer_tokens(user: m.User) -> int:
    """Revokes every token of `user`; how many were live. One update."""
    return m.BearerToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())


def user_by_email(email: str) -> m.User:
    """The user with this e-mail (any case), else ResourceNotFoundError naming it."""
    user = m.User.objects.filter(email__iexact=(email or "").strip()).first()
    if user is None:
        raise ResourceNotFoundError(f"No user has the e-mail {email!r}.", field="email")
    return user


def deactivate_user(user: m.User) -> None:
    """The account stops working everywhere: sign-in, signatures, and its bearer tokens, which
    stay revoked if the account is activated again (`revoke_tokens_of_inactive_user` does that
    for any save of an inactive user, e.g. from `manage.py shell`)."""
    user.is_active = False
    user.save(update_fields=["is_active"])


def revoke_tokens_of_inactive_user(sender, instance: m.User, **kwargs) -> None:
    """post_save receiver for the user model (connected in apps.py)."""
    if not instance.is_active:
        revoke_bearer_tokens(instance)
