"""What the dashboard's Files pages read, in one call each: a folder's page (its path, subfolders
and a keyset page of items with thumbnails, optionally filtered by typed metadata, here or in
every subfolder), the datasets a selection may be linked into, the selection itself, and where a
data row's item lives. Decisions are the folder rows of the policy table (folder_access) and the
dataset rows (policy.require / grants_of); this module only assembles what they allow."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import OuterRef, Subquery

from datasets_app import models as m
from datasets_app.media.downloads import signed_download_url

from . import folder_tree, metadata_search
from .exceptions import InvalidArgumentError
from .folder_access import require_folder
from .item_links import LinkedRows, link_items, link_items_matching
from .metadata_schema import live_key_types, stored_document
from .policy import Op, Principal, allowed, grants_of, may, role_subquery
from .storage_folders import StorageFolderInfo, get_storage_folder, list_subfolders
from .storage_items import FolderGate, backed_count_subquery, wire_item_type

PAGE_SIZE = 50
DEFAULT_COLUMNS = 3
MAX_SELECTION = 100_000


@dataclass(frozen=True)
class ItemRow:
    """One item as a Files table row."""

    uuid: uuid.UUID
    name: str
    item_type: str
    file_size: int | None
    created_at: dt.datetime
    metadata: dict
    thumb_url: str | None
    linked_rows: int
    folder_name: str


@dataclass(frozen=True)
class FolderView:
    folder: StorageFolderInfo
    subfolders: list[StorageFolderInfo]
    items: list[ItemRow]
    next_token: str | None
    schema_keys: dict[str, str]
    columns: list[str]
    conditions: list[str]
    condition_error: str | None
    can_write: bool
    can_manage: bool


@dataclass(frozen=True)
class LinkTarget:
    dataset_hash: uuid.UUID
    title: str


@dataclass(frozen=True)
class DatasetLink:
    dataset_hash: uuid.UUID
    title: str
    data_hash: uuid.UUID


@dataclass(frozen=True)
class Whereabouts:
    """Where a data row's item lives and which other datasets link it."""

    folder: StorageFolderInfo | None
    other_datasets: list[DatasetLink] = field(default_factory=list)
    hidden_datasets: int = 0


def matching_items(principal: Principal, folder_uuid: object, conditions: list[str], *, recursive: bool):
    """The folder's items (with `recursive`, its subfolders' too) meeting every metadata
    condition, unordered (READ_FILES on the folder, which its subfolders inherit). A bad
    condition raises InvalidArgumentError naming it."""
    folder = require_folder(principal, folder_uuid, Op.READ_FILES)
    parsed = metadata_search.parse_conditions(conditions, stored_document())
    ids = folder_tree.subtree_ids([folder.pk]) if recursive else [folder.pk]
    return metadata_search.apply_conditions(m.StorageItem.objects.filter(folder_id__in=ids), parsed)


def item_rows(items: list[m.StorageItem], *, base_url: str | None) -> list[ItemRow]:
    """Items (folder loaded, `linked` annotated) as table rows with signed thumbnails; no query."""
    return [
        ItemRow(
            uuid=i.item_uuid,
            name=i.name,
            item_type=wire_item_type(i),
            file_size=i.file_size,
            created_at=i.created_at,
            metadata=i.client_metadata or {},
            thumb_url=signed_download_url(i.thumbnail_key, base_url=base_url) if i.thumbnail_key else None,
            linked_rows=i.linked,
            folder_name=i.folder.name,
        )
        for i in items
    ]


