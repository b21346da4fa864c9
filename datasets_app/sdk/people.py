"""The organisation's people: list, invite, deactivate, make org admin, reset links, own password.

Everything but the one-time links' own pages needs Op.MANAGE_USERS (organisation admins).

An invitation is an account that cannot be used yet: inactive, with an unusable password whose
text begins with INVITED_PREFIX (so a pending invitation is told apart from an account that was
deactivated), and `date_joined` set when its current link was made. Its link is a token signed
with SECRET_KEY (Django's TimestampSigner) naming the account and a digest of the account's
sign-in state (password hash, active flag, last sign-in): accepting sets a password, which changes
that state, so the link works once; making a new link changes the unusable password, so the older
link stops working; revoking deletes the pending account (and the dataset memberships made for
it); the signer's timestamp gives the expiry (settings.INVITATION_EXPIRY_SECONDS). Nothing about
the token is stored. Password reset links are Django's PasswordResetTokenGenerator tokens (one-time
by design: they too hash the password and last sign-in; PASSWORD_RESET_TIMEOUT).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import get_random_string, salted_hmac

from datasets_app import models as m

from . import accounts, orm
from .dataset import Dataset
from .exceptions import InvalidArgumentError, ResourceExistsError, ResourceNotFoundError
from .policy import Op, Principal, may, parse_hash, require_org

logger = logging.getLogger(__name__)

INVITED_PREFIX = UNUSABLE_PASSWORD_PREFIX + "invited$"
INVITATION_SALT = "datasets_app.people.invitation"
REFUSAL = "Only organisation admins manage users."

InviteLinkFor = Callable[[str], str]  # token -> absolute URL of the accept page
ResetLinkFor = Callable[[str, str], str]  # (user_hash, token) -> absolute URL of the reset page


class LinkNotValid(InvalidArgumentError):
    """An invitation or reset link that cannot be used; `reason` says why: malformed, expired,
    used, replaced or revoked (reset links: "not valid", they cannot tell which)."""

    code = "LINK_NOT_VALID"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, reason=reason)
        self.reason = reason


@dataclass(frozen=True)
class Person:
    user_hash: str
    email: str
    name: str
    is_org_admin: bool
    is_active: bool
    last_login: dt.datetime | None
    invited: bool
    invitation_expires_at: dt.datetime | None
    is_me: bool

    @property
    def invitation_expired(self) -> bool:
        return self.invitation_expires_at is not None and self.invitation_expires_at <= timezone.now()


@dataclass(frozen=True)
class OneTimeLink:
    """A link shown once (and e-mailed when SMTP is configured); never stored."""

    kind: str  # "invitation" or "reset"
    email: str
    url: str
    expires_at: dt.datetime
    emailed: bool
    email_error: str = ""


def is_invitation(user: m.User) -> bool:
    """Whether `user` is a pending invitation (no query)."""
    return not user.is_active and (user.password or "").startswith(INVITED_PREFIX)


def invitation_expiry(user: m.User) -> dt.datetime:
    return user.date_joined + dt.timedelta(seconds=settings.INVITATION_EXPIRY_SECONDS)


def list_people(principal: Principal) -> list[Person]:
    """Every account, organisation admins first, then by e-mail. One query."""
    require_org(principal, Op.MANAGE_USERS, REFUSAL)
    rows = m.User.objects.order_by("-is_org_admin", "email").only(
        "user_hash",
        "email",
        "first_name",
        "last_name",
        "is_org_admin",
        "is_active",
        "last_login",
        "password",
        "date_joined",
    )
    return [
        Person(
            user_hash=str(u.user_hash),
            email=u.email,
            name=u.get_full_name(),
            is_org_admin=u.is_org_admin,
            is_active=u.is_active,
            last_login=u.last_login,
            invited=is_invitation(u),
            invitation_expires_at=invitation_expiry(u) if is_invitation(u) else None,
            is_me=u.pk == principal.user.pk,
        )
        for u in rows
    ]


def user_by_hash(principal: Principal, user_hash: object) -> m.User:
    """The account named by `user_hash`, for an organisation admin; else the typed error."""
    require_org(principal, Op.MANAGE_USERS, REFUSAL)
    user = m.User.objects.filter(user_hash=parse_hash(user_hash, "user_hash")).first()
    if user is None:
        raise ResourceNotFoundError("No such user.", user_hash=str(user_hash))
    return user


# ---- invitations -----------------------------------------------------------------------------------


def invite_user(
    principal: Principal, email: str, *, link_for: InviteLinkFor, name: str = "", org_admin: bool = False
) -> OneTimeLink:
    """A pending account for `email` and its one-time link (a new link if one is pending already);
    ResourceExistsError if the address has an account."""
    require_org(principal, Op.MANAGE_USERS, REFUSAL)
    existing = m.User.objects.filter(email__iexact=(email or "").strip()).first()
    if existing is not None:
        if not is_invitation(existing):
            raise ResourceExistsError(f"{existing.email} already has an account.", field="email")
        return renew_invitation(principal, str(existing.user_hash), link_for=link_for)
    with transaction.atomic():
        user = accounts.create_user(email, org_admin=org_admin)
        user.first_name = (name or "").strip()[:150]
        user.is_active = False
        user.password = INVITED_PREFIX + get_random_string(40)
        user.save(update_fields=["first_name", "is_active", "password"])
    return _invitation_link(user, link_for)


def renew_invitation(principal: Principal, user_hash: object, *, link_for: InviteLinkFor) -> OneTimeLink:
    """A new link for a pending invitation; the earlier link stops working."""
    user = user_by_hash(principal, user_hash)
    if not is_invitation(user):
        raise InvalidArgumentError(f"{user.email} has no pending invitation.")
    user.password = INVITED_PREFIX + get_random_string(40)
    user.date_joined = timezone.now()
    user.save(update_fields=["password", "date_joined"])
    return _invitation_link(user, link_for)


def revoke_invitation(principal: Principal, user_hash: object) -> str:
    """Deletes a pending invitation's account (and the memberships made for it); its e-mail."""
    user = user_by_hash(principal, user_hash)
    if not is_invitation(user):
        raise InvalidArgumentError(f"{user.email} has no pending invitation: deactivate the account instead.")
    user.delete()
    return user.email


