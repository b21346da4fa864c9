from __future__ import annotations

import uuid

from django.db import models


class StorageLocation(models.IntegerChoices):
    """Encord's StorageLocation integers; the v1 dataset object uses the wire strings."""

    CORD_STORAGE = 0, "Hosted"
    AWS = 1, "AWS S3"
    GCP = 2, "Google Cloud Storage"
    AZURE = 3, "Azure Blob"
    S3_COMPATIBLE = 4, "S3-compatible"


class Dataset(models.Model):
    dataset_hash = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(max_length=1024, db_index=True)
    description = models.TextField(blank=True, default="")
    storage_location = models.SmallIntegerField(
        choices=StorageLocation.choices, default=StorageLocation.CORD_STORAGE
    )
    # A mirror dataset follows this folder: items created in it become rows. None: a plain dataset
    # whose rows come from link_items and from uploads into a folder the caller names.
    backing_folder = models.OneToOneField(
        "datasets_app.StorageFolder", on_delete=models.PROTECT, null=True, blank=True,
        related_name="mirrored_dataset",
    )
    created_by = models.ForeignKey(
        "datasets_app.User", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    last_edited_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title

    @property
    def backing_folder_uuid(self) -> uuid.UUID | None:
        return self.backing_folder.folder_uuid if self.backing_folder_id else None
