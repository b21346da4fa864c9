"""Folders of the Files tree (issue 13): create, get, list and search, summary, update, move,
delete and share. Every function takes the Principal asking; who may do what is decided by
folder_access.require_folder (READ_FILES / WRITE_FILES / MANAGE_FILES) and the policy's
organisation ops (CREATE_FOLDERS, SEE_ORGANISATION for includeOrgAccess).

Choices the protocol leaves to the server (§8.4):
- Sibling folders may share a name: a name is a label, the UUID the identity (as dataset titles,
  which mirror folders carry and which repeat).
- `path_to_root` is the ancestors, nearest first, up to the first the caller cannot open: a folder
  shared on its own does not reveal the names above it (its `parent` UUID is still given).
- list_storage_folders gives the caller's top level: folders they reach whose parent they do not
  (their own top-level folders and folders shared with them on their own); with org_access, an
  organisation admin gets every top-level folder.
- Search is a case-insensitive substring of the name, `%` and `_` taken literally.
- Summaries count direct children. `clientMetadata` in an update replaces the stored object.
- Delete is recursive, and refused while a folder of the subtree backs a dataset (delete the
  dataset) or an item of it backs a data row (remove the rows first); hosted files of deleted
  items that no other item uses (sdk/hosted_files.py) are deleted after commit by the worker.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from datasets_app import models as m

from . import dataset_names, folder_tree, hosted_files, queue
from .exceptions import AuthorisationError, InvalidArgumentError
from .folder_access import MAX_FOLDER_DEPTH, ancestors_and_self, parse_uuid, require_folder, user_role_on
from .folder_tree import Listing
from .policy import Grant, Op, Principal, allowed, org_grants, require_org
from .validation import clean_description, clean_list, clean_title

MAX_METADATA_BYTES = 64 * 1024
MAX_BULK = 1000
PATCH_KEYS = {"name", "description", "client_metadata"}


@dataclass(frozen=True)
class PathElement:
    uuid: uuid.UUID
    parent_uuid: uuid.UUID | None
    name: str
    synced_dataset_hash: uuid.UUID | None


@dataclass(frozen=True)
class StorageFolderInfo:
    """A folder as its caller sees it (the wire's StorageFolder, protocol §0.9)."""

    uuid: uuid.UUID
    parent_uuid: uuid.UUID | None
    name: str
    description: str
    client_metadata: dict | None
    owner: str
    created_at: dt.datetime
    last_edited_at: dt.datetime
    user_role: str
    synced_dataset_hash: uuid.UUID | None
    path_to_root: tuple[PathElement, ...]


@dataclass(frozen=True)
class FolderPage:
    results: list[StorageFolderInfo]
    next_page_token: str | None


@dataclass(frozen=True)
class FolderSummary:
    files: int
    folders: int
    videos: int
    images: int
    image_groups: int
    image_sequences: int
    dicom_files: int
    dicom_series: int
    upload_jobs: int
    total_size: int


@dataclass(frozen=True)
class DeletedFolders:
    folders: int
    items: int
    file_keys: tuple[str, ...]


@dataclass(frozen=True)
class FolderShare:
    email: str
    role: int


# ---- arguments ----------------------------------------------------------------------------------


def user_of(principal: Principal) -> m.User:
    """The principal's user: dataset API keys reach no folder, inactive accounts nothing."""
    if principal.api_key is not None:
        raise AuthorisationError("Dataset API keys cannot open Files; sign the request with your SSH key.")
    if not principal.user.is_active:
        raise AuthorisationError("This account is not active.")
    return principal.user


def clean_metadata(value: Any, *, text_allowed: bool = False) -> dict:
    """A client-metadata object: a dict, or with `text_allowed` (on create, where the wire sends
    JSON text) a string holding the JSON of one."""
    if isinstance(value, str) and text_allowed:
        try:
            value = json.loads(value)
        except ValueError:
            raise InvalidArgumentError("client_metadata is not valid JSON.", field="client_metadata") from None
    if not isinstance(value, dict):
        raise InvalidArgumentError("client_metadata must be a JSON object.", field="client_metadata")
    if has_unstorable_text(value):
        raise InvalidArgumentError(
            "client_metadata cannot contain NUL characters or unpaired UTF-16 surrogates.", field="client_metadata"
        )
    if len(json.dumps(value)) > MAX_METADATA_BYTES:
        raise InvalidArgumentError(
            f"client_metadata is larger than {MAX_METADATA_BYTES} bytes.", field="client_metadata"
        )
    return value


def has_unstorable_text(value: Any) -> bool:
    """Whether text in `value` holds what no database column stores (NUL, lone surrogates): JSON
    text decoded here can carry them even when the request body's own check passed."""
    if isinstance(value, str):
        return "\x00" in value or any("\ud800" <= c <= "\udfff" for c in value)
    if isinstance(value, dict):
        return any(has_unstorable_text(k) or has_unstorable_text(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_unstorable_text(v) for v in value)
    return False


def clean_patch(patch: Any) -> dict[str, Any]:
    """A folder update: only `name`, `description`, `client_metadata`, each cleaned."""
    if not isinstance(patch, Mapping):
        raise InvalidArgumentError("A folder patch must be an object.", field="folderPatches")
    extra = set(patch) - PATCH_KEYS
    if extra:
        raise InvalidArgumentError(f"A folder patch cannot change: {', '.join(sorted(map(str, extra)))}.")
    changes: dict[str, Any] = {}
    if patch.get("name") is not None:
        changes["name"] = clean_title(patch["name"], "name")
    if patch.get("description") is not None:
        changes["description"] = clean_description(patch["description"])
    if patch.get("client_metadata") is not None:
        changes["client_metadata"] = clean_metadata(patch["client_metadata"])
    return changes


# ---- what the caller sees -----------------------------------------------------------------------


def with_details(folders: QuerySet[m.StorageFolder]) -> QuerySet[m.StorageFolder]:
    return folders.select_related("owner", "mirrored_dataset")


def mirror_hash(folder: m.StorageFolder) -> uuid.UUID | None:
    dataset = getattr(folder, "mirrored_dataset", None)
    return dataset.dataset_hash if dataset is not None else None


def describe(principal: Principal, folders: list[m.StorageFolder]) -> list[StorageFolderInfo]:
    """The caller's view of folders it may read (fetched `with_details`). Four queries whatever
    the count: ADMIN reach, ancestors, and which ancestors the caller may open."""
    user = user_of(principal)
    base = org_grants(user) & {Grant.ORG_ADMIN}
    ids = [f.pk for f in folders]
    if not ids:
        return []
    admin_ids = set(ids) if base else set(
        m.StorageFolder.objects.filter(pk__in=ids)
        .filter(pk__in=folder_tree.reached_by(user, as_admin=True))
        .values_list("pk", flat=True)
    )
    above = folder_tree.ancestor_rows(folders)
    readable = set(above)
    if above and not allowed(Op.READ_FILES, frozenset(base)):
        readable = set(
            m.StorageFolder.objects.filter(pk__in=list(above))
            .filter(pk__in=folder_tree.reached_by(user))
            .values_list("pk", flat=True)
        )
    return [info_of(f, base, f.pk in admin_ids, above, readable) for f in folders]


def info_of(
    folder: m.StorageFolder, base: frozenset[Grant], is_admin: bool, above: dict, readable: set[int]
) -> StorageFolderInfo:
    path = []
    for ancestor in folder_tree.chain_above(folder, above, MAX_FOLDER_DEPTH):
        if ancestor.pk not in readable:
            break
        parent_uuid = above[ancestor.parent_id].folder_uuid if ancestor.parent_id in above else None
        path.append(PathElement(ancestor.folder_uuid, parent_uuid, ancestor.name, mirror_hash(ancestor)))
    parent = above.get(folder.parent_id)
    grants = base | {Grant.FOLDER_ADMIN if is_admin else Grant.FOLDER_USER}
    return StorageFolderInfo(
        uuid=folder.folder_uuid,
        parent_uuid=parent.folder_uuid if parent is not None else None,
        name=folder.name,
        description=folder.description,
        client_metadata=folder.client_metadata,
        owner=folder.owner.email if folder.owner_id else "",
        created_at=folder.created_at,
        last_edited_at=folder.last_edited_at,
        user_role=user_role_on(frozenset(grants)),
        synced_dataset_hash=mirror_hash(folder),
        path_to_root=tuple(path),
    )


def info(principal: Principal, folder_pk: int) -> StorageFolderInfo:
    return describe(principal, [with_details(m.StorageFolder.objects.filter(pk=folder_pk)).get()])[0]


def get_storage_folder(principal: Principal, folder_uuid: object) -> StorageFolderInfo:
    """The folder (READ_FILES); missing and forbidden are the same AuthorisationError."""
    user_of(principal)
    return info(principal, require_folder(principal, folder_uuid, Op.READ_FILES).pk)


# ---- create -------------------------------------------------------------------------------------


def create_storage_folder(
    principal: Principal,
    name: Any,
    *,
    description: Any = None,
    client_metadata: Any = None,
    parent_folder: object = None,
    cloud_synced_folder_params: Any = None,
) -> StorageFolderInfo:
    """A new folder owned by the caller (its ADMIN): under `parent_folder` (WRITE_FILES there) or
    at the top level (CREATE_FOLDERS). `client_metadata` is a JSON object or the JSON text of one."""
    user = user_of(principal)
    if cloud_synced_folder_params is not None:
        raise InvalidArgumentError("Cloud-synced folders are not supported by this server yet.")
    name = clean_title(name, "name")
    description = clean_description(description)
    metadata = None if client_metadata is None else clean_metadata(client_metadata, text_allowed=True)
    parent = None
    if parent_folder is not None:
        parent = require_folder(principal, parent_folder, Op.WRITE_FILES)
        if len(ancestors_and_self(parent)) >= MAX_FOLDER_DEPTH:
            raise InvalidArgumentError(f"Folders cannot be nested deeper than {MAX_FOLDER_DEPTH} levels.")
    else:
        require_org(principal, Op.CREATE_FOLDERS, "This account may not create folders.")
    folder = m.StorageFolder.objects.create(
        parent=parent, name=name, description=description, client_metadata=metadata, owner=user
    )
    return info(principal, folder.pk)


# ---- list and search ----------------------------------------------------------------------------


def visible_folders(principal: Principal, *, org_access: bool) -> QuerySet[m.StorageFolder]:
    """Every folder the caller reaches; with `org_access`, every folder (organisation admins only)."""
    user = user_of(principal)
    if org_access:
        require_org(principal, Op.SEE_ORGANISATION, "Only organisation admins may list with org_access.")
        return m.StorageFolder.objects.all()
    return m.StorageFolder.objects.filter(pk__in=folder_tree.reached_by(user))


def narrowed(folders: QuerySet, search: str | None, dataset_synced: bool | None) -> QuerySet:
    if search is not None:
        if not isinstance(search, str) or len(search) > 1024:
            raise InvalidArgumentError("search must be a string of at most 1024 characters.", field="search")
        folders = folders.filter(name__icontains=search)
    if dataset_synced is not None:
        folders = folders.filter(mirrored_dataset__isnull=not dataset_synced)
    return folders


def page(principal: Principal, folders: QuerySet, listing: Listing | None) -> FolderPage:
    rows, token = folder_tree.page_of(with_details(folders), listing or Listing())
    return FolderPage(describe(principal, rows), token)


def list_storage_folders(
    principal: Principal,
    *,
    search: str | None = None,
    dataset_synced: bool | None = None,
    org_access: bool = False,
    listing: Listing | None = None,
) -> FolderPage:
    """One page of the caller's top level (see the module docstring)."""
    folders = visible_folders(principal, org_access=org_access)
    if org_access:
        folders = folders.filter(parent__isnull=True)
    else:
        folders = folders.exclude(parent_id__in=folder_tree.reached_by(principal.user))
    return page(principal, narrowed(folders, search, dataset_synced), listing)


def find_storage_folders(
    principal: Principal,
    *,
    search: str | None = None,
    dataset_synced: bool | None = None,
    org_access: bool = False,
    listing: Listing | None = None,
) -> FolderPage:
    """One page of every folder the caller reaches, at any depth."""
    folders = visible_folders(principal, org_access=org_access)
    return page(principal, narrowed(folders, search, dataset_synced), listing)


def list_subfolders(
    principal: Principal,
    folder_uuid: object,
    *,
    recursive: bool = False,
    search: str | None = None,
    dataset_synced: bool | None = None,
    listing: Listing | None = None,
) -> FolderPage:
    """One page of the folder's children, or all its descendants (READ_FILES on the folder,
    which its descendants inherit)."""
    user_of(principal)
    folder = require_folder(principal, folder_uuid, Op.READ_FILES)
    folders = folder_tree.descendants_of(folder) if recursive else m.StorageFolder.objects.filter(parent=folder)
    return page(principal, narrowed(folders, search, dataset_synced), listing)


# ---- summary ------------------------------------------------------------------------------------


def get_folder_summary(principal: Principal, folder_uuid: object) -> FolderSummary:
    """Counts of the folder's direct children by type and their size in bytes (an item without a
    size counts its frames' or files'), and the upload jobs that made them. Three queries."""
    user_of(principal)
    folder = require_folder(principal, folder_uuid, Op.READ_FILES)
    kind = m.DataType
    sequence = Q(is_optimised_image_group=True)

    def of(q: Q) -> Count:
        return Count("id", filter=q)

    counts = m.StorageItem.objects.filter(folder=folder).aggregate(
        files=Count("id"),
        videos=of(Q(item_type=kind.VIDEO)),
        images=of(Q(item_type=kind.IMAGE)),
        image_groups=of(Q(item_type=kind.IMG_GROUP) & ~sequence),
        image_sequences=of(Q(item_type=kind.IMG_GROUP) & sequence),
        dicom_series=of(Q(item_type=kind.DICOM)),
        size=Sum("file_size"),
        upload_jobs=Count("created_by_job__job", distinct=True),
    )
    member_size = m.DataRowMember.objects.filter(item__folder=folder, item__file_size__isnull=True).aggregate(
        size=Sum("file_size")
    )["size"]
    size = counts.pop("size") or 0
    return FolderSummary(
        folders=m.StorageFolder.objects.filter(parent=folder).count(),
        dicom_files=0,
        total_size=size + (member_size or 0),
        **counts,
    )


# ---- update -------------------------------------------------------------------------------------


def apply_patch(folder: m.StorageFolder, changes: dict[str, Any]) -> None:
    if not changes:
        return
    for key, value in changes.items():
        setattr(folder, key, value)
    folder.save(update_fields=[*changes, "last_edited_at"])


def update_storage_folder(
    principal: Principal, folder_uuid: object, *, name: Any = None, description: Any = None, client_metadata: Any = None
) -> StorageFolderInfo:
    """Changes what is given (WRITE_FILES); `client_metadata` replaces the stored object."""
    user_of(principal)
    changes = clean_patch({"name": name, "description": description, "client_metadata": client_metadata})
    folder = require_folder(principal, folder_uuid, Op.WRITE_FILES)
    apply_patch(folder, changes)
    return info(principal, folder.pk)


def update_storage_folders(principal: Principal, patches: Mapping[object, Any]) -> list[StorageFolderInfo]:
    """Several updates at once, all or nothing: every folder and patch is checked before any is
    written. Returns the updated folders in the order given."""
    user_of(principal)
    if not isinstance(patches, Mapping) or len(patches) > MAX_BULK:
        raise InvalidArgumentError(f"folderPatches must be an object of at most {MAX_BULK} patches.")
    checked = []
    for folder_uuid, patch in patches.items():
        changes = clean_patch(patch)
        checked.append((require_folder(principal, folder_uuid, Op.WRITE_FILES), changes))
    with transaction.atomic():
        for folder, changes in checked:
            apply_patch(folder, changes)
    folders = {f.pk: f for f in with_details(m.StorageFolder.objects.filter(pk__in=[f.pk for f, _ in checked]))}
    return describe(principal, [folders[f.pk] for f, _ in checked])


# ---- move ---------------------------------------------------------------------------------------


def move_storage_folders(principal: Principal, folder_uuids: Iterable[object], new_parent: object = None) -> None:
    """Moves folders (MANAGE_FILES on each) into `new_parent` (WRITE_FILES there) or to the top
    level (None: CREATE_FOLDERS). All or nothing; a repeat is a no-op. Refused into a moved
    folder's own subtree and deeper than MAX_FOLDER_DEPTH."""
    user_of(principal)
    wanted = [parse_uuid(u, "folder_uuid") for u in clean_list(folder_uuids, "folderUuids", max_items=MAX_BULK)]
    if not wanted:
        raise InvalidArgumentError("Give at least one folder to move.", field="folderUuids")
    with transaction.atomic():
        moved = [require_folder(principal, u, Op.MANAGE_FILES) for u in wanted]
        target = None if new_parent is None else require_folder(principal, new_parent, Op.WRITE_FILES)
        if target is None:
            require_org(principal, Op.CREATE_FOLDERS, "This account may not create top-level folders.")
        moved_ids = {f.pk for f in moved}
        # Lock every folder whose parent decides the answer, in one order, so two crossing moves
        # wait for each other and the second sees the first's result (no cycle, no deadlock).
        chain = ancestors_and_self(target) if target is not None else []
        locked = sorted(moved_ids | {f.pk for f in chain})
        list(m.StorageFolder.objects.select_for_update().filter(pk__in=locked).order_by("pk").values_list("pk"))
        if target is not None:
            chain = ancestors_and_self(m.StorageFolder.objects.get(pk=target.pk))
            if moved_ids & {f.pk for f in chain}:
                raise InvalidArgumentError("A folder cannot be moved into itself or its own subfolders.")
            if len(chain) + folder_tree.subtree_height(sorted(moved_ids)) > MAX_FOLDER_DEPTH:
                raise InvalidArgumentError(f"Folders cannot be nested deeper than {MAX_FOLDER_DEPTH} levels.")
        m.StorageFolder.objects.filter(pk__in=moved_ids).exclude(parent=target).update(
            parent=target, last_edited_at=timezone.now()
        )


# ---- delete -------------------------------------------------------------------------------------


def refuse_if_in_use(folder_ids: list[int], principal: Principal | None = None) -> None:
    """InvalidArgumentError while a folder here backs a dataset or an item here backs rows. Datasets
    whose rows link the items are named only to a `principal` who may open them (else counted)."""
    # A mirror is named in full: whoever may see the folder sees its synced_dataset_hash anyway.
    mirror = m.Dataset.objects.filter(backing_folder_id__in=folder_ids).select_related("backing_folder").first()
    if mirror is not None:
        raise InvalidArgumentError(
            f"Folder {mirror.backing_folder.name!r} backs dataset {mirror.title} ({mirror.dataset_hash}): "
            "delete the dataset to delete its folder."
        )
    linked = m.DataRow.objects.filter(item__folder_id__in=folder_ids)
    first = list(linked.select_related("item").order_by("id")[:5])
    if first:
        items = ", ".join(dict.fromkeys(repr(r.item.name) for r in first))
        datasets = dataset_names.named_for(principal, {r.dataset_id for r in first})
        raise InvalidArgumentError(
            f"{linked.count()} data rows are backed by items in this folder ({items}; in {datasets}). "
            "Remove them from their datasets first.",
            items=[str(r.item.item_uuid) for r in first],
        )


def folder_tree_delete(folder: m.StorageFolder) -> DeletedFolders:
    """Deletes the folder, its subfolders and their items, and queues their hosted files for
    deletion after commit. No permission check: callers decide (delete_storage_folder). Refused
    while any of it is in use (refuse_if_in_use)."""
    with transaction.atomic():
        ids = folder_tree.subtree_ids([folder.pk])
        list(m.StorageFolder.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk"))
        refuse_if_in_use(ids)
        items = m.StorageItem.objects.filter(folder_id__in=ids)
        keys = hosted_files.unshared_files(items)
        item_count = items.count()
        items.delete()
        m.StorageFolder.objects.filter(pk__in=ids).update(parent=None)
        m.StorageFolder.objects.filter(pk__in=ids).delete()
        queue.delete_files_after_commit(keys)
    return DeletedFolders(folders=len(ids), items=item_count, file_keys=tuple(keys))


def delete_storage_folder(principal: Principal, folder_uuid: object) -> DeletedFolders:
    """Deletes the folder and everything in it (MANAGE_FILES); see folder_tree_delete."""
    user_of(principal)
    folder = require_folder(principal, folder_uuid, Op.MANAGE_FILES)
    refuse_if_in_use(folder_tree.subtree_ids([folder.pk]), principal)  # names only what they may open
    return folder_tree_delete(folder)


# ---- sharing ------------------------------------------------------------------------------------


def clean_emails(user_emails: Iterable[str]) -> list[str]:
    emails = []
    for e in clean_list(user_emails, "user_emails", max_items=1000):
        if not isinstance(e, str) or "@" not in e:
            raise InvalidArgumentError(f"{str(e)[:80]!r} is not an e-mail address.", field="user_emails")
        emails.append(e.strip())
    return emails


def users_by_email(emails: list[str]) -> dict[str, m.User]:
    if not emails:
        return {}
    found = m.User.objects.filter(Q(*[Q(email__iexact=e) for e in emails], _connector=Q.OR))
    return {u.email.lower(): u for u in found}


def list_folder_members(principal: Principal, folder_uuid: object) -> list[FolderShare]:
    """Who the folder is shared with and their role (MANAGE_FILES); its owner is ADMIN besides."""
    user_of(principal)
    folder = require_folder(principal, folder_uuid, Op.MANAGE_FILES)
    members = folder.memberships.select_related("user").order_by("user__email")
    return [FolderShare(s.user.email, s.role) for s in members]


def add_folder_members(
    principal: Principal, folder_uuid: object, user_emails: Iterable[str], role: int
) -> list[FolderShare]:
    """Shares the folder (and so its subfolders and items) with these accounts (MANAGE_FILES);
    a member already there gets `role`. Addresses without an account are named to organisation
    admins; anyone else hears the same whether an account exists or not, and nothing is stored."""
    user_of(principal)
    if role not in (m.DatasetUserRole.ADMIN, m.DatasetUserRole.USER) or isinstance(role, bool):
        raise InvalidArgumentError("role must be 0 (ADMIN) or 1 (USER).", field="role")
    folder = require_folder(principal, folder_uuid, Op.MANAGE_FILES)
    emails = clean_emails(user_emails)
    users = users_by_email(emails)
    missing = [e for e in emails if e.lower() not in users]
    if missing and allowed(Op.LOOK_UP_ACCOUNTS, folder.my_grants):
        raise InvalidArgumentError(f"No user with e-mail {', '.join(missing)}.", user_emails=missing)
    with transaction.atomic():
        for user in users.values():
            m.FolderMembership.objects.update_or_create(folder=folder, user=user, defaults={"role": int(role)})
    return [FolderShare(e, int(role)) for e in emails]


def remove_folder_members(principal: Principal, folder_uuid: object, user_emails: Iterable[str]) -> int:
    """Unshares the folder with these accounts (MANAGE_FILES); others are ignored. Returns how many went."""
    user_of(principal)
    folder = require_folder(principal, folder_uuid, Op.MANAGE_FILES)
    users = users_by_email(clean_emails(user_emails))
    deleted, _ = m.FolderMembership.objects.filter(folder=folder, user__in=list(users.values())).delete()
    return deleted
