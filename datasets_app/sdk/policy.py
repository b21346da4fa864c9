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
    STAFF = "staff"
    ACCOUNT = "any active account"
    FOLDER_ADMIN = "folder ADMIN"
    FOLDER_USER = "folder USER"


class Op(str, Enum):
    READ = "open dataset, read data rows, task status"
    WRITE_DATA = "add data, update data rows, request re-encode"
    DELETE_DATA = "delete data"
    MANAGE = "rename/delete dataset, manage keys and members"
    RETRY_JOB = "retry the failed items of anyone's data job (who started a job retries it with WRITE_DATA)"
    SEE_JOBS = "list everyone's jobs on the dataset (the Jobs page; each sees their own where they READ)"
    USE_INTEGRATION = "list cloud integrations and import private data through them"
    LOOK_UP_ACCOUNTS = "hear which e-mail addresses have an account when adding members"
    # Organisation-wide: no dataset involved, decided from the principal alone (may/require_org).
    MANAGE_INTEGRATIONS = "add cloud integrations"
    SEE_ORGANISATION = "list every dataset and cloud integration of the organisation"
    SEE_SERVER_DIAGNOSTICS = "read the server's health diagnostics"
    CREATE_FOLDERS = "create top-level storage folders"
    READ_METADATA_SCHEMA = "read the organisation's custom-metadata schema"
    MANAGE_METADATA_SCHEMA = "change the organisation's custom-metadata schema"
    # Per folder (Files): decided by folder_access.require_folder / require_item. A folder's role
    # comes from its owner, its members, the dataset it mirrors, and the same on every ancestor.
    READ_FILES = "open folders and items, list and search them, get signed URLs"
    WRITE_FILES = "upload into a folder, create subfolders, update items and folder metadata"
    MANAGE_FILES = "delete, move and share folders and items, change folder settings"
    MANAGE_USERS = "list, invite, deactivate and reactivate users, make org admins, make password reset links"
    SEE_STORAGE_JOBS = "follow and list anyone's storage re-encodes (no dataset or folder governs them; their starter follows their own)"


ORG_OPS = frozenset(
    {Op.MANAGE_INTEGRATIONS, Op.SEE_ORGANISATION, Op.SEE_SERVER_DIAGNOSTICS, Op.MANAGE_USERS, Op.CREATE_FOLDERS}
    | {Op.READ_METADATA_SCHEMA, Op.MANAGE_METADATA_SCHEMA, Op.SEE_STORAGE_JOBS}
)
FOLDER_OPS = frozenset({Op.READ_FILES, Op.WRITE_FILES, Op.MANAGE_FILES})

