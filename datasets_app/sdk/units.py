"""One unit of a data job, whatever the bytes' source: its typed spec and the rows it becomes.

Media arrives three ways (browser chunks, SDK uploads, private-cloud URLs) and becomes the same
records. A unit's spec (UnitSpec, stored in DataJobUnit.spec) names its kind and files in one
vocabulary; one builder per media kind (video or image, image group, DICOM series) makes its
storage item (in the Destination's folder), the DataRow linking it and its members from probed
FileFacts. Only `place` differs by source: a hosted file's
storage key, SHA-256 and thumbnail, or a private object's URL and integration."""

from __future__ import annotations

import hashlib
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from datasets_app import models as m
from datasets_app.media.dicom import series_order
from datasets_app.media.probe import MediaError

from .bulk_insert import fast_insert, fast_insert_linked
from .exceptions import InvalidArgumentError

KIND_VIDEO = "video"
KIND_IMAGE = "image"
KIND_IMAGE_GROUP = "image_group"
KIND_DICOM = "dicom"
DATA_TYPE = {
    KIND_VIDEO: m.DataType.VIDEO,
    KIND_IMAGE: m.DataType.IMAGE,
    KIND_IMAGE_GROUP: m.DataType.IMG_GROUP,
    KIND_DICOM: m.DataType.DICOM,
}
# Private imports stored DataType names as the unit type before this vocabulary was shared; units
# written then (still PENDING after an upgrade) are read through this.
KIND_OF_DATA_TYPE = {data_type: kind for kind, data_type in DATA_TYPE.items()}
DICOM_MIME = "application/dicom"


@dataclass
class UnitFile:
    """One file of a unit: a hosted object key or a private object's URL (`source`)."""

    source: str
    title: str = ""
    sha256: str = ""
    size: int | None = None
    # A Files upload's placeholder (the slot's item_uuid): the uuid its item or member gets.
    item_uuid: str = ""


@dataclass
class UnitSpec:
    """What one unit will add: a video, an image, an image group or a DICOM series."""

    kind: str
    files: list[UnitFile]
    title: str = ""
    client_metadata: dict = field(default_factory=dict)
    create_video: bool = False
    # videoMetadata / imageMetadata of a private import, trusted as given (no probe then)
    metadata: dict | None = None
    # A Files upload makes one image group whatever its images' sizes (the SDK returns one item);
    # a dataset upload splits a group by resolution (Encord's documented dataset behaviour).
    one_group: bool = False

    @property
    def sources(self) -> list[str]:
        return [f.source for f in self.files]

    @property
    def data_type(self) -> str:
        return DATA_TYPE[self.kind]

    def to_json(self) -> dict:
        out: dict[str, Any] = {
            "type": self.kind,
            "title": self.title,
            "client_metadata": self.client_metadata,
            "create_video": self.create_video,
            "files": [_file_json(f) for f in self.files],
        }
        if self.metadata is not None:
            out["metadata"] = self.metadata
        if self.one_group:
            out["one_group"] = True
        return out

    @classmethod
    def from_json(cls, spec: dict) -> UnitSpec:
        """Reads this vocabulary and both older ones: uploads' (`key`, or `files` of `key`s) and
        private imports' (DataType names, `urls`)."""
        kind = KIND_OF_DATA_TYPE.get(spec["type"], spec["type"])
        if "urls" in spec:
            files = [UnitFile(source=url) for url in spec["urls"]]
        elif "files" in spec:
            files = [
                UnitFile(
                    source=f.get("source") or f["key"],
                    title=f.get("title") or "",
                    sha256=f.get("sha256") or "",
                    size=f.get("size"),
                    item_uuid=f.get("item_uuid") or "",
                )
                for f in spec["files"]
            ]
        else:
            files = [UnitFile(spec["key"], spec.get("title") or "", spec.get("sha256") or "", spec.get("size"))]
        return cls(
            kind=kind,
            files=files,
            title=spec.get("title") or "",
            client_metadata=spec.get("client_metadata") or {},
            create_video=bool(spec.get("create_video")),
            metadata=spec.get("metadata"),
            one_group=bool(spec.get("one_group")),
        )


def _file_json(f: UnitFile) -> dict:
    out = {"source": f.source, "title": f.title, "sha256": f.sha256, "size": f.size}
    if f.item_uuid:
        out["item_uuid"] = f.item_uuid
    return out


def group_digest(shas: list[str]) -> str:
    """The content digest of an image group or series: SHA-256 over its files' digests, in order."""
    return hashlib.sha256("\n".join(shas).encode()).hexdigest()


