"""Storage items as one principal sees them (Encord's Files API, protocol §2): get one or many,
list a folder's, search every visible folder, an item's summary and its children.

Every read is decided by the folder rows of the policy table (folder_access.check, per distinct
folder); a missing item and a forbidden one are the same AuthorisationError. Writes (update,
delete, move) are in storage_item_changes.py."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from datasets_app import models as m
from datasets_app.media.downloads import signed_file_url

from . import folder_tree
from .exceptions import AuthorisationError, InvalidArgumentError
from .folder_access import check, folder_not_found, item_not_found, parse_uuid
from .policy import FOLDER_OPS, Op, Principal, allowed, grants_of, may, role_subquery

# StorageItemType wire values of our items (§0.8), and what each selects in a filter.
ITEM_TYPE_FILTERS: dict[str, Q] = {
    "video": Q(item_type=m.DataType.VIDEO),
    "image": Q(item_type=m.DataType.IMAGE),
    "imageGroup": Q(item_type=m.DataType.IMG_GROUP) & ~Q(is_optimised_image_group=True),
    "imageSequence": Q(item_type=m.DataType.IMG_GROUP, is_optimised_image_group=True),
    "dicomSeries": Q(item_type=m.DataType.DICOM),
}
# Types the SDK may ask for that no top-level item here has (children are never listed, §2.4).
UNSERVED_ITEM_TYPES = frozenset(
    {"group", "dicomFile", "audio", "timeseries", "nifti", "plainText", "pdf", "scene"}
)
CHILD_TYPES = {m.DataType.IMG_GROUP: "image", m.DataType.DICOM: "dicomFile"}
ORDERS = {"name": "name", "createdAt": "created_at"}
MAX_PAGE_SIZE = 1000
# get-bulk takes the items behind every row of a dataset (§2.2); past this, a 400 names the cap.
MAX_BULK_ITEMS = 100_000


@dataclass(frozen=True)
class ItemInfo:
    """One StorageItem as the wire carries it (§0.9); `client_metadata` is the object."""

    uuid: uuid.UUID
    parent: uuid.UUID
    item_type: str
    name: str
    client_metadata: dict
    owner: str
    created_at: dt.datetime
    last_edited_at: dt.datetime
    backed_data_units_count: int
    storage_location: str
    integration_hash: uuid.UUID | None
    url: str | None
    signed_url: str | None
    file_size: int | None
    mime_type: str | None
    duration: float | None
    fps: float | None
    height: int | None
    width: int | None
    frame_count: int | None
    dicom_instance_uid: str | None = None
    dicom_study_uid: str | None = None
    dicom_series_uid: str | None = None


@dataclass(frozen=True)
class ItemQuery:
    """A listing's filters, order and page (§2.4). `item_types` are wire values."""

    search: str | None = None
    item_types: tuple[str, ...] = ()
    is_in_dataset: bool | None = None
    recursive: bool = False
    order: str = "name"
    desc: bool = False
    page_size: int = 100
    page_token: str | None = None
    sign_urls: bool = False
    include_metadata: bool = True


@dataclass(frozen=True)
class ItemPage:
    results: list[ItemInfo]
    next_page_token: str | None


@dataclass(frozen=True)
class DatasetUse:
    dataset_hash: uuid.UUID
    backing_folder_uuid: uuid.UUID | None
    title: str
    data_hashes: list[uuid.UUID]
    data_units_created_at: dt.datetime


@dataclass(frozen=True)
class GroupItem:
    uuid: uuid.UUID
    name: str
    parent_uuid: uuid.UUID
    parent_name: str
    item_type: str


@dataclass(frozen=True)
class ItemSummary:
    frame_in_groups: int
    used_in_datasets: int
    accessible_group_items: list[GroupItem] = field(default_factory=list)
    accessible_datasets: list[DatasetUse] = field(default_factory=list)


# ---- one item -> ItemInfo --------------------------------------------------------------------


def wire_item_type(item: m.StorageItem) -> str:
    if item.item_type == m.DataType.IMG_GROUP:
        return "imageSequence" if item.is_optimised_image_group else "imageGroup"
    return {m.DataType.VIDEO: "video", m.DataType.IMAGE: "image", m.DataType.DICOM: "dicomSeries"}[item.item_type]


