"""What the dashboard's Files pages need besides the Encord calls: what a delete will do, said
before it happens (the same rules storage_folders / storage_item_changes apply when it does), the
folders a move may target, and the metadata schema edited one key at a time (the whole document
is still saved by metadata_schema.save_schema, which checks every change)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from datasets_app import models as m

from . import folder_tree
from .exceptions import InvalidArgumentError
from .folder_access import require_folder
from .metadata_schema import check_key, get_schema, save_schema
from .policy import Op, Principal, allowed, grants_of, may, role_subquery
from .storage_folders import StorageFolderInfo, find_storage_folders, get_storage_folder, refuse_if_in_use
from .storage_item_changes import items_in_folder, mirror_of

# Scalar types the editor offers (v2 `variant` hints) and enum.
SCALAR_KINDS = ("number", "varchar", "text", "boolean", "datetime", "uuid")
SHOWN = 20


@dataclass(frozen=True)
class FolderDeletePlan:
    folder: StorageFolderInfo
    subfolders: int
    items: int
    refusal: str | None


@dataclass(frozen=True)
class DatasetLoss:
    title: str
    dataset_hash: uuid.UUID | None
    rows: int


@dataclass(frozen=True)
class ItemsDeletePlan:
    folder: StorageFolderInfo
    item_uuids: list[uuid.UUID]
    names: list[str]
    losses: list[DatasetLoss] = field(default_factory=list)
    refusal: str | None = None


@dataclass(frozen=True)
class SchemaKey:
    key: str
    kind: str
    values: list[str]
    deleted: bool
    restorable: bool


def folder_delete_plan(principal: Principal, folder_uuid: object) -> FolderDeletePlan:
    """What deleting the folder would remove (MANAGE_FILES): every subfolder at any depth and
    their items, or why it is refused (a mirror inside, or items that datasets link)."""
    folder = require_folder(principal, folder_uuid, Op.MANAGE_FILES)
    ids = folder_tree.subtree_ids([folder.pk])
    refusal = None
    try:
        refuse_if_in_use(ids, principal)
    except InvalidArgumentError as refused:
        refusal = refused.message
    return FolderDeletePlan(
        folder=get_storage_folder(principal, folder_uuid),
        subfolders=len(ids) - 1,
        items=m.StorageItem.objects.filter(folder_id__in=ids).count(),
        refusal=refusal,
    )


def items_delete_plan(principal: Principal, folder_uuid: object, item_uuids: Iterable[object]) -> ItemsDeletePlan:
    """What deleting these items of a folder would do (MANAGE_FILES): the folder's mirror dataset
    loses their rows; rows of any other dataset refuse the delete (named when the caller may read
    the dataset, counted otherwise)."""
    folder, _gate, found, _gone = items_in_folder(principal, folder_uuid, item_uuids, Op.MANAGE_FILES)
    if not found:
        raise InvalidArgumentError("Select at least one item to delete.", field="item_uuids")
    mirror = mirror_of(folder)
    rows = m.DataRow.objects.filter(item__in=found)
    losses = []
    if mirror is not None:
        losses.append(DatasetLoss(mirror.title, mirror.dataset_hash, rows.filter(dataset=mirror).count()))
        rows = rows.exclude(dataset=mirror)
    refusal = None
    users = list(datasets_of(principal, rows))
    if users:
        named = ", ".join(f"{title!r} ({count} rows)" for title, count in users if title)
        hidden = sum(1 for title, _ in users if not title)
        refusal = (
            "These items back data rows of other datasets"
            + (f": {named}" if named else "")
            + (f"{' and' if named else ':'} {hidden} you cannot open" if hidden else "")
            + ". Remove those rows first."
        )
    return ItemsDeletePlan(
        folder=get_storage_folder(principal, folder_uuid),
        item_uuids=[i.item_uuid for i in found],
        names=[i.name for i in found[:SHOWN]],
        losses=losses,
        refusal=refusal,
    )


def datasets_of(principal: Principal, rows) -> Iterable[tuple[str, int]]:
    """(title, row count) of the datasets of `rows`; the title is "" where the caller may not READ."""
    datasets = m.Dataset.objects.filter(pk__in=rows.values("dataset_id")).order_by("title", "id")
    if principal.user is not None:
        datasets = datasets.annotate(my_role=role_subquery(principal.user))
    counts = {}
    for dataset_id in rows.values_list("dataset_id", flat=True):
        counts[dataset_id] = counts.get(dataset_id, 0) + 1
    for ds in datasets:
        readable = allowed(Op.READ, grants_of(principal, ds, getattr(ds, "my_role", None)))
        yield (ds.title if readable else "", counts.get(ds.pk, 0))


def move_targets(principal: Principal, source: object, *, subtree: bool) -> list[StorageFolderInfo]:
    """Folders the caller may move things out of `source` into (MANAGE_FILES on `source`; every
    folder they reach, as WRITE_FILES is any role), by name, without `source` and, for a folder
    move (`subtree`), its subfolders. At most 1,000."""
    folder = require_folder(principal, source, Op.MANAGE_FILES)
    skip = {folder.folder_uuid}
    if subtree:
        below = m.StorageFolder.objects.filter(pk__in=folder_tree.subtree_ids([folder.pk]))
        skip |= set(below.values_list("folder_uuid", flat=True))
    page = find_storage_folders(principal, listing=folder_tree.Listing(page_size=folder_tree.MAX_PAGE_SIZE))
    return [f for f in page.results if f.uuid not in skip]


def may_edit_schema(principal: Principal) -> bool:
    return may(principal, Op.MANAGE_METADATA_SCHEMA)


# ---- the metadata schema, one key at a time ------------------------------------------------------


def schema_keys(principal: Principal) -> list[SchemaKey]:
    """Every key of the schema by name, deleted ones marked (READ_METADATA_SCHEMA)."""
    document = get_schema(principal) or {}
    keys = []
    for key, ty in sorted(document.items()):
        deleted = ty.get("ty") == "tombstone"
        shown = (ty.get("deleted_ty") or {}) if deleted else ty
        kind = shown.get("hint", "text") if shown.get("ty") == "variant" else shown.get("ty", "deleted")
        keys.append(SchemaKey(key, kind, list(shown.get("values") or []), deleted, bool(deleted and shown)))
    return keys


def type_of(kind: str, values: list[str]) -> dict[str, Any]:
    if kind == "enum":
        return {"ty": "enum", "values": values}
    if kind not in SCALAR_KINDS:
        raise InvalidArgumentError(f"A key's type is one of {', '.join(SCALAR_KINDS)} or enum.", field="kind")
    return {"ty": "variant", "hint": kind}


def schema_add_key(principal: Principal, key: str, kind: str, values: Iterable[str] = ()) -> None:
    """Adds a key (or, for an enum, values to it) (MANAGE_METADATA_SCHEMA); save_schema refuses
    a redefinition, naming the key."""
    check_key(key)
    document = dict(get_schema(principal) or {})
    wanted = [v.strip() for v in values if v.strip()]
    if kind == "enum" and document.get(key, {}).get("ty") == "enum":
        wanted = list(dict.fromkeys([*document[key]["values"], *wanted]))
    elif key in document and document[key].get("ty") != "tombstone":
        raise InvalidArgumentError(f"Key {key!r} already exists.", field="key")
    document[key] = type_of(kind, wanted)
    save_schema(principal, document)


def schema_delete_key(principal: Principal, key: str) -> None:
    """Deletes a key as a tombstone that remembers its type, so it can be restored."""
    document = dict(get_schema(principal) or {})
    if key not in document or document[key].get("ty") == "tombstone":
        raise InvalidArgumentError(f"There is no live key {key!r}.", field="key")
    document[key] = {"ty": "tombstone", "deleted_ty": document[key]}
    save_schema(principal, document)


def schema_restore_key(principal: Principal, key: str) -> None:
    """Restores a deleted key as the type it had."""
    document = dict(get_schema(principal) or {})
    deleted = (document.get(key) or {}).get("deleted_ty") if (document.get(key) or {}).get("ty") == "tombstone" else None
    if deleted is None:
        raise InvalidArgumentError(f"Key {key!r} is not a restorable deleted key.", field="key")
    document[key] = deleted
    save_schema(principal, document)