def folder_view(
    principal: Principal,
    folder_uuid: object,
    *,
    conditions: list[str],
    recursive: bool = False,
    columns: list[str] | None = None,
    after: str | None = None,
    base_url: str | None = None,
) -> FolderView:
    """A folder's page (READ_FILES): items oldest first, PAGE_SIZE at a time (keyset: the same
    cost deep in a million items). A bad condition or a stale token is shown, not raised."""
    info = get_storage_folder(principal, folder_uuid)
    folder = require_folder(principal, folder_uuid, Op.READ_FILES)
    subfolders = list_subfolders(principal, folder_uuid).results if not after else []
    keys = live_key_types(stored_document())
    chosen = [c for c in columns if c in keys] if columns else list(keys)[:DEFAULT_COLUMNS]
    items, token, error = [], None, None
    try:
        qs = matching_items(principal, folder_uuid, conditions, recursive=recursive)
        qs = qs.select_related("folder").annotate(linked=backed_count_subquery())
        items, token = metadata_search.keyset_page(qs, "item_uuid", page_size=PAGE_SIZE, page_token=after)
    except InvalidArgumentError as refused:
        error = refused.message
    return FolderView(
        folder=info,
        subfolders=subfolders,
        items=item_rows(items, base_url=base_url),
        next_token=token,
        schema_keys=keys,
        columns=chosen,
        conditions=conditions,
        condition_error=error,
        can_write=allowed(Op.WRITE_FILES, folder.my_grants),
        can_manage=allowed(Op.MANAGE_FILES, folder.my_grants),
    )


def writable_datasets(principal: Principal) -> list[m.Dataset]:
    """Plain (not mirror) datasets the caller may add data to, by title (one query)."""
    if principal.api_key is not None:
        return []
    user = principal.user
    datasets = m.Dataset.objects.filter(backing_folder__isnull=True)
    if not may(principal, Op.SEE_ORGANISATION):
        datasets = datasets.filter(memberships__user=user)
    datasets = datasets.annotate(my_role=role_subquery(user)).order_by("title", "id").distinct()
    return [d for d in datasets if allowed(Op.WRITE_DATA, grants_of(principal, d, d.my_role))]


def link_targets(principal: Principal) -> list[LinkTarget]:
    """The datasets "Add to dataset" offers: plain datasets the caller may add data to."""
    return [LinkTarget(d.dataset_hash, d.title) for d in writable_datasets(principal)]


def link_selection(
    principal: Principal,
    dataset_hash: object,
    folder_uuid: object,
    *,
    item_uuids: Iterable[object] = (),
    all_matching: bool = False,
    conditions: list[str] | None = None,
    recursive: bool = False,
    duplicates: str = "SKIP",
) -> LinkedRows:
    """Links the chosen items, or every item of the folder matching the filter (in SQL, oldest
    first), into a dataset (item_links decides and links, all or nothing)."""
    if all_matching:
        qs = matching_items(principal, folder_uuid, conditions or [], recursive=recursive)
        return link_items_matching(principal, dataset_hash, qs, duplicates=duplicates, at_most=MAX_SELECTION)
    wanted = list(item_uuids)
    if not wanted:
        raise InvalidArgumentError("Select at least one item.", field="item_uuids")
    return link_items(principal, dataset_hash, wanted, duplicates=duplicates)


def row_whereabouts(principal: Principal, row: m.DataRow) -> Whereabouts:
    """For a row the caller has read through its dataset: the item's folder (None when the caller
    may not open it) and the other datasets linking the item that the caller may read (the rest
    only counted). Three queries plus the folder check."""
    item = m.StorageItem.objects.select_related("folder").get(pk=row.item_id)
    gate = FolderGate(principal)
    folder = get_storage_folder(principal, item.folder.folder_uuid) if gate.may(item.folder, Op.READ_FILES) else None
    others = m.DataRow.objects.filter(item_id=item.pk).exclude(dataset_id=row.dataset_id).select_related("dataset")
    if principal.user is not None:
        others = others.annotate(my_role=role_subquery_of_row(principal.user))
    shown, hidden = [], 0
    for other in others.order_by("dataset__title", "id"):
        if allowed(Op.READ, grants_of(principal, other.dataset, getattr(other, "my_role", None))):
            shown.append(DatasetLink(other.dataset.dataset_hash, other.dataset.title, other.data_hash))
        else:
            hidden += 1
    return Whereabouts(folder=folder, other_datasets=shown, hidden_datasets=hidden)


def role_subquery_of_row(user: m.User) -> Subquery:
    """The user's membership role on a row's dataset (for rows, as role_subquery is for datasets)."""
    return Subquery(m.DatasetMembership.objects.filter(dataset=OuterRef("dataset"), user=user).values("role")[:1])
