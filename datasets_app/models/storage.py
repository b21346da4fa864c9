"""Files: folders hold storage items (the media); datasets link items (models/data.py DataRow)."""

from __future__ import annotations

import uuid

from django.db import models

from .data import DataType


class StorageFolder(models.Model):
    """A folder of the Files tree. A folder that backs a dataset (Dataset.backing_folder) is that
    dataset's mirror: items created in it appear as rows of the dataset."""

    folder_uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="subfolders"
    )
    name = models.CharField(max_length=1024)
    description = models.TextField(blank=True, default="")
    # None for a folder without metadata (the wire sends null), else a JSON object.
    client_metadata = models.JSONField(null=True, blank=True)
    owner = models.ForeignKey("datasets_app.User", on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    last_edited_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["parent", "name", "id"])]

    def __str__(self) -> str:
        return self.name


class FolderMembership(models.Model):
    """Who a folder is shared with (roles as datasets': ADMIN, USER); subfolders and items inherit."""

    folder = models.ForeignKey(StorageFolder, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey("datasets_app.User", on_delete=models.CASCADE, related_name="folder_memberships")
    role = models.SmallIntegerField(default=1)  # DatasetUserRole values: 0 ADMIN, 1 USER
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["folder", "user"], name="unique_folder_member")]
        indexes = [models.Index(fields=["user", "folder"])]
        ordering = ["created_at", "id"]


class StorageItem(models.Model):
    """One media unit in a folder: a video, an image, an image group or sequence, a DICOM series.
    Frames of groups and files of series are its members (DataRowMember). Media is either hosted
    (storage_key) or external (url + integration). Name and metadata live here, so a change shows
    in every dataset that links the item."""

    item_uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    folder = models.ForeignKey(StorageFolder, on_delete=models.PROTECT, related_name="items")
    name = models.CharField(max_length=1024)
    item_type = models.CharField(max_length=16, choices=DataType.choices)
    file_size = models.BigIntegerField(null=True, blank=True)
    mime_type = models.CharField(max_length=100, blank=True, default="")
    width = models.IntegerField(null=True, blank=True)
    height = models.IntegerField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True)
    frame_count = models.IntegerField(null=True, blank=True)
    client_metadata = models.JSONField(default=dict, blank=True)
    owner = models.ForeignKey("datasets_app.User", on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    last_edited_at = models.DateTimeField(auto_now=True)
    storage_key = models.CharField(max_length=512, blank=True, default="")
    url = models.CharField(max_length=2048, blank=True, default="")
    integration = models.ForeignKey(
        "datasets_app.CloudIntegration", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    sha256 = models.CharField(max_length=64, blank=True, default="", db_index=True)
    thumbnail_key = models.CharField(max_length=512, blank=True, default="")
    is_optimised_image_group = models.BooleanField(null=True, blank=True)
    # An image group asked for as a video (createVideo / create_video): the worker makes an H.264
    # video, frame N = image N (sdk/sequence_videos.py). Status "" when none was asked for.
    sequence_video_status = models.CharField(max_length=16, blank=True, default="")
    sequence_video_key = models.CharField(max_length=512, blank=True, default="")
    # Media facts from probing (codec, VFR, B-frames, frame-sync verdict and reasons, ...).
    media_info = models.JSONField(default=dict, blank=True)
    # After a re-encode the item points at the new file; the original stays recorded here.
    original_storage_key = models.CharField(max_length=512, blank=True, default="")
    original_url = models.CharField(max_length=2048, blank=True, default="")
    created_by_job = models.ForeignKey(
        "datasets_app.DataJobUnit", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["folder", "name", "id"]),
            models.Index(fields=["folder", "created_at", "id"]),
            models.Index(fields=["folder", "item_type"]),
            models.Index(fields=["folder", "url"]),
            # beat looks for sequence videos left PENDING (few items, so a partial index)
            models.Index(
                fields=["last_edited_at"],
                name="item_seqvideo_pending",
                condition=models.Q(sequence_video_status="PENDING"),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_hosted(self) -> bool:
        return not self.url