def storage_location_name(integration: m.CloudIntegration | None, url: str) -> str:
    """StorageLocationName (§0.8): `encord` for files we host, else the integration's provider
    (S3 with an endpoint is S3-compatible; HTTPS sources count as S3-compatible, as rows say)."""
    if not url or integration is None:
        return "encord"
    if integration.provider == m.IntegrationProvider.S3:
        return "s3Compatible" if integration.config.get("endpoint_url") else "s3"
    return {
        m.IntegrationProvider.GCS: "gcp",
        m.IntegrationProvider.AZURE: "azure",
        m.IntegrationProvider.HTTPS: "s3Compatible",
    }[integration.provider]


def item_signed_url(item: m.StorageItem, *, base_url: str | None) -> str | None:
    """A short-lived download URL of a single-file item (video, image); None for groups and series,
    which have no single file (the SDK asks their children instead). No query: signing is local."""
    if item.item_type not in (m.DataType.VIDEO, m.DataType.IMAGE):
        return None
    return signed_file_url(item.storage_key, item.url, item.integration, base_url=base_url, filename=item.name)


def item_info(
    item: m.StorageItem,
    *,
    backed_count: int,
    sign_url: bool = False,
    base_url: str | None = None,
    with_metadata: bool = True,
) -> ItemInfo:
    """An item (with folder, owner and integration loaded) as ItemInfo. No query."""
    return ItemInfo(
        uuid=item.item_uuid,
        parent=item.folder.folder_uuid,
        item_type=wire_item_type(item),
        name=item.name,
        client_metadata=(item.client_metadata or {}) if with_metadata else {},
        owner=item.owner.email if item.owner_id else "",
        created_at=item.created_at,
        last_edited_at=item.last_edited_at,
        backed_data_units_count=backed_count,
        storage_location=storage_location_name(item.integration, item.url),
        integration_hash=item.integration.integration_uuid if item.integration_id else None,
        url=item.url or item.storage_key or None,
        signed_url=item_signed_url(item, base_url=base_url) if sign_url else None,
        file_size=item.file_size,
        mime_type=item.mime_type or None,
        duration=item.duration,
        fps=item.fps,
        height=item.height,
        width=item.width,
        frame_count=item.frame_count,
    )


def child_info(member: m.DataRowMember, *, sign_url: bool = False, base_url: str | None = None) -> ItemInfo:
    """A frame of an image group or a file of a DICOM series as a child StorageItem (§2.6): its
    uuid is the member's image_hash, its parent the group's folder. No query (item loaded)."""
    item = member.item
    return ItemInfo(
        uuid=member.image_hash,
        parent=item.folder.folder_uuid,
        item_type=CHILD_TYPES.get(item.item_type, "image"),
        name=member.title,
        client_metadata={},
        owner=item.owner.email if item.owner_id else "",
        created_at=member.created_at,
        last_edited_at=member.last_edited_at,
        backed_data_units_count=0,
        storage_location=storage_location_name(item.integration, member.url),
        integration_hash=item.integration.integration_uuid if item.integration_id and member.url else None,
        url=member.url or member.storage_key or None,
        signed_url=signed_file_url(
            member.storage_key, member.url, item.integration, base_url=base_url, filename=member.title
        )
        if sign_url
        else None,
        file_size=member.file_size,
        mime_type=member.mime_type or None,
        duration=None,
        fps=None,
        height=member.height,
        width=member.width,
        frame_count=None,
    )


def backed_count_subquery() -> Coalesce:
    rows = (
        m.DataRow.objects.filter(item=OuterRef("pk")).order_by().values("item").annotate(c=Count("pk")).values("c")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))


def items_queryset() -> QuerySet[m.StorageItem]:
    """Items with what ItemInfo reads (folder, owner, integration, `backed` row count): one query."""
    return m.StorageItem.objects.select_related("folder", "owner", "integration").annotate(
        backed=backed_count_subquery()
    )


