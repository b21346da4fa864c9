"""The domain model; modules by concern, re-exported here."""

from .access import (
    APIKeySecretReveal,
    BearerToken,
    DatasetAPIKey,
    DatasetMembership,
    DatasetUserRole,
    PublicKey,
    User,
)
from .datasets import Dataset, StorageLocation
from .data import DataRow, DataRowMember, DataType
from .storage import FolderMembership, StorageFolder, StorageItem
from .integrations import CloudIntegration, IntegrationProvider
from .metadata import MetadataSchema
from .stats import DatasetStats
from .jobs import DataJob, DataJobUnit, Job, JobStatus, ReEncodeStatus, ReEncodeTask, ReEncodeVideo, UploadSlot

__all__ = [
    "APIKeySecretReveal",
    "BearerToken",
    "CloudIntegration",
    "DataJob",
    "DataJobUnit",
    "DataRow",
    "DataRowMember",
    "DataType",
    "Dataset",
    "DatasetAPIKey",
    "DatasetStats",
    "DatasetMembership",
    "DatasetUserRole",
    "FolderMembership",
    "IntegrationProvider",
    "Job",
    "JobStatus",
    "MetadataSchema",
    "PublicKey",
    "ReEncodeStatus",
    "ReEncodeTask",
    "ReEncodeVideo",
    "StorageFolder",
    "StorageItem",
    "StorageLocation",
    "UploadSlot",
    "User",
]