POLICY: dict[Op, frozenset[Grant]] = {
    Op.READ: frozenset({Grant.ORG_ADMIN, Grant.DS_ADMIN, Grant.DS_USER, Grant.READ_KEY}),
    Op.WRITE_DATA: frozenset({Grant.ORG_ADMIN, Grant.DS_ADMIN, Grant.DS_USER, Grant.WRITE_KEY}),
    Op.DELETE_DATA: frozenset({Grant.ORG_ADMIN, Grant.DS_ADMIN, Grant.WRITE_KEY}),
    Op.MANAGE: frozenset({Grant.ORG_ADMIN, Grant.DS_ADMIN}),
    Op.RETRY_JOB: frozenset({Grant.ORG_ADMIN, Grant.DS_ADMIN}),
    # Who may retry anyone's job sees it listed: organisation admins everywhere, dataset ADMINs on
    # the datasets they administer; dataset USERs see only the jobs they started.
    Op.SEE_JOBS: frozenset({Grant.ORG_ADMIN, Grant.DS_ADMIN}),
    # A READ key has no business with integrations: only the WRITE scope may list or use them.
    # Which integrations: usable_integrations() below.
    Op.USE_INTEGRATION: frozenset({Grant.ORG_ADMIN, Grant.DS_ADMIN, Grant.DS_USER, Grant.WRITE_KEY}),
    # Anyone else adding members gets the same answer whether an address has an account or not.
    Op.LOOK_UP_ACCOUNTS: frozenset({Grant.ORG_ADMIN}),
    Op.MANAGE_INTEGRATIONS: frozenset({Grant.ORG_ADMIN}),
    Op.SEE_ORGANISATION: frozenset({Grant.ORG_ADMIN}),
    # /healthz's reasons name hosts and drivers: organisation admins and staff only.
    Op.SEE_SERVER_DIAGNOSTICS: frozenset({Grant.ORG_ADMIN, Grant.STAFF}),
    # The Users page (sdk/people.py): accounts are the organisation's, so its admins only.
    Op.MANAGE_USERS: frozenset({Grant.ORG_ADMIN}),
    # Any account may start its own folders (it is their ADMIN); dataset API keys never.
    Op.CREATE_FOLDERS: frozenset({Grant.ORG_ADMIN, Grant.ACCOUNT}),
    # The schema is the organisation's: every account reads it (to type its metadata), its admins write it.
    Op.READ_METADATA_SCHEMA: frozenset({Grant.ORG_ADMIN, Grant.ACCOUNT}),
    Op.MANAGE_METADATA_SCHEMA: frozenset({Grant.ORG_ADMIN}),
    # A storage re-encode may span folders: its starter follows it, and organisation admins.
    Op.SEE_STORAGE_JOBS: frozenset({Grant.ORG_ADMIN}),
    # Organisation admins act as a folder's ADMIN everywhere (Encord's includeOrgAccess).
    Op.READ_FILES: frozenset({Grant.ORG_ADMIN, Grant.FOLDER_ADMIN, Grant.FOLDER_USER}),
    Op.WRITE_FILES: frozenset({Grant.ORG_ADMIN, Grant.FOLDER_ADMIN, Grant.FOLDER_USER}),
    Op.MANAGE_FILES: frozenset({Grant.ORG_ADMIN, Grant.FOLDER_ADMIN}),
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
    if Grant.ORG_ADMIN in org_grants(principal.user):
        held.add(Grant.ORG_ADMIN)
    if role == m.DatasetUserRole.ADMIN:
        held.add(Grant.DS_ADMIN)
    elif role == m.DatasetUserRole.USER:
        held.add(Grant.DS_USER)
    return frozenset(held)


def org_grants(user: m.User) -> frozenset[Grant]:
    """The grants a user holds whatever the dataset (from the account's own flags); a deactivated
    account holds none."""
    if not user.is_active:
        return frozenset()
    held = {Grant.ACCOUNT}
    if user.is_org_admin:
        held.add(Grant.ORG_ADMIN)
    if user.is_staff:
        held.add(Grant.STAFF)
    return frozenset(held)


def may(principal: Principal, op: Op) -> bool:
    """Whether `principal` may do organisation-wide `op` (ORG_OPS); a dataset API key never may.
    No query."""
    if op not in ORG_OPS:
        raise ValueError(f"{op!r} is decided per dataset: use require()")
    if principal.api_key is not None:
        return False
    return allowed(op, org_grants(principal.user))


def require_org(principal: Principal, op: Op, refusal: str) -> None:
    """AuthorisationError with `refusal` unless `principal` may do organisation-wide `op`."""
    if not may(principal, op):
        raise AuthorisationError(refusal)


def require_key_dataset(key: m.DatasetAPIKey, dataset_uuid: uuid.UUID | None, *, hint: str = "") -> m.Dataset:
    """The key's own dataset if `dataset_uuid` names it, else AuthorisationError (`hint` says how
    to fix it). The one key-versus-dataset check: a key names its dataset, so asking for another
    one is refused without looking it up."""
    if dataset_uuid is None or dataset_uuid != key.dataset.dataset_hash:
        raise AuthorisationError(f"This API key belongs to another dataset{hint}.")
    return key.dataset


def manageable_integrations(principal: Principal) -> QuerySet[m.CloudIntegration]:
    """The integrations `principal` may delete: its own, any for an organisation admin; a dataset
    API key none (AuthorisationError)."""
    if principal.api_key is not None:
        raise AuthorisationError("Dataset API keys cannot delete integrations.")
    return usable_integrations(principal, include_org_access=True)


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
        if include_org_access and may(principal, Op.SEE_ORGANISATION):
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


ROLE_GRANTS = {m.DatasetUserRole.ADMIN: Grant.DS_ADMIN, m.DatasetUserRole.USER: Grant.DS_USER}


def datasets_where(principal: Principal, op: Op) -> QuerySet[m.Dataset]:
    """The datasets on which `principal` may do dataset `op`, read from the table: every dataset
    when the organisation-admin grant allows it, else those whose membership role's grant does (a
    key: its own dataset or none). Lazy: no query until used, a subquery inside a filter."""
    if op in ORG_OPS | FOLDER_OPS:
        raise ValueError(f"{op!r} is not decided per dataset")
    datasets = m.Dataset.objects.all()
    if principal.api_key is not None:
        if allowed(op, grants_of(principal, principal.api_key.dataset, None)):
            return datasets.filter(pk=principal.api_key.dataset_id)
        return datasets.none()
    held = org_grants(principal.user)
    if not held:
        return datasets.none()
    if Grant.ORG_ADMIN in held and allowed(op, frozenset({Grant.ORG_ADMIN})):
        return datasets
    roles = [role for role, grant in ROLE_GRANTS.items() if allowed(op, frozenset({grant}))]
    return datasets.filter(
        pk__in=m.DatasetMembership.objects.filter(user=principal.user, role__in=roles).values("dataset_id")
    )


def role_subquery(user: m.User) -> Subquery:
    return Subquery(
        m.DatasetMembership.objects.filter(dataset=OuterRef("pk"), user=user).values("role")[:1]
    )


def require(principal: Principal, dataset_hash: object, op: Op) -> m.Dataset:
    """The dataset if `principal` may do `op` on it (one query), else the typed error.

    No grant at all (or no such dataset): ResourceNotFoundError. A grant, but not this one:
    OperationNotAllowed for API keys, AuthorisationError for users.
    """
    if op in ORG_OPS:
        raise ValueError(f"{op!r} is organisation-wide: use may() or require_org()")
    if op in FOLDER_OPS:
        raise ValueError(f"{op!r} is decided per folder: use folder_access.require_folder()")
    ds_uuid = parse_hash(dataset_hash, "dataset_hash")
    if principal.api_key is not None:
        dataset, role = require_key_dataset(principal.api_key, ds_uuid), None
    else:
        row = (
            m.Dataset.objects.filter(dataset_hash=ds_uuid)
            .select_related("backing_folder")  # its uuid is on every dataset answer
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
    """/healthz's reasons (exception text naming hosts, drivers) for a page's user, who may be
    anonymous: Op.SEE_SERVER_DIAGNOSTICS."""
    if not (getattr(user, "is_authenticated", False) and user.is_active):
        return False
    return may(Principal(user=user), Op.SEE_SERVER_DIAGNOSTICS)
