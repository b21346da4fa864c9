"""Linking storage items into a dataset (Encord's `Dataset.link_items`): a data row is a dataset's
link to an item, so linking makes rows and copies no bytes.

Who may: WRITE_DATA on the dataset (policy.require) and READ_FILES on the folder of every item
(folder rows of the policy table, once per distinct folder). All or nothing: one refused item
refuses the call and nothing is linked. A mirror dataset's contents are its folder: linking into
it is refused (move or upload items into the folder instead). Child items (frames of a group,
files of a DICOM series) are refused: link their parent.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from datasets_app import models as m

from .exceptions import AuthorisationError, InvalidArgumentError, ResourceExistsError
from .folder_access import parse_uuid
from .policy import Op, Principal, require
from .storage_items import FolderGate

DUPLICATE_MODES = ("SKIP", "FAIL", "DUPLICATE")
MAX_LINK_ITEMS = 1_000_000
# Rows of a query's `IN (...)` and of one INSERT: under SQLite's 32,766 bound parameters.
CHUNK = 5000
SHOWN = 20


def chunks(values: list, size: int = CHUNK) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def named(uuids: list, noun: str) -> str:
    shown = ", ".join(map(str, uuids[:SHOWN]))
    more = f" and {len(uuids) - SHOWN} more" if len(uuids) > SHOWN else ""
    return f"{noun}{'s' if len(uuids) > 1 else ''} {shown}{more}"


def clean_request(dataset: m.Dataset, item_uuids: Iterable[object], duplicates: str) -> list[uuid.UUID]:
    """The distinct item uuids in request order; InvalidArgumentError for a bad call."""
    if duplicates not in DUPLICATE_MODES:
        raise InvalidArgumentError(
            f"duplicates must be one of {', '.join(DUPLICATE_MODES)}, not {str(duplicates)[:40]!r}.",
            field="duplicates",
        )
    if dataset.backing_folder_id is not None:
        raise InvalidArgumentError(
            f"Dataset {dataset.title!r} mirrors a folder: its data units are that folder's items. "
            "Move or upload items into the folder instead of linking them.",
            field="dataset_hash",
        )
    if isinstance(item_uuids, (str, bytes)):
        raise InvalidArgumentError("item_uuids must be a list of item UUIDs.", field="item_uuids")
    wanted = list(dict.fromkeys(parse_uuid(u, "item_uuids") for u in item_uuids))
    if not wanted:
        raise InvalidArgumentError("Give at least one item to link.", field="item_uuids")
    if len(wanted) > MAX_LINK_ITEMS:
        raise InvalidArgumentError(f"Link at most {MAX_LINK_ITEMS} items per call.", field="item_uuids")
    return wanted


def load_items(principal: Principal, wanted: list[uuid.UUID]) -> dict[uuid.UUID, m.StorageItem]:
    """The items by uuid, each in a folder the caller may read; refuses children and unknown or
    hidden items (the same answer). One query per CHUNK items plus the checks per distinct folder."""
    found: dict[uuid.UUID, m.StorageItem] = {}
    for part in chunks(wanted):
        for item in m.StorageItem.objects.select_related("folder").filter(item_uuid__in=part):
            found[item.item_uuid] = item
    gate = FolderGate(principal)
    absent = [u for u in wanted if u not in found]
    if absent:
        children = []
        for part in chunks(absent):
            members = m.DataRowMember.objects.select_related("item__folder").filter(image_hash__in=part)
            # Only a child the caller may read is named as a child; others are simply not found.
            children += [c.image_hash for c in members if gate.may(c.item.folder, Op.READ_FILES)]
        if children:
            raise InvalidArgumentError(
                f"{named(children, 'Item')} {'are child items' if len(children) > 1 else 'is a child item'} "
                "(a frame of an image group or a file of a DICOM series): link the group or series instead.",
                field="item_uuids",
            )
        raise AuthorisationError(f"{named(absent, 'Item')} do not exist or you do not have access to them")
    folders: dict[int, m.StorageFolder] = {}
    for item in found.values():
        folders.setdefault(item.folder_id, item.folder)
    readable = {pk for pk, folder in folders.items() if gate.may(folder, Op.READ_FILES)}
    refused = [u for u in wanted if found[u].folder_id not in readable]
    if refused:
        raise AuthorisationError(f"{named(refused, 'Item')} do not exist or you do not have access to them")
    return found


def existing_rows(dataset: m.Dataset, items: list[m.StorageItem]) -> dict[int, m.DataRow]:
    """The dataset's first row of each of these items, by item pk (one query per CHUNK)."""
    rows: dict[int, m.DataRow] = {}
    for part in chunks([i.pk for i in items]):
        for row in m.DataRow.objects.filter(dataset=dataset, item_id__in=part).order_by("-created_at", "-id"):
            rows[row.item_id] = row  # oldest last, so it wins
    return rows


def link_items(
    principal: Principal, dataset_hash: object, item_uuids: Iterable[object], duplicates: str = "SKIP"
) -> list[m.DataRow]:
    """One row per distinct requested item, in request order (each row with its item loaded).
    `duplicates` decides items the dataset already links: SKIP returns the existing row, FAIL
    raises ResourceExistsError naming them (nothing linked), DUPLICATE makes another row.
    Bulk: a few queries per 5,000 items, whatever the count."""
    dataset = require(principal, dataset_hash, Op.WRITE_DATA)
    wanted = clean_request(dataset, item_uuids, duplicates)
    found = load_items(principal, wanted)
    items = [found[u] for u in wanted]
    with transaction.atomic():
        # One linker per dataset at a time, so two SKIP calls never both add the same item.
        m.Dataset.objects.select_for_update().filter(pk=dataset.pk).values_list("pk").first()
        linked = {} if duplicates == "DUPLICATE" else existing_rows(dataset, items)
        if linked and duplicates == "FAIL":
            already = [i for i in items if i.pk in linked]
            shown = ", ".join(f"{i.name!r} ({i.item_uuid})" for i in already[:SHOWN])
            raise ResourceExistsError(
                f"Dataset {dataset.title!r} already links {len(already)} of these items: {shown}.",
                item_uuids=[str(i.item_uuid) for i in already[:SHOWN]],
            )
        new = [m.DataRow(dataset=dataset, item=i) for i in items if i.pk not in linked]
        m.DataRow.objects.bulk_create(new, batch_size=CHUNK)
        if new:
            m.Dataset.objects.filter(pk=dataset.pk).update(last_edited_at=timezone.now())
    made = iter(new)
    rows = []
    for item in items:
        row = linked.get(item.pk) or next(made)
        row.item = item
        rows.append(row)
    return rows
