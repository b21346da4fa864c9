"""One unit of a data job, whatever the bytes' source: its typed spec and the rows it becomes.

Media arrives three ways (browser chunks, SDK uploads, private-cloud URLs) and becomes the same
records. A unit's spec (UnitSpec, stored in DataJobUnit.spec) names its kind and files in one
vocabulary; one builder per media kind (video or image, image group, DICOM series) makes its
storage item (in the Destination's folder), the DataRow linking it and its members from probed
FileFacts. Only `place` differs by source: a hosted file's
storage key, SHA-256 and thumbnail, or a private object's URL and integration."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from datasets_app import models as m
from datasets_app.media.dicom import series_order
from datasets_app.media.probe import MediaError

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
            "files": [{"source": f.source, "title": f.title, "sha256": f.sha256, "size": f.size} for f in self.files],
        }
        if self.metadata is not None:
            out["metadata"] = self.metadata
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
        )


def group_digest(shas: list[str]) -> str:
    """The content digest of an image group or series: SHA-256 over its files' digests, in order."""
    return hashlib.sha256("\n".join(shas).encode()).hexdigest()


# ---- rows, one builder per media kind --------------------------------------------------------------

NO_BACKING_FOLDER = (
    "This dataset has no backing folder: create the files in a storage folder and link them with "
    "link_items, or pass folder=."
)


def require_backing_folder(ds: m.Dataset) -> None:
    """Refuses a job that would create items in a plain dataset (no backing folder): Encord's
    answer (§4.3) until uploads name a folder (`folder=`, the wire's folderUuid). No query."""
    if ds.backing_folder_id is None:
        raise InvalidArgumentError(NO_BACKING_FOLDER, field="folder")


@dataclass(frozen=True)
class Destination:
    """Where a unit's media goes: the folder its items are created in, their owner, and the
    dataset whose rows link them."""

    dataset_id: int
    folder_id: int
    owner_id: int | None

    @classmethod
    def of_job(cls, job: m.DataJob) -> Destination:
        """The job's dataset's backing folder, the job's creator as owner. No query when the job
        was read with select_related("dataset"), else one. MediaError for a dataset without a
        backing folder (job starts refuse those; see NO_BACKING_FOLDER)."""
        folder_id = job.dataset.backing_folder_id
        if folder_id is None:
            raise MediaError(NO_BACKING_FOLDER)
        return cls(dataset_id=job.dataset_id, folder_id=folder_id, owner_id=job.created_by_id)

    def row(self, item: m.StorageItem) -> m.DataRow:
        """The (unsaved) row linking the (unsaved) item; saving the item first gives the row its key."""
        return m.DataRow(dataset_id=self.dataset_id, item=item)

    def item(self, **fields) -> m.StorageItem:
        return m.StorageItem(folder_id=self.folder_id, owner_id=self.owner_id, **fields)


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


def single_row(*, dest: Destination, spec: UnitSpec, title: str, facts: FileFacts, place: dict) -> m.DataRow:
    """The row (and its item, `row.item`) of a video or an image."""
    item = dest.item(
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


def _members(files: list[FileFacts]) -> list[m.DataRowMember]:
    # Without their item yet: unit_outcomes.commit_unit sets it once the item is saved.
    return [
        m.DataRowMember(
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
    item = dest.item(
        name=title,
        item_type=m.DataType.IMG_GROUP,
        file_size=sum(f.size or 0 for f in files),
        mime_type=files[0].mime_type,
        width=files[0].width,
        height=files[0].height,
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
