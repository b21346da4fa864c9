"""Who may do what: one declared table and one `require()`; nothing else checks a role.

A principal is either a signed-in/signing user or a dataset API key. Its *grants* on a dataset
come from the organisation-admin flag, its membership role, or the key's scopes. Someone with no
grant on a dataset gets ResourceNotFoundError, word for word what a missing dataset gives.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import Enum

from django.db.models import OuterRef, QuerySet, Subquery

from datasets_app import models as m

from .exceptions import AuthorisationError, InvalidArgumentError, OperationNotAllowed, ResourceNotFoundError


class Grant(str, Enum):
    ORG_ADMIN = "org admin"
    DS_ADMIN = "dataset ADMIN"
    DS_USER = "dataset USER"
    READ_KEY = "READ key"
    WRITE_KEY = "WRITE key"


class Op(str, Enum):
    READ = "open dataset, read data rows, task status"
    WRITE_DATA = "add data, update data rows, request re-encode"
    DELETE_DATA = "delete data"
    MANAGE = "rename/delete dataset, manage keys and members"
    USE_INTEGRATION = "list cloud integrations and import private data through them"


POLICY: dict[Op, frozenset[Grant]] = {
    Op.READ: frozenset({Grant.ORG_ADMIN, Grant.DS_ADMIN, Grant.DS_USER, Grant.READ_KEY}),
    Op.WRITE_DATA: frozenset({Grant.ORG_ADMIN, Grant.DS_ADMIN, Grant.DS_USER, Grant.WRITE_KEY}),
    Op.DELETE_DATA: frozenset({Grant.ORG_ADMIN, Grant.DS_ADMIN, Grant.WRITE_KEY}),
    Op.MANAGE: frozenset({Grant.ORG_ADMIN, Grant.DS_ADMIN}),
    # A READ key has no business with integrations: only the WRITE scope may list or use them.
    # Which integrations: usable_integrations() below.
    Op.USE_INTEGRATION: frozenset({Grant.ORG_ADMIN, Grant.DS_ADMIN, Grant.DS_USER, Grant.WRITE_KEY}),
}


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user, or a dataset API key (never both). `signed_with` is the user's
    Ed25519 key when this request was signed with it (None for bearer tokens and sessions);
    `by_bearer_token` is true when a bearer token authenticated it."""

    user: m.User | None = None
    api_key: m.DatasetAPIKey | None = None
    signed_with: m.PublicKey | None = None
    by_bearer_token: bool = False

    def __post_init__(self) -> None:
        if (self.user is None) == (self.api_key is None):
            raise ValueError("a principal is exactly one of a user or an API key")

    @property
    def is_key(self) -> bool:
        return self.api_key is not None

    def __str__(self) -> str:
        return f"key {self.api_key.key_hash}" if self.api_key else str(self.user)


def parse_hash(value: object, what: str = "hash") -> uuid.UUID:
    """A UUID from a string in any case; InvalidArgumentError names the bad value."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{what} must be a UUID string, not {type(value).__name__}.", field=what)
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise InvalidArgumentError(f"{what} {shown!r} is not a valid UUID.", field=what) from None


def not_found(dataset_hash: object) -> ResourceNotFoundError:
    return ResourceNotFoundError(f"Dataset {dataset_hash} not found.", dataset_hash=str(dataset_hash))


def grants_of(principal: Principal, dataset: m.Dataset, role: int | None) -> frozenset[Grant]:
    """The grants a principal holds on a dataset, given its membership role (None: no membership)."""
    if principal.api_key is not None:
        key = principal.api_key
        if key.dataset_id != dataset.pk:
            return frozenset()
        held = set()
        if key.can_read:
            held.add(Grant.READ_KEY)
        if key.can_write:
            held.add(Grant.WRITE_KEY)
        return frozenset(held)
    held = set()
    if principal.user.is_org_admin:
        held.add(Grant.ORG_ADMIN)
    if role == m.DatasetUserRole.ADMIN:
        held.add(Grant.DS_ADMIN)
    elif role == m.DatasetUserRole.USER:
        held.add(Grant.DS_USER)
    return frozenset(held)


def usable_integrations(principal: Principal, *, include_org_access: bool = False) -> QuerySet[m.CloudIntegration]:
    """The cloud integrations `principal` may list and import through (the one rule for them).

    A user: those they own; with `include_org_access`, an organisation admin: all of them.
    A dataset API key reaches no further than its dataset may: only the integrations owned by the
    user who created the key (never widened by that user's organisation-admin flag), only with
    USE_INTEGRATION on the key's dataset (the WRITE scope), and only while that user is active and
    may still USE_INTEGRATION on that dataset themselves (member, or organisation admin). That is
    re-checked here, at every use (one query); otherwise none, so a refused key is told exactly
    what a missing integration gives."""
    integrations = m.CloudIntegration.objects.all()
    if principal.api_key is None:
        user = principal.user
        if include_org_access and user.is_org_admin:
            return integrations
        return integrations.filter(owner=user)
    key = principal.api_key
    if not allowed(Op.USE_INTEGRATION, grants_of(principal, key.dataset, None)):
        return integrations.none()
    memberships = m.DatasetMembership.objects.filter(dataset_id=key.dataset_id, user=OuterRef("pk"))
    creator = (
        m.User.objects.filter(pk=key.created_by_id, is_active=True)
        .annotate(my_role=Subquery(memberships.values("role")[:1]))
        .first()
    )
    if creator is None or not allowed(
        Op.USE_INTEGRATION, grants_of(Principal(user=creator), key.dataset, creator.my_role)
    ):
        return integrations.none()
    return integrations.filter(owner=creator)


def allowed(op: Op, grants: frozenset[Grant]) -> bool:
    return bool(POLICY[op] & grants)


def role_subquery(user: m.User) -> Subquery:
    return Subquery(
        m.DatasetMembership.objects.filter(dataset=OuterRef("pk"), user=user).values("role")[:1]
    )


def require(principal: Principal, dataset_hash: object, op: Op) -> m.Dataset:
    """The dataset if `principal` may do `op` on it (one query), else the typed error.

    No grant at all (or no such dataset): ResourceNotFoundError. A grant, but not this one:
    OperationNotAllowed for API keys, AuthorisationError for users.
    """
    ds_uuid = parse_hash(dataset_hash, "dataset_hash")
    if principal.api_key is not None:
        key = principal.api_key
        # The key names its own dataset; asking for another one is refused without looking it up.
        if key.dataset.dataset_hash != ds_uuid:
            raise AuthorisationError("This API key belongs to another dataset.")
        dataset, role = key.dataset, None
    else:
        row = (
            m.Dataset.objects.filter(dataset_hash=ds_uuid)
            .annotate(my_role=role_subquery(principal.user))
            .first()
        )
        if row is None:
            raise not_found(ds_uuid)
        dataset, role = row, row.my_role
    grants = grants_of(principal, dataset, role)
    if not grants:
        raise not_found(ds_uuid)
    if not allowed(op, grants):
        if principal.is_key:
            raise OperationNotAllowed()
        raise AuthorisationError(f"Your role on this dataset does not allow: {op.value}.")
    dataset.my_role = role  # type: ignore[attr-defined]
    dataset.my_grants = grants  # type: ignore[attr-defined]
    return dataset


def may_see_server_diagnostics(user) -> bool:
    """/healthz's reasons (exception text naming hosts, drivers): organisation admins and staff."""
    return bool(getattr(user, "is_authenticated", False) and user.is_active and (user.is_org_admin or user.is_staff))