class FolderGate:
    """Decides READ/WRITE/MANAGE on folders for one principal, once per distinct folder."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self.decided: dict[tuple[int, Op], bool] = {}

    def may(self, folder: m.StorageFolder, op: Op) -> bool:
        key = (folder.pk, op)
        if key not in self.decided:
            try:
                check(self.principal, folder, op, folder_not_found(folder.folder_uuid))
                self.decided[key] = True
            except AuthorisationError:
                self.decided[key] = False
        return self.decided[key]

    def require(self, folder: m.StorageFolder, op: Op, missing: AuthorisationError) -> None:
        """`missing` when the principal holds nothing here, the not-allowed error when too little."""
        if op not in FOLDER_OPS:
            raise ValueError(op)
        if not self.may(folder, op):
            check(self.principal, folder, op, missing)


def require_folder_of_path(gate: FolderGate, folder_uuid: object, item: m.StorageItem, op: Op) -> None:
    """The item must be in the folder the path names (the SDK's cached parent, §2.7): 400 says so
    once the caller may see the item."""
    gate.require(item.folder, op, item_not_found(item.item_uuid))
    wanted = parse_uuid(folder_uuid, "folder_uuid")
    if item.folder.folder_uuid != wanted:
        raise InvalidArgumentError(
            f"Item {item.item_uuid} is not in folder {wanted}: it is in folder {item.folder.folder_uuid}.",
            field="folder_uuid",
        )


def load_item(principal: Principal, item_uuid: object, op: Op, gate: FolderGate | None = None) -> m.StorageItem:
    """One item (with `backed`) if `principal` may do `op` on its folder. Missing = forbidden."""
    parsed = parse_uuid(item_uuid, "item_uuid")
    item = items_queryset().filter(item_uuid=parsed).first()
    if item is None:
        raise item_not_found(parsed)
    (gate or FolderGate(principal)).require(item.folder, op, item_not_found(parsed))
    return item


# ---- get_storage_item(s) ---------------------------------------------------------------------


def get_storage_item(
    principal: Principal, item_uuid: object, *, sign_url: bool = False, base_url: str | None = None
) -> ItemInfo:
    """GET storage/items/<uuid> (§2.1): the item, or a child by its uuid (a frame or DICOM file)."""
    [info] = get_storage_items(principal, [item_uuid], sign_urls=sign_url, base_url=base_url)
    return info



def get_folder_item(principal: Principal, folder_uuid: object, item_uuid: object) -> ItemInfo:
    """The item as get_storage_item gives it, only when it lives in `folder_uuid` (pages open
    items under their folder); elsewhere it reads as missing."""
    info = get_storage_item(principal, item_uuid)
    if info.parent != parse_uuid(folder_uuid, "folder_uuid"):
        raise item_not_found(item_uuid)
    return info

def get_storage_items(
    principal: Principal, item_uuids: Iterable[object], *, sign_urls: bool = False, base_url: str | None = None
) -> list[ItemInfo]:
    """Items (or children) in the order asked (§2.2). Any unknown or invisible uuid: one
    AuthorisationError naming them all. Queries: 2 plus the folder checks, one set per folder."""
    wanted = [parse_uuid(u, "item_uuids") for u in item_uuids]
    if len(wanted) > MAX_BULK_ITEMS:
        raise InvalidArgumentError(f"Ask for at most {MAX_BULK_ITEMS} items at once.", field="itemUuids")
    found: dict[uuid.UUID, ItemInfo] = {}
    gate = FolderGate(principal)
    by_uuid = {i.item_uuid: i for i in items_queryset().filter(item_uuid__in=set(wanted))}
    for key, item in by_uuid.items():
        if gate.may(item.folder, Op.READ_FILES):
            found[key] = item_info(item, backed_count=item.backed, sign_url=sign_urls, base_url=base_url)
    rest = set(wanted) - set(by_uuid)
    if rest:
        members = m.DataRowMember.objects.select_related("item__folder", "item__owner", "item__integration")
        for member in members.filter(image_hash__in=rest):
            if gate.may(member.item.folder, Op.READ_FILES):
                found[member.image_hash] = child_info(member, sign_url=sign_urls, base_url=base_url)
    refused = [str(u) for u in dict.fromkeys(wanted) if u not in found]
    if refused:
        shown = ", ".join(refused[:20]) + (f" and {len(refused) - 20} more" if len(refused) > 20 else "")
        noun = "Item" if len(refused) == 1 else "Items"
        verb = "does" if len(refused) == 1 else "do"
        raise AuthorisationError(f"{noun} {shown} {verb} not exist or you do not have access to it")
    return [found[u] for u in wanted]


# ---- listings --------------------------------------------------------------------------------


def visible_folder_ids(principal: Principal, *, include_org_access: bool = False) -> QuerySet | None:
    """Ids of the folders `principal` may read, for `folder_id__in=`: folder_tree.reached_by, the
    rule storage_folders.visible_folders lists (owned, shared with them, mirrors of their datasets,
    and every subfolder of those). None means every folder (an organisation admin asking with
    include_org_access; anyone else asking so gets AuthorisationError, as the SDK documents).
    Dataset API keys and deactivated accounts read none."""
    if include_org_access:
        if not may(principal, Op.SEE_ORGANISATION):
            raise AuthorisationError("Only organisation admins may list with org_access.")
        return None
    if principal.api_key is not None or not principal.user.is_active:
        return m.StorageFolder.objects.none()
    return m.StorageFolder.objects.filter(pk__in=folder_tree.reached_by(principal.user)).values("pk")


def clean_query(q: ItemQuery) -> ItemQuery:
    if q.order not in ORDERS:
        raise InvalidArgumentError(f"order must be one of {', '.join(ORDERS)}, not {q.order!r}.", field="order")
    if not (isinstance(q.page_size, int) and 1 <= q.page_size <= MAX_PAGE_SIZE):
        raise InvalidArgumentError(f"pageSize must be 1 to {MAX_PAGE_SIZE}.", field="pageSize")
    for t in q.item_types:
        if t not in ITEM_TYPE_FILTERS and t not in UNSERVED_ITEM_TYPES:
            raise InvalidArgumentError(f"itemTypes: {t!r} is not a storage item type.", field="itemTypes")
    if q.search is not None and (not isinstance(q.search, str) or len(q.search) > 1024):
        raise InvalidArgumentError("search must be a string of at most 1024 characters.", field="search")
    return q


def filtered(qs: QuerySet, q: ItemQuery) -> QuerySet:
    if q.search:
        qs = qs.filter(name__icontains=q.search)  # % and _ are literal: Django escapes them
    if q.item_types:
        wanted = Q(pk__in=[])
        for t in q.item_types:
            wanted |= ITEM_TYPE_FILTERS.get(t, Q(pk__in=[]))
        qs = qs.filter(wanted)
    if q.is_in_dataset is not None:
        qs = qs.filter(backed__gt=0) if q.is_in_dataset else qs.filter(backed=0)
    return qs


def encode_token(value: Any, pk: int) -> str:
    raw = json.dumps([value, pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, order: str) -> tuple[Any, int]:
    try:
        value, pk = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        # bool is an int, and a pk past 64 bits or a NUL overflow the database, not the check
        if type(pk) is not int or not 0 < pk < 2**63 or not isinstance(value, str) or "\x00" in value:
            raise ValueError
        if order == "createdAt":
            value = dt.datetime.fromisoformat(value)
            if value.utcoffset() is None:
                raise ValueError
        return value, pk
    except (ValueError, TypeError, UnicodeDecodeError):
        raise InvalidArgumentError("pageToken is not one this server gave out.", field="pageToken") from None


def page_of(qs: QuerySet, q: ItemQuery, *, base_url: str | None) -> ItemPage:
    """One keyset page of `qs` in (order column, id) order: at most page_size items, a token when
    more follow. One query."""
    column = ORDERS[q.order]
    sign = "-" if q.desc else ""
    qs = qs.order_by(f"{sign}{column}", f"{sign}id")
    if q.page_token:
        value, pk = decode_token(q.page_token, q.order)
        after = "lt" if q.desc else "gt"
        # The redundant bound (name >= v) is what lets PostgreSQL range-scan the (folder, name, id)
        # index: the OR alone made a deep page of a 1M-item folder read 900k rows (259 ms).
        qs = qs.filter(
            Q(**{f"{column}__{after}e": value}),
            Q(**{f"{column}__{after}": value}) | Q(**{column: value, f"id__{after}": pk}),
        )
    chunk = list(qs[: q.page_size + 1])
    more = len(chunk) > q.page_size
    chunk = chunk[: q.page_size]
    results = [
        item_info(i, backed_count=i.backed, sign_url=q.sign_urls, base_url=base_url, with_metadata=q.include_metadata)
        for i in chunk
    ]
    token = None
    if more:
        last = chunk[-1]
        value = last.name if q.order == "name" else last.created_at.isoformat()
        token = encode_token(value, last.pk)
    return ItemPage(results=results, next_page_token=token)


def list_items(principal: Principal, folder_uuid: object, query: ItemQuery, *, base_url: str | None = None) -> ItemPage:
    """A folder's items (§2.4), or with `recursive` those of its subfolders too. Children (frames,
    DICOM files) are not items of a folder here. READ_FILES on the folder."""
    q = clean_query(query)
    parsed = parse_uuid(folder_uuid, "folder_uuid")
    folder = m.StorageFolder.objects.filter(folder_uuid=parsed).first()
    if folder is None:
        raise folder_not_found(parsed)
    FolderGate(principal).require(folder, Op.READ_FILES, folder_not_found(parsed))
    ids = folder_tree.subtree_ids([folder.pk]) if q.recursive else [folder.pk]
    return page_of(filtered(items_queryset().filter(folder_id__in=ids), q), q, base_url=base_url)


def find_storage_items(
    principal: Principal, query: ItemQuery, *, include_org_access: bool = False, base_url: str | None = None
) -> ItemPage:
    """Items of every folder `principal` may read, at any depth (§2.3, deprecated by Encord)."""
    q = clean_query(query)
    ids = visible_folder_ids(principal, include_org_access=include_org_access)
    qs = items_queryset() if ids is None else items_queryset().filter(folder_id__in=ids)
    return page_of(filtered(qs, q), q, base_url=base_url)


# ---- summary and children --------------------------------------------------------------------


def get_item_summary(principal: Principal, folder_uuid: object, item_uuid: object) -> ItemSummary:
    """Which datasets use the item (§2.5): all of them counted, the ones `principal` may read
    listed with their rows' hashes and the earliest row's time. Three queries plus the check."""
    gate = FolderGate(principal)
    item = load_item(principal, item_uuid, Op.READ_FILES, gate)
    require_folder_of_path(gate, folder_uuid, item, Op.READ_FILES)
    rows = m.DataRow.objects.filter(item=item).order_by("created_at", "id")
    used = rows.values("dataset_id").distinct().count()
    datasets = m.Dataset.objects.filter(data_rows__item=item).distinct().select_related("backing_folder")
    if principal.user is not None:
        datasets = datasets.annotate(my_role=role_subquery(principal.user))
    readable = {
        ds.pk: ds
        for ds in datasets
        if allowed(Op.READ, grants_of(principal, ds, getattr(ds, "my_role", None)))
    }
    uses: dict[int, list[m.DataRow]] = {}
    for row in rows.filter(dataset_id__in=list(readable)):
        uses.setdefault(row.dataset_id, []).append(row)
    accessible = [
        DatasetUse(
            dataset_hash=readable[pk].dataset_hash,
            backing_folder_uuid=readable[pk].backing_folder_uuid,
            title=readable[pk].title,
            data_hashes=[r.data_hash for r in ds_rows],
            data_units_created_at=ds_rows[0].created_at,
        )
        for pk, ds_rows in uses.items()
    ]
    return ItemSummary(frame_in_groups=0, used_in_datasets=used, accessible_datasets=accessible)


def get_child_items(
    principal: Principal,
    folder_uuid: object,
    item_uuid: object,
    *,
    sign_urls: bool = False,
    base_url: str | None = None,
) -> list[ItemInfo]:
    """The frames of an image group / sequence or the files of a DICOM series, in sequence order
    (§2.6); [] for other items. One page, everything. Two queries plus the check."""
    gate = FolderGate(principal)
    item = load_item(principal, item_uuid, Op.READ_FILES, gate)
    require_folder_of_path(gate, folder_uuid, item, Op.READ_FILES)
    members = list(item.members.order_by("data_sequence"))
    for member in members:
        member.item = item  # loaded already: no query per child
    return [child_info(member, sign_url=sign_urls, base_url=base_url) for member in members]