def _invitation_link(user: m.User, link_for: InviteLinkFor) -> OneTimeLink:
    token = signing.TimestampSigner(salt=INVITATION_SALT).sign(f"{user.user_hash.hex}.{_state(user)}")
    url = link_for(token)
    body = (
        f"You have been invited to the Datasets Dashboard as {user.email}.\n\n"
        f"Open this link to choose a password and sign in (it works once, until "
        f"{invitation_expiry(user):%Y-%m-%d %H:%M} UTC):\n\n{url}\n"
    )
    emailed, error = _send(user.email, "Your invitation to the Datasets Dashboard", body)
    return OneTimeLink("invitation", user.email, url, invitation_expiry(user), emailed, error)


def _state(user: m.User) -> str:
    """A digest of what signing in changes: the password, the active flag, the last sign-in."""
    login = user.last_login.replace(microsecond=0, tzinfo=None) if user.last_login else ""
    value = f"{user.pk}|{user.password}|{user.is_active}|{login}"
    return salted_hmac(INVITATION_SALT, value, algorithm="sha256").hexdigest()[:32]


def invitation_user(token: str) -> m.User:
    """The pending account an invitation token names, else LinkNotValid with the reason."""
    if not isinstance(token, str) or not token or len(token) > 300:
        raise LinkNotValid("malformed", "This is not an invitation link: check that it was copied whole.")
    signer = signing.TimestampSigner(salt=INVITATION_SALT)
    try:
        value = signer.unsign(token, max_age=dt.timedelta(seconds=settings.INVITATION_EXPIRY_SECONDS))
    except signing.SignatureExpired:
        raise LinkNotValid(
            "expired", "This invitation has expired. Ask an organisation admin for a new link."
        ) from None
    except signing.BadSignature:
        raise LinkNotValid(
            "malformed", "This is not an invitation link: check that it was copied whole."
        ) from None
    hash_hex, _, state = value.partition(".")
    user = m.User.objects.filter(user_hash=parse_hash(hash_hex, "user_hash")).first()
    if user is None:
        raise LinkNotValid("revoked", "This invitation was revoked. Ask an organisation admin for a new one.")
    if state != _state(user):
        if is_invitation(user):
            raise LinkNotValid(
                "replaced", "A newer link replaced this invitation: use the latest one you were sent."
            )
        raise LinkNotValid(
            "used", "This invitation has already been used. Sign in with your e-mail and password."
        )
    return user


def accept_invitation(token: str, password: str) -> m.User:
    """Activates the invited account with `password` (Django's validators); the link then stops
    working. The account is re-read under a row lock so two submissions cannot both succeed."""
    with transaction.atomic():
        user = invitation_user(token)
        user = m.User.objects.select_for_update().get(pk=user.pk)
        invitation_user(token)
        _check_password_rules(password, user)
        user.set_password(password)
        user.is_active = True
        user.save(update_fields=["password", "is_active"])
    return user


# ---- members by e-mail -------------------------------------------------------------------------------


def add_member(
    dataset: Dataset, email: str, role: orm.DatasetUserRole, *, link_for: InviteLinkFor
) -> tuple[orm.DatasetUser, OneTimeLink | None]:
    """Adds a dataset member by e-mail. For an organisation admin, an address with no account is
    invited first: the membership, with its role, is made at once on the pending account and takes
    effect when the invitation is accepted. Anyone else gets Dataset.add_users' answer, which does
    not say whether an account exists."""
    link = None
    known = m.User.objects.filter(email__iexact=(email or "").strip())
    if may(dataset.principal, Op.MANAGE_USERS) and dataset.can(Op.MANAGE) and not known.exists():
        link = invite_user(dataset.principal, email, link_for=link_for)
    return dataset.add_users([email], role)[0], link


