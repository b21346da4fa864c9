"""Who may do what with folders and items (Files): the folder rows of the one policy table.

A user's role on a folder is the best of, on the folder and on every ancestor: being its owner
(ADMIN), a folder membership, and a membership of the dataset the folder mirrors (the dataset's
role: a mirror's contents are its dataset's). Organisation admins hold Grant.ORG_ADMIN everywhere.
Dataset API keys reach no folder: their dataset's own operations (uploads into a mirror) go
through policy.require on the dataset.

Missing and forbidden are one answer, as the SDK's docstrings promise ("does not exist or you do
not have access to it"): AuthorisationError, which the wire sends as 403 with its message.
"""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from datasets_app import models as m

from . import folder_tree
from .exceptions import AuthorisationError, InvalidArgumentError
from .policy import FOLDER_OPS, Grant, Op, Principal, allowed, org_grants

# A folder tree deeper than this is refused at creation (storage_folders); the walk stops here.
MAX_FOLDER_DEPTH = 64


def parse_uuid(value: object, what: str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value).strip())
    except ValueError:
        raise InvalidArgumentError(f"{what} {str(value)[:80]!r} is not a valid UUID.", field=what) from None


def folder_not_found(folder_uuid: object) -> AuthorisationError:
    return AuthorisationError(f"Folder {folder_uuid} does not exist or you do not have access to it")


def item_not_found(item_uuid: object) -> AuthorisationError:
    return AuthorisationError(f"Item {item_uuid} does not exist or you do not have access to it")


def ancestors_and_self(folder: m.StorageFolder) -> list[m.StorageFolder]:
    """The folder, its parent, ... up to its top-level folder (one recursive query; none for a
    top-level folder)."""
    if folder.parent_id is None:
        return [folder]
    return [folder, *folder_tree.chain_above(folder, folder_tree.ancestor_rows([folder]), MAX_FOLDER_DEPTH)]


def folder_role(user: m.User, folder: m.StorageFolder) -> int | None:
    """The user's best role (DatasetUserRole value; ADMIN is 0) on the folder, from the folder and
    its ancestors; None when they have none."""
    chain = ancestors_and_self(folder)
    if any(f.owner_id == user.pk for f in chain):
        return m.DatasetUserRole.ADMIN
    ids = [f.pk for f in chain]
    roles = list(m.FolderMembership.objects.filter(folder_id__in=ids, user=user).values_list("role", flat=True))
    roles += m.DatasetMembership.objects.filter(dataset__backing_folder_id__in=ids, user=user).values_list(
        "role", flat=True
    )
    return min(roles) if roles else None


def folder_grants(principal: Principal, folder: m.StorageFolder) -> frozenset[Grant]:
    if principal.api_key is not None or not principal.user.is_active:
        return frozenset()
    held = set(org_grants(principal.user) & {Grant.ORG_ADMIN})
    role = folder_role(principal.user, folder)
    if role == m.DatasetUserRole.ADMIN:
        held.add(Grant.FOLDER_ADMIN)
    elif role == m.DatasetUserRole.USER:
        held.add(Grant.FOLDER_USER)
    return frozenset(held)


def user_role_on(grants: frozenset[Grant]) -> str:
    """The wire's `user_role` for a folder the caller may see: organisation admins are `admin`."""
    return "admin" if grants & {Grant.ORG_ADMIN, Grant.FOLDER_ADMIN} else "user"


def check(principal: Principal, folder: m.StorageFolder, op: Op, missing: AuthorisationError) -> frozenset[Grant]:
    """The principal's grants on `folder` if they allow `op`; `missing` when they hold none."""
    if op not in FOLDER_OPS:
        raise ValueError(f"{op!r} is not a folder operation")
    grants = folder_grants(principal, folder)
    if not grants:
        raise missing
    if not allowed(op, grants):
        raise AuthorisationError(f"Your role on this folder does not allow: {op.value}.")
    return grants


def require_folder(principal: Principal, folder_uuid: object, op: Op) -> m.StorageFolder:
    """The folder if `principal` may do `op` on it; `folder.my_grants` holds the grants."""
    parsed = parse_uuid(folder_uuid, "folder_uuid")
    folder = m.StorageFolder.objects.filter(folder_uuid=parsed).first()
    if folder is None:
        raise folder_not_found(parsed)
    folder.my_grants = check(principal, folder, op, folder_not_found(parsed))  # type: ignore[attr-defined]
    return folder


def require_item(principal: Principal, item_uuid: object, op: Op) -> m.StorageItem:
    """The item if `principal` may do `op` on its folder; `item.my_grants` holds the grants."""
    parsed = parse_uuid(item_uuid, "item_uuid")
    item = m.StorageItem.objects.select_related("folder").filter(item_uuid=parsed).first()
    if item is None:
        raise item_not_found(parsed)
    item.my_grants = check(principal, item.folder, op, item_not_found(parsed))  # type: ignore[attr-defined]
    return item


def folders_where(principal: Principal, op: Op) -> QuerySet[m.StorageFolder]:
    """The folders on which `principal` may do folder `op`, read from the table as folder_grants
    decides one folder: every folder when the organisation-admin grant allows it, else those the
    user reaches (folder_tree.reached_by: owned, shared, mirrors of their datasets, and everything
    below those) with a role whose grant allows it. Dataset API keys and deactivated accounts
    none. Lazy: one query when used, a subquery inside a filter."""
    if op not in FOLDER_OPS:
        raise ValueError(f"{op!r} is not a folder operation")
    folders = m.StorageFolder.objects.all()
    if principal.api_key is not None or not principal.user.is_active:
        return folders.none()
    user = principal.user
    if allowed(op, org_grants(user) & {Grant.ORG_ADMIN}):
        return folders
    if allowed(op, frozenset({Grant.FOLDER_USER})):
        return folders.filter(pk__in=folder_tree.reached_by(user))
    if allowed(op, frozenset({Grant.FOLDER_ADMIN})):
        return folders.filter(pk__in=folder_tree.reached_by(user, as_admin=True))
    return folders.none()