# ---- rows, one builder per media kind --------------------------------------------------------------

NO_BACKING_FOLDER = (
    "This dataset has no backing folder: create the files in a storage folder and link them with "
    "link_items, or pass folder=."
)
MIRROR_WITH_FOLDER = (
    "This dataset mirrors its own folder: its files go there. Upload without folder= (or upload into "
    "the folder, or use a dataset created with create_backing_folder=False)."
)


def require_backing_folder(ds: m.Dataset, folder: m.StorageFolder | None = None) -> None:
    """Where a dataset job may put its items (§4.3): a mirror dataset into its backing folder only
    (a folder= is refused), a plain dataset only into a folder it names (folder=, the wire's
    folderUuid). InvalidArgumentError otherwise. No query."""
    if folder is not None and ds.backing_folder_id is not None:
        raise InvalidArgumentError(MIRROR_WITH_FOLDER, field="folder")
    if folder is None and ds.backing_folder_id is None:
        raise InvalidArgumentError(NO_BACKING_FOLDER, field="folder")


def mirror_of(folder_id: int) -> int | None:
    """The pk of the dataset this folder backs, or None (one query)."""
    return m.Dataset.objects.filter(backing_folder_id=folder_id).values_list("pk", flat=True).first()


@dataclass(frozen=True)
class Destination:
    """Where a unit's media goes: the folder its items are created in, their owner, the dataset
    whose rows the unit's results name (None: a Files upload into a folder no dataset mirrors; the
    builders' rows then only carry their items) and `also`, other datasets whose rows link the
    items (the folder's mirror when a plain dataset's upload names it)."""

    dataset_id: int | None
    folder_id: int
    owner_id: int | None
    also: tuple[int, ...] = ()

    @classmethod
    def of_job(cls, job: m.DataJob) -> Destination:
        """The job's folder (before 0010: its dataset's backing folder), the job's creator as owner.
        No query for a dataset job without a folder read with select_related("dataset"), else one
        (the folder's mirror). MediaError when there is no folder (job starts refuse those)."""
        folder_id = job.folder_id
        if folder_id is None:
            folder_id = job.dataset.backing_folder_id if job.dataset_id is not None else None
            if folder_id is None:
                raise MediaError(NO_BACKING_FOLDER)
            return cls(dataset_id=job.dataset_id, folder_id=folder_id, owner_id=job.created_by_id)
        mirror = mirror_of(folder_id)
        if job.dataset_id is None:
            return cls(dataset_id=mirror, folder_id=folder_id, owner_id=job.created_by_id)
        also = (mirror,) if mirror is not None and mirror != job.dataset_id else ()
        return cls(dataset_id=job.dataset_id, folder_id=folder_id, owner_id=job.created_by_id, also=also)

    def row(self, item: m.StorageItem) -> m.DataRow:
        """The (unsaved) row linking the (unsaved) item; saving the item first gives the row its key.
        With no dataset it is never saved: it carries the item (and keys the item's members)."""
        return m.DataRow(dataset_id=self.dataset_id, item=item)

    def item(self, **fields) -> m.StorageItem:
        return m.StorageItem(folder_id=self.folder_id, owner_id=self.owner_id, **fields)

    def links(self, rows: list) -> list:
        """The rows to save for these built rows, once their items are saved (they have ids):
        those with a dataset, then also_rows."""
        return [r for r in rows if r.dataset_id is not None] + self.also_rows(rows)

    def also_rows(self, rows: list) -> list[m.DataRow]:
        """One row per built row's (saved) item for each dataset in `also`."""
        return [
            m.DataRow(dataset_id=dataset_id, item_id=r.item.id, created_by_job_id=r.created_by_job_id)
            for dataset_id in self.also
            for r in rows
        ]


def insert_built(rows: list, *, now, members: list | None = None, dest: Destination) -> None:
    """Bulk-writes built rows (blank_rows or models, each with its unsaved `item`): the items, the
    rows linking them (dest.links) and the members. The private import's fast path."""
    if not rows:
        return
    if dest.dataset_id is not None:
        fast_insert_linked(rows, now=now, members=members)
    else:
        items = [r.item for r in rows]
        fast_insert(items, now=now, model=m.StorageItem)
        uuids = [i.item_uuid for i in items]
        ids: dict = {}
        for start in range(0, len(uuids), 5000):
            chunk = uuids[start : start + 5000]
            ids.update(m.StorageItem.objects.filter(item_uuid__in=chunk).values_list("item_uuid", "id"))
        for item in items:
            item.id = ids[item.item_uuid]
        for member in members or []:
            member.item_id = member.item.id
        fast_insert(members or [], now=now, model=m.DataRowMember)
    fast_insert(dest.also_rows(rows), now=now, model=m.DataRow)


