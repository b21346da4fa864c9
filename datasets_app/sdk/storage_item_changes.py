"""Changing storage items (protocol §2.7-§2.10): update one or many, delete, move; data groups
are refused. Mirror rules (§4.2): an item leaving a dataset's backing folder takes its row out of
that dataset, an item arriving gets a row; a move across a mirror needs the caller's opt-in, and
an item that backs rows of other datasets is not deleted. Rows read name and metadata from their
item, so an update shows in every dataset at once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from datasets_app import models as m

from . import dataset_names, dataset_stats, hosted_files, queue
from .exceptions import InvalidArgumentError
from .folder_access import folder_not_found, item_not_found, parse_uuid
from .policy import Op, Principal
from .storage_items import FolderGate, ItemInfo, item_info, items_queryset, load_item, require_folder_of_path
from .validation import clean_title

PATCH_KEYS = {"name", "description", "clientMetadata"}
# Settings of item kinds this server does not hold (§3.10): refused, even as an explicit null.
UNSERVED_PATCH_KEYS = {"timeseriesSettings": "time-series", "sceneViewSettings": "scene", "sceneLayout": "scene"}
MAX_BULK_PATCHES = 1000
MAX_ITEMS_PER_CALL = 10_000


@dataclass(frozen=True)
class ItemPatch:
    """What an item PATCH changes: None leaves a field as it is. Descriptions are accepted and
    ignored (Encord documents item descriptions as unsupported)."""

    name: str | None = None
    client_metadata: dict | None = None


@dataclass(frozen=True)
class DeleteResult:
    removed_items_count: int
    removed_folders_count: int


def parse_item_patch(body: Mapping[str, Any]) -> ItemPatch:
    """An item PATCH body (camelCase, §2.7) as an ItemPatch; InvalidArgumentError names the key."""
    if not isinstance(body, Mapping):
        raise InvalidArgumentError("An item patch must be a JSON object.")
    for key, kind in UNSERVED_PATCH_KEYS.items():
        if key in body:
            raise InvalidArgumentError(f"{key}: {kind} items are not supported by this server.", field=key)
    unknown = set(body) - PATCH_KEYS
    if unknown:
        raise InvalidArgumentError(f"Unknown keys in the item patch: {', '.join(sorted(unknown))}.", field="body")
    name = body.get("name")
    metadata = body.get("clientMetadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidArgumentError("clientMetadata must be a JSON object.", field="clientMetadata")
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        raise InvalidArgumentError("description must be a string.", field="description")
    return ItemPatch(name=clean_title(name, "name") if name is not None else None, client_metadata=metadata)


def apply_patch(item: m.StorageItem, patch: ItemPatch) -> None:
    fields = []
    if patch.name is not None:
        item.name = patch.name
        fields.append("name")
    if patch.client_metadata is not None:
        item.client_metadata = patch.client_metadata
        fields.append("client_metadata")
    if fields:
        item.save(update_fields=[*fields, "last_edited_at"])


def touch_datasets_of(item_pks: Iterable[int]) -> None:
    """Datasets whose rows read these items were edited now (their rows' titles or metadata)."""
    m.Dataset.objects.filter(data_rows__item_id__in=list(item_pks)).update(last_edited_at=timezone.now())


def update_item(principal: Principal, folder_uuid: object, item_uuid: object, patch: ItemPatch) -> ItemInfo:
    """PATCH one item (§2.7, WRITE_FILES): rename, replace its metadata. The item as it now is."""
    gate = FolderGate(principal)
    item = load_item(principal, item_uuid, Op.WRITE_FILES, gate)
    require_folder_of_path(gate, folder_uuid, item, Op.WRITE_FILES)
    with transaction.atomic():
        apply_patch(item, patch)
        touch_datasets_of([item.pk])
    return item_info(item, backed_count=item.backed)


def update_items(principal: Principal, patches: Mapping[str, ItemPatch]) -> list[ItemInfo]:
    """patch-bulk (§2.7): every patch or none (one refusal refuses all); the items in the order
    given. Queries: one read, the folder checks, one write per item."""
    if len(patches) > MAX_BULK_PATCHES:
        raise InvalidArgumentError(f"At most {MAX_BULK_PATCHES} item patches per call.", field="itemPatches")
    wanted = {parse_uuid(k, "itemPatches"): p for k, p in patches.items()}
    gate = FolderGate(principal)
    found = {i.item_uuid: i for i in items_queryset().filter(item_uuid__in=list(wanted))}
    for key in wanted:
        if key not in found:
            raise item_not_found(key)
        gate.require(found[key].folder, Op.WRITE_FILES, item_not_found(key))
    with transaction.atomic():
        for key, patch in wanted.items():
            apply_patch(found[key], patch)
        touch_datasets_of(i.pk for i in found.values())
    return [item_info(found[k], backed_count=found[k].backed) for k in wanted]


def mirror_of(folder: m.StorageFolder) -> m.Dataset | None:
    return m.Dataset.objects.filter(backing_folder=folder).first()


def items_in_folder(
    principal: Principal, folder_uuid: object, item_uuids: Iterable[object], op: Op
) -> tuple[m.StorageFolder, FolderGate, list[m.StorageItem], list]:
    """The folder (`op` on it), its gate, the named items that are in it, and the uuids of those
    gone. A named item elsewhere is refused (400), a subfolder too: folders are deleted as folders."""
    parsed = parse_uuid(folder_uuid, "folder_uuid")
    folder = m.StorageFolder.objects.filter(folder_uuid=parsed).first()
    if folder is None:
        raise folder_not_found(parsed)
    gate = FolderGate(principal)
    gate.require(folder, op, folder_not_found(parsed))
    wanted = list(dict.fromkeys(parse_uuid(u, "item_uuids") for u in item_uuids))
    if len(wanted) > MAX_ITEMS_PER_CALL:
        raise InvalidArgumentError(f"At most {MAX_ITEMS_PER_CALL} items per call.", field="itemUuids")
    found = list(m.StorageItem.objects.select_related("folder").filter(item_uuid__in=wanted))
    # An item elsewhere is named only if the caller may open its folder; otherwise it reads as
    # gone, exactly like a uuid that names nothing.
    elsewhere = [i for i in found if i.folder_id != folder.pk]
    named = [str(i.item_uuid) for i in elsewhere if gate.may(i.folder, Op.READ_FILES)]
    if named:
        raise InvalidArgumentError(f"Items {', '.join(named[:20])} are not in folder {parsed}.", field="itemUuids")
    found = [i for i in found if i.folder_id == folder.pk]
    subfolders = m.StorageFolder.objects.filter(folder_uuid__in=wanted).values_list("folder_uuid", flat=True)
    if subfolders:
        raise InvalidArgumentError(
            f"{', '.join(map(str, subfolders))} are folders: delete or move them as folders.", field="itemUuids"
        )
    gone = sorted(set(wanted) - {i.item_uuid for i in found})
    return folder, gate, found, gone


def item_files(items: list[m.StorageItem]) -> list[str]:
    """Hosted file keys of these items and their children that no other item still uses (one rule
    with folder delete: hosted_files.unshared_files)."""
    return hosted_files.unshared_files(m.StorageItem.objects.filter(pk__in=[i.pk for i in items]))


def refuse_items_in_use(principal: Principal, items: list[m.StorageItem], mirror: m.Dataset | None) -> None:
    """InvalidArgumentError if rows of any dataset but the folder's mirror link these items, naming
    the datasets the caller may open and counting the others."""
    others = m.DataRow.objects.filter(item__in=items)
    if mirror is not None:
        others = others.exclude(dataset=mirror)
    used_by = set(others.values_list("dataset_id", flat=True))
    if used_by:
        raise InvalidArgumentError(
            f"These items back data rows of {dataset_names.named_for(principal, used_by)}: remove those rows first.",
            field="itemUuids",
        )


def delete_items(
    principal: Principal, folder_uuid: object, item_uuids: Iterable[object], *, remove_unused_frames: bool = True
) -> DeleteResult:
    """Deletes items of a folder (§2.8, MANAGE_FILES) with their children (a frame belongs to one
    group here, so `remove_unused_frames` changes nothing) and, after commit, their hosted files.
    In a mirror folder an item's row goes with it; an item that backs rows of any other dataset
    is refused, naming those datasets. Items already gone count 0, so a retry succeeds."""
    folder, _gate, found, _gone = items_in_folder(principal, folder_uuid, item_uuids, Op.MANAGE_FILES)
    mirror = mirror_of(folder)
    with transaction.atomic():
        # Locked, then checked: a link made meanwhile waits for this delete, or is seen here.
        found = list(m.StorageItem.objects.select_for_update().filter(pk__in=[i.pk for i in found]))
        refuse_items_in_use(principal, found, mirror)
        keys = item_files(found)
        if mirror is not None:
            dataset_stats.counted_delete(m.DataRow.objects.filter(dataset=mirror, item__in=found))
            m.Dataset.objects.filter(pk=mirror.pk).update(last_edited_at=timezone.now())
        try:
            with transaction.atomic():
                deleted = m.StorageItem.objects.filter(pk__in=[i.pk for i in found]).delete()
        except ProtectedError:  # linked between the check and the delete (SQLite has no row locks)
            refuse_items_in_use(principal, found, mirror)
            raise
        count = deleted[1].get("datasets_app.StorageItem", 0)
        queue.delete_files_after_commit(keys)
    return DeleteResult(removed_items_count=count, removed_folders_count=0)


def move_items(
    principal: Principal,
    folder_uuid: object,
    item_uuids: Iterable[object],
    new_parent_uuid: object,
    *,
    allow_synced_dataset_move: bool = False,
) -> int:
    """Moves items of a folder into another (§2.9): MANAGE_FILES on the source, WRITE_FILES on the
    target. Across a mirror folder (either side) only with `allow_synced_dataset_move`: rows leave
    the source's dataset and appear in the target's. Items already in the target count as moved
    (a retry succeeds); returns how many moved now."""
    target_uuid = parse_uuid(new_parent_uuid, "newParentUuid")
    target = m.StorageFolder.objects.filter(folder_uuid=target_uuid).first()
    if target is None:
        raise folder_not_found(target_uuid)
    wanted = list(item_uuids)
    in_target = set(
        m.StorageItem.objects.filter(folder=target, item_uuid__in=[parse_uuid(u, "item_uuids") for u in wanted])
        .values_list("item_uuid", flat=True)
    )
    source, gate, found, _gone = items_in_folder(
        principal, folder_uuid, [u for u in wanted if parse_uuid(u, "item_uuids") not in in_target], Op.MANAGE_FILES
    )
    gate.require(target, Op.WRITE_FILES, folder_not_found(target_uuid))
    if not found or source.pk == target.pk:
        return 0
    return relink_and_move(found, source, target, allow_synced_dataset_move)


def relink_and_move(found: list[m.StorageItem], source: m.StorageFolder, target: m.StorageFolder, allow: bool) -> int:
    """Moves checked items; keeps mirror datasets equal to their folders."""
    source_ds, target_ds = mirror_of(source), mirror_of(target)
    if (source_ds or target_ds) and not allow:
        raise InvalidArgumentError(
            "Moving these items would change a mirror dataset's data units (and may delete their labels): "
            "pass allow_mirror_dataset_changes=True to move them.",
            field="allowSyncedDatasetMove",
        )
    now = timezone.now()
    with transaction.atomic():
        if source_ds is not None:
            dataset_stats.counted_delete(m.DataRow.objects.filter(dataset=source_ds, item__in=found))
            m.Dataset.objects.filter(pk=source_ds.pk).update(last_edited_at=now)
        if target_ds is not None:
            linked = set(m.DataRow.objects.filter(dataset=target_ds, item__in=found).values_list("item_id", flat=True))
            new = [m.DataRow(dataset=target_ds, item=i) for i in found if i.pk not in linked]
            m.DataRow.objects.bulk_create(new)
            dataset_stats.rows_added(new)
            m.Dataset.objects.filter(pk=target_ds.pk).update(last_edited_at=now)
        moved = m.StorageItem.objects.filter(pk__in=[i.pk for i in found]).update(folder=target, last_edited_at=now)
        m.StorageFolder.objects.filter(pk__in=[source.pk, target.pk]).update(last_edited_at=now)
    return moved


def create_data_groups(principal: Principal, folder_uuid: object) -> NoReturn:
    """Data groups (§2.10) are not modelled: refused with 400 once the folder is known to the caller."""
    parsed = parse_uuid(folder_uuid, "folder_uuid")
    folder = m.StorageFolder.objects.filter(folder_uuid=parsed).first()
    if folder is None:
        raise folder_not_found(parsed)
    FolderGate(principal).require(folder, Op.WRITE_FILES, folder_not_found(parsed))
    raise InvalidArgumentError("Data groups are not supported by this server.", field="body")
