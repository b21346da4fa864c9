"""Background work whose state lives in the database, so pages and clients can poll it."""

from __future__ import annotations

import uuid

from django.db import models


class JobStatus(models.TextChoices):
    PENDING = "PENDING"
    DONE = "DONE"
    ERROR = "ERROR"
    CANCELLED = "CANCELLED"


class Job(models.Model):
    """Shared shape of job rows: a status, a message a person can act on, timestamps."""

    message = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class DataJob(Job):
    """An upload registration or private-data import: one unit per video/image/group/series."""

    KIND_UPLOAD = "upload"
    KIND_PRIVATE = "private"

    process_hash = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    dataset = models.ForeignKey("datasets_app.Dataset", on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=16, choices=[(KIND_UPLOAD, "Upload"), (KIND_PRIVATE, "Import")])
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING)
    created_by = models.ForeignKey("datasets_app.User", on_delete=models.SET_NULL, null=True, related_name="+")
    api_key = models.ForeignKey(
        "datasets_app.DatasetAPIKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    integration = models.ForeignKey(
        "datasets_app.CloudIntegration", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    ignore_errors = models.BooleanField(default=False)
    skip_duplicates = models.BooleanField(default=False)
    upsert_metadata = models.BooleanField(default=False)
    units_total = models.IntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)
    errors = models.JSONField(default=list, blank=True)
    trace_id = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_by", "created_at"]), models.Index(fields=["status", "updated_at"])]

    @property
    def is_terminal(self) -> bool:
        return self.status != JobStatus.PENDING


class DataJobUnit(models.Model):
    """One unit of a data job. Its result is recorded once, so a redelivered task skips it."""

    job = models.ForeignKey(DataJob, on_delete=models.CASCADE, related_name="units")
    index = models.IntegerField()
    subtask_uuid = models.UUIDField(default=uuid.uuid4, editable=False)
    spec = models.JSONField()
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING)
    error = models.TextField(blank=True, default="")
    action_description = models.CharField(max_length=100, blank=True, default="")
    object_urls = models.JSONField(default=list, blank=True)
    # data hashes and titles of rows this unit created (a group of mixed resolutions makes several)
    results = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "index"]
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="unique_job_unit_index")]
        indexes = [models.Index(fields=["job", "status"])]


class UploadSlot(models.Model):
    """A signed upload URL we issued; its object_key comes back when the upload is registered."""

    item_uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    object_key = models.CharField(max_length=512, unique=True)
    item_type = models.CharField(max_length=16)
    file_name = models.CharField(max_length=1024, blank=True, default="")
    user = models.ForeignKey("datasets_app.User", on_delete=models.CASCADE, null=True, related_name="+")
    api_key = models.ForeignKey(
        "datasets_app.DatasetAPIKey", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    dataset = models.ForeignKey(
        "datasets_app.Dataset", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)
    uploaded_at = models.DateTimeField(null=True, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    content_type = models.CharField(max_length=100, blank=True, default="")
    consumed_at = models.DateTimeField(null=True, blank=True)


class ReEncodeStatus(models.TextChoices):
    SUBMITTED = "SUBMITTED"
    DONE = "DONE"
    ERROR = "ERROR"


class ReEncodeTask(Job):
    """A re-encode request (Encord's integer task id is the primary key)."""

    dataset = models.ForeignKey("datasets_app.Dataset", on_delete=models.CASCADE, related_name="reencode_tasks")
    status = models.CharField(max_length=16, choices=ReEncodeStatus.choices, default=ReEncodeStatus.SUBMITTED)
    created_by = models.ForeignKey("datasets_app.User", on_delete=models.SET_NULL, null=True, related_name="+")
    # Identical pending requests (the SDK retries this call) get the same task back.
    request_digest = models.CharField(max_length=64, blank=True, default="", db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    trace_id = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]

    @property
    def is_terminal(self) -> bool:
        return self.status != ReEncodeStatus.SUBMITTED


class ReEncodeVideo(models.Model):
    task = models.ForeignKey(ReEncodeTask, on_delete=models.CASCADE, related_name="videos")
    data_row = models.ForeignKey("datasets_app.DataRow", on_delete=models.SET_NULL, null=True, related_name="+")
    data_hash = models.UUIDField()
    status = models.CharField(max_length=16, choices=ReEncodeStatus.choices, default=ReEncodeStatus.SUBMITTED)
    frames_done = models.IntegerField(default=0)
    frames_total = models.IntegerField(null=True, blank=True)
    output_key = models.CharField(max_length=512, blank=True, default="")
    error = models.TextField(blank=True, default="")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["task", "id"]
        constraints = [models.UniqueConstraint(fields=["task", "data_hash"], name="unique_reencode_video")]