@dataclass
class FileFacts:
    """What probing one file told, and where its bytes are (`place`: the source's row columns)."""

    title: str
    place: dict
    size: int | None = None
    mime_type: str = ""
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    duration: float | None = None
    frame_count: int | None = None
    media_info: dict = field(default_factory=dict)
    instance_number: int | None = None
    pixels: int = 0  # counted toward the unit's media limit
    thumbnail: bytes | None = None  # a hosted file's JPEG, stored once the unit is kept
    item_uuid: str = ""  # a Files upload's placeholder (UnitFile.item_uuid)


def placeholder(value: str) -> dict:
    """The uuid field of an item or member made from a placeholder ({} without one)."""
    return {"item_uuid": uuid.UUID(value)} if value else {}


def single_row(*, dest: Destination, spec: UnitSpec, title: str, facts: FileFacts, place: dict) -> m.DataRow:
    """The row (and its item, `row.item`) of a video or an image."""
    item = dest.item(
        **placeholder(facts.item_uuid),
        name=title,
        item_type=spec.data_type,
        file_size=facts.size,
        mime_type=facts.mime_type,
        width=facts.width,
        height=facts.height,
        fps=facts.fps,
        duration=facts.duration,
        frame_count=facts.frame_count,
        client_metadata=spec.client_metadata,
        media_info=facts.media_info,
        **place,
    )
    return dest.row(item)


def by_resolution(files: list[FileFacts]) -> OrderedDict[tuple, list[FileFacts]]:
    """An image group's files split by resolution, each part keeping the caller's order."""
    groups: OrderedDict[tuple, list[FileFacts]] = OrderedDict()
    for f in files:
        groups.setdefault((f.width, f.height), []).append(f)
    return groups


def group_parts(spec: UnitSpec, files: list[FileFacts]) -> OrderedDict[tuple, list[FileFacts]]:
    """The image groups a unit makes: one per resolution, or (spec.one_group) one of all files."""
    if spec.one_group:
        return OrderedDict([(common_size(files), files)])
    return by_resolution(files)


def common_size(files: list[FileFacts]) -> tuple[int | None, int | None]:
    """(width, height) shared by every file, else (None, None): a group of mixed sizes has none."""
    sizes = {(f.width, f.height) for f in files}
    return sizes.pop() if len(sizes) == 1 else (None, None)


def _members(files: list[FileFacts]) -> list[m.DataRowMember]:
    # Without their item yet: unit_outcomes.commit_unit sets it once the item is saved.
    return [
        m.DataRowMember(
            **({"image_hash": uuid.UUID(f.item_uuid)} if f.item_uuid else {}),
            data_sequence=seq,
            title=f.title,
            mime_type=f.mime_type,
            file_size=f.size,
            width=f.width,
            height=f.height,
            **f.place,
        )
        for seq, f in enumerate(files)
    ]


def image_group_row(
    *, dest: Destination, spec: UnitSpec, title: str, files: list[FileFacts], place: dict
) -> tuple[m.DataRow, list[m.DataRowMember]]:
    """The row (with its item) and the item's members of one image group (files of one
    resolution, in order)."""
    members = _members(files)
    width, height = common_size(files)
    item = dest.item(
        name=title,
        item_type=m.DataType.IMG_GROUP,
        file_size=sum(f.size or 0 for f in files),
        mime_type=files[0].mime_type,
        width=width,
        height=height,
        frame_count=len(files),
        client_metadata=spec.client_metadata,
        is_optimised_image_group=spec.create_video,
        sequence_video_status="PENDING" if spec.create_video else "",
        **place,
    )
    return dest.row(item), members


def dicom_order(files: list) -> list:
    """A series' files by InstanceNumber; files without one keep the caller's order, last."""
    return [files[i] for i in series_order(files)]


def dicom_row(
    *, dest: Destination, spec: UnitSpec, title: str, files: list[FileFacts], place: dict
) -> tuple[m.DataRow, list[m.DataRowMember]]:
    """The row (with its item) and the item's members of a DICOM series; `files` already in
    dicom_order."""
    first = files[0]
    item = dest.item(
        name=title,
        item_type=m.DataType.DICOM,
        file_size=sum(f.size or 0 for f in files),
        mime_type=DICOM_MIME,
        width=first.width,
        height=first.height,
        frame_count=len(files),
        client_metadata=spec.client_metadata,
        media_info=first.media_info,
        **place,
    )
    return dest.row(item), _members(files)