# ---- active, org admin -----------------------------------------------------------------------------


def set_user_active(principal: Principal, user_hash: object, *, active: bool) -> m.User:
    """Deactivates (sign-in, signatures and bearer tokens stop working: accounts.deactivate_user)
    or reactivates an account. Refuses yourself and the last active organisation admin."""
    user = user_by_hash(principal, user_hash)
    if is_invitation(user):
        raise InvalidArgumentError(f"{user.email} has a pending invitation: revoke it or make a new link.")
    if active:
        user.is_active = True
        user.save(update_fields=["is_active"])
        return user
    if user.pk == principal.user.pk:
        raise InvalidArgumentError("You cannot deactivate yourself: ask another organisation admin.")
    with transaction.atomic():
        _keep_an_org_admin(user)
        accounts.deactivate_user(user)
    return user


def set_org_admin(principal: Principal, user_hash: object, *, admin: bool) -> m.User:
    """Makes or unmakes an organisation admin; the last active one stays."""
    user = user_by_hash(principal, user_hash)
    with transaction.atomic():
        if not admin:
            _keep_an_org_admin(user)
        user.is_org_admin = admin
        user.save(update_fields=["is_org_admin"])
    return user


def _keep_an_org_admin(leaving: m.User) -> None:
    """InvalidArgumentError if `leaving` is the last active organisation admin. Locks the active
    admins' rows, so two admins demoting each other at once cannot both succeed."""
    admins = list(
        m.User.objects.select_for_update()
        .filter(is_active=True, is_org_admin=True)
        .values_list("pk", flat=True)
    )
    if admins == [leaving.pk]:
        raise InvalidArgumentError(
            f"{leaving.email} is the last active organisation admin: make someone else an organisation admin first."
        )


# ---- passwords ---------------------------------------------------------------------------------------


def password_reset_link(principal: Principal, user_hash: object, *, link_for: ResetLinkFor) -> OneTimeLink:
    """A one-time link that lets an active account choose a new password."""
    user = user_by_hash(principal, user_hash)
    if is_invitation(user):
        raise InvalidArgumentError(
            f"{user.email} has a pending invitation: make a new invitation link instead."
        )
    if not user.is_active:
        raise InvalidArgumentError(f"{user.email} is deactivated: reactivate the account first.")
    url = link_for(str(user.user_hash), default_token_generator.make_token(user))
    expires = timezone.now() + dt.timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT)
    body = (
        f"An organisation admin made a link for you to choose a new password for {user.email} on the "
        f"Datasets Dashboard. It works once, until {expires:%Y-%m-%d %H:%M} UTC:\n\n{url}\n"
    )
    emailed, error = _send(user.email, "Choose a new password for the Datasets Dashboard", body)
    return OneTimeLink("reset", user.email, url, expires, emailed, error)


def reset_link_user(user_hash: object, token: str) -> m.User:
    """The active account a reset link is for, else LinkNotValid."""
    try:
        parsed = parse_hash(user_hash, "user_hash")
    except InvalidArgumentError:
        parsed = None
    user = m.User.objects.filter(user_hash=parsed, is_active=True).first() if parsed else None
    if user is None or not isinstance(token, str) or not default_token_generator.check_token(user, token):
        raise LinkNotValid(
            "not valid",
            "This password link no longer works: it was used, it expired, or a newer one was made. "
            "Ask an organisation admin for a new one.",
        )
    return user


def reset_password(user_hash: object, token: str, password: str) -> m.User:
    """Sets the password a reset link is for; the link then stops working (row lock as above)."""
    with transaction.atomic():
        user = m.User.objects.select_for_update().get(pk=reset_link_user(user_hash, token).pk)
        reset_link_user(user_hash, token)
        _check_password_rules(password, user)
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


def change_password(user: m.User, current: str, new: str) -> m.User:
    """The signed-in user's own password; `current` must be right. Other sessions end because the
    session hash changes (the caller keeps its own with update_session_auth_hash)."""
    if not user.check_password(current or ""):
        raise InvalidArgumentError("Your current password is not right.", field="old_password")
    _check_password_rules(new, user)
    user.set_password(new)
    user.save(update_fields=["password"])
    return user


def _check_password_rules(password: str, user: m.User) -> None:
    try:
        validate_password(password or "", user)
    except ValidationError as error:
        raise InvalidArgumentError(" ".join(error.messages), field="new_password1") from None


def _send(to: str, subject: str, body: str) -> tuple[bool, str]:
    """(sent, error) — sent only when an SMTP server is configured (settings.EMAIL_HOST); a failure
    is reported to the admin, who still has the link on the page."""
    if not settings.EMAIL_HOST:
        return False, ""
    try:
        send_mail(subject, body, None, [to])
    except Exception as error:  # noqa: BLE001  (SMTP, DNS, TLS: any failure leaves the link on the page)
        logger.warning("could not e-mail %s: %s", to, error)
        return False, f"The e-mail could not be sent ({type(error).__name__}); copy the link instead."
    return True, ""
