"""Return types of the SDK layer, with Encord's names and fields."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Any


class StorageLocation(IntEnum):
    CORD_STORAGE = 0
    AWS = 1
    GCP = 2
    AZURE = 3
    S3_COMPATIBLE = 4

    @property
    def wire_name(self) -> str:
        """The string Encord's v1 dataset object uses (`dataset_type`)."""
        return _STORAGE_WIRE_NAMES[self]

    @classmethod
    def parse(cls, value: Any) -> StorageLocation:
        """Accepts the integer, its name or the wire string; raises ValueError otherwise."""
        if isinstance(value, StorageLocation):
            return value
        if isinstance(value, bool):
            raise ValueError(f"not a storage location: {value!r}")
        if isinstance(value, int):
            return cls(value)
        if isinstance(value, str):
            text = value.strip().upper()
            for member in cls:
                if text in (member.name, member.wire_name) or text == str(member.value):
                    return member
        raise ValueError(f"not a storage location: {value!r}")


_STORAGE_WIRE_NAMES = {
    StorageLocation.CORD_STORAGE: "CORD_STORAGE",
    StorageLocation.AWS: "AWS_S3",
    StorageLocation.GCP: "GCP_STR",
    StorageLocation.AZURE: "AZURE_STR",
    StorageLocation.S3_COMPATIBLE: "S3_COMPATIBLE_STR",
}


class DatasetUserRole(IntEnum):
    ADMIN = 0
    USER = 1

    @classmethod
    def parse(cls, value: Any) -> DatasetUserRole:
        if isinstance(value, DatasetUserRole):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return cls(value)
        if isinstance(value, str) and value.strip().upper() in cls.__members__:
            return cls[value.strip().upper()]
        raise ValueError(f"not a dataset role: {value!r} (use ADMIN=0 or USER=1)")


class DataType(str, Enum):
    VIDEO = "VIDEO"
    IMG_GROUP = "IMG_GROUP"
    IMAGE = "IMAGE"
    DICOM = "DICOM"

    @classmethod
    def parse(cls, value: Any) -> DataType:
        if isinstance(value, DataType):
            return value
        if isinstance(value, str) and value.strip().upper() in cls.__members__:
            return cls[value.strip().upper()]
        raise ValueError(f"not a data type: {value!r} (use one of {', '.join(cls.__members__)})")


class DatasetScope(str, Enum):
    READ = "dataset.read"
    WRITE = "dataset.write"


@dataclass(frozen=True)
class DatasetInfo:
    dataset_hash: str
    user_hash: str
    title: str
    description: str
    type: StorageLocation
    created_at: dt.datetime
    last_edited_at: dt.datetime
    backing_folder_uuid: str | None = None


@dataclass(frozen=True)
class CreateDatasetResponse:
    title: str
    type: StorageLocation
    dataset_hash: str
    user_hash: str
    backing_folder_uuid: str | None = None


@dataclass(frozen=True)
class ImageData:
    image_hash: str
    title: str
    data_sequence: int
    file_link: str | None
    file_type: str
    file_size: int | None
    storage_location: StorageLocation
    created_at: dt.datetime
    last_edited_at: dt.datetime
    width: int | None
    height: int | None
    signed_url: str | None = None


@dataclass(frozen=True)
class DataRow:
    data_hash: str
    title: str
    data_type: DataType
    created_at: dt.datetime
    last_edited_at: dt.datetime
    width: int | None
    height: int | None
    file_link: str | None
    file_size: int | None
    file_type: str | None
    storage_location: StorageLocation
    frames_per_second: float | None
    duration: float | None
    frame_count: int | None
    backing_item_uuid: str
    client_metadata: dict | None = None
    signed_url: str | None = None
    is_optimised_image_group: bool | None = None
    images_data: list[ImageData] | None = None
    media_info: dict = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetUser:
    user_email: str
    user_role: DatasetUserRole
    dataset_hash: str


@dataclass(frozen=True)
class DatasetMember:
    """A member as the members page shows it: with whether the SDK would refuse to let them go."""

    user_email: str
    user_role: DatasetUserRole
    is_admin: bool
    is_last_admin: bool


@dataclass(frozen=True)
class DatasetAPIKey:
    dataset_hash: str
    api_key: str
    title: str
    key_hash: str
    scopes: list[DatasetScope]
    created_at: dt.datetime | None = None
    last_used_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    revoked: bool = False


@dataclass(frozen=True)
class CloudIntegration:
    id: str
    title: str
    provider: str = ""


@dataclass(frozen=True)
class ReEncodeVideoTaskResult:
    data_hash: str
    signed_url: str | None
    bucket_path: str


@dataclass(frozen=True)
class ReEncodeVideoTask:
    status: str
    result: list[ReEncodeVideoTaskResult] | None = None


@dataclass(frozen=True)
class JobSummary:
    """One background job of a user (an upload, a private-data import or a re-encode), for lists.
    A dataset's job names its dataset; a Files job has no dataset ("" in both dataset fields): an
    upload or import into a folder names the folder, a storage re-encode neither."""

    kind: str  # "upload", "import" or "re-encode"
    job_id: str  # process_hash, the re-encode task id, or a storage re-encode's process uuid
    dataset_hash: str  # "" for a Files job
    dataset_title: str  # "" for a Files job
    status: str
    message: str
    created_at: dt.datetime
    finished_at: dt.datetime | None
    units_total: int
    units_done: int
    units_error: int
    first_error: str = ""
    started_by: str = ""  # the starter's e-mail, "API key <title>", or "" when neither remains
    own: bool = True  # started by the user listing it (a data job's page is its starter's)
    may_retry: bool = False  # the lister may retry its failed items (job_retry.may_retry)
    folder_uuid: str = ""  # a Files upload's or import's folder
    folder_name: str = ""
    title: str = ""  # a storage re-encode's process title

    @property
    def in_dataset(self) -> bool:
        return bool(self.dataset_hash)

    @property
    def in_folder(self) -> bool:
        """An upload or import into a Files folder (its page: dashboard folder-upload-job)."""
        return not self.dataset_hash and bool(self.folder_uuid)

    @property
    def is_terminal(self) -> bool:
        return self.status not in ("PENDING", "SUBMITTED")

    @property
    def duration_seconds(self) -> float | None:
        return (self.finished_at - self.created_at).total_seconds() if self.finished_at else None


@dataclass(frozen=True)
class SequenceVideo:
    """The video made of an image group (create_video): PENDING, DONE or ERROR; frame N is image N."""

    status: str
    signed_url: str | None
    fps: float | None
    frame_count: int | None
    error: str = ""
