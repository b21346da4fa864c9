from __future__ import annotations

import uuid

from django.db import models


class DataType(models.TextChoices):
    VIDEO = "VIDEO", "Video"
    IMG_GROUP = "IMG_GROUP", "Image group"
    IMAGE = "IMAGE", "Image"
    DICOM = "DICOM", "DICOM series"


class DataRow(models.Model):
    """One item of a dataset. Media is either hosted (storage_key) or external (url + integration)."""

    data_hash = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    backing_item_uuid = models.UUIDField(default=uuid.uuid4, editable=False)
    dataset = models.ForeignKey("datasets_app.Dataset", on_delete=models.CASCADE, related_name="data_rows")
    title = models.CharField(max_length=1024)
    data_type = models.CharField(max_length=16, choices=DataType.choices)
    file_size = models.BigIntegerField(null=True, blank=True)
    mime_type = models.CharField(max_length=100, blank=True, default="")
    width = models.IntegerField(null=True, blank=True)
    height = models.IntegerField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True)
    frame_count = models.IntegerField(null=True, blank=True)
    client_metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    last_edited_at = models.DateTimeField(auto_now=True)
    # Hosted media: a key in Django's default storage. External media: its URL and integration.
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
    # After a re-encode the row points at the new file; the original stays recorded here.
    original_storage_key = models.CharField(max_length=512, blank=True, default="")
    original_url = models.CharField(max_length=2048, blank=True, default="")
    created_by_job = models.ForeignKey(
        "datasets_app.DataJobUnit", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["dataset", "created_at", "id"]),
            models.Index(fields=["dataset", "title"]),
            models.Index(fields=["dataset", "data_type"]),
            models.Index(fields=["dataset", "url"]),
            # beat looks for sequence videos left PENDING (few rows, so a partial index)
            models.Index(
                fields=["last_edited_at"],
                name="datarow_seqvideo_pending",
                condition=models.Q(sequence_video_status="PENDING"),
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_hosted(self) -> bool:
        return not self.url


class DataRowMember(models.Model):
    """An image of an image group or a file of a DICOM series, in data_sequence order."""

    image_hash = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    data_row = models.ForeignKey(DataRow, on_delete=models.CASCADE, related_name="members")
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
        ordering = ["data_row", "data_sequence"]
        constraints = [
            models.UniqueConstraint(fields=["data_row", "data_sequence"], name="unique_member_sequence")
        ]
