from __future__ import annotations

import uuid

from django.db import models


class DataType(models.TextChoices):
    VIDEO = "VIDEO", "Video"
    IMG_GROUP = "IMG_GROUP", "Image group"
    IMAGE = "IMAGE", "Image"
    DICOM = "DICOM", "DICOM series"


# What a row reads from its item: the item's field, under the name rows have always used.
ITEM_FIELDS_READ_BY_ROWS = {
    "title": "name",
    "data_type": "item_type",
    "file_size": "file_size",
    "mime_type": "mime_type",
    "width": "width",
    "height": "height",
    "fps": "fps",
    "duration": "duration",
    "frame_count": "frame_count",
    "client_metadata": "client_metadata",
    "storage_key": "storage_key",
    "url": "url",
    "integration": "integration",
    "integration_id": "integration_id",
    "sha256": "sha256",
    "thumbnail_key": "thumbnail_key",
    "is_optimised_image_group": "is_optimised_image_group",
    "sequence_video_status": "sequence_video_status",
    "sequence_video_key": "sequence_video_key",
    "media_info": "media_info",
    "original_storage_key": "original_storage_key",
    "original_url": "original_url",
    "members": "members",
    "backing_item_uuid": "item_uuid",
    "is_hosted": "is_hosted",
}


def _item_reader(item_field: str) -> property:
    def read(row: "DataRow"):
        return getattr(row.item, item_field)

    read.__doc__ = f"The backing item's {item_field} (read-only: write the item)."
    return property(read)


class DataRow(models.Model):
    """A dataset's link to a storage item (Encord's data row / data unit). The media, its name and
    its metadata are the item's (StorageItem); the row adds the dataset and its own data_hash. One
    item may be linked by many datasets. Media attributes read through to the item (read-only)."""

    data_hash = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    dataset = models.ForeignKey("datasets_app.Dataset", on_delete=models.CASCADE, related_name="data_rows")
    item = models.ForeignKey("datasets_app.StorageItem", on_delete=models.PROTECT, related_name="rows")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    last_edited_at = models.DateTimeField(auto_now=True)
    created_by_job = models.ForeignKey(
        "datasets_app.DataJobUnit", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["dataset", "created_at", "id"]),
            models.Index(fields=["dataset", "item"]),
        ]

    def __str__(self) -> str:
        return self.title


for _row_name, _item_field in ITEM_FIELDS_READ_BY_ROWS.items():
    setattr(DataRow, _row_name, _item_reader(_item_field))


class DataRowMember(models.Model):
    """An image of an image group or a file of a DICOM series, in data_sequence order: a child
    item of its storage item (get_child_items)."""

    image_hash = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    item = models.ForeignKey("datasets_app.StorageItem", on_delete=models.CASCADE, related_name="members")
    data_sequence = models.IntegerField()
    title = models.CharField(max_length=1024)
    storage_key = models.CharField(max_length=512, blank=True, default="")
    url = models.CharField(max_length=2048, blank=True, default="")
    mime_type = models.CharField(max_length=100, blank=True, default="")
    file_size = models.BigIntegerField(null=True, blank=True)
    width = models.IntegerField(null=True, blank=True)
    height = models.IntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    thumbnail_key = models.CharField(max_length=512, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    last_edited_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["item", "data_sequence"]
        constraints = [
            models.UniqueConstraint(fields=["item", "data_sequence"], name="unique_item_member_sequence")
        ]
