"""Background work whose state lives in the database, so pages and clients can poll it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import ClassVar

from django.db import models
from django.utils import timezone


class JobStatus(models.TextChoices):
    PENDING = "PENDING"
    DONE = "DONE"
    ERROR = "ERROR"
    CANCELLED = "CANCELLED"


class ReEncodeStatus(models.TextChoices):
    SUBMITTED = "SUBMITTED"
    DONE = "DONE"
    ERROR = "ERROR"


class StatusField(models.CharField):
    """A job's status column, its choices and default taken from the concrete model's `Status` and
    `INITIAL_STATUS` (each job kind keeps the words Encord's clients see). Stored and migrated as
    the plain CharField it always was, so the base adds no schema change."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("max_length", 16)
        super().__init__(*args, **kwargs)

    def contribute_to_class(self, cls, name, *args, **kwargs) -> None:
        status = getattr(cls, "Status", None)
        if status is not None:
            self.choices = status.choices
            self.default = cls.INITIAL_STATUS
        super().contribute_to_class(cls, name, *args, **kwargs)

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.CharField", args, kwargs


class Job(models.Model):
    """Shared shape of job rows: a status and its moves, a message a person can act on, timestamps.

    A job starts in INITIAL_STATUS; any other status is terminal and stamps finished_at."""

    Status: ClassVar[type[models.TextChoices]] = JobStatus
    INITIAL_STATUS: ClassVar[str] = JobStatus.PENDING

    status = StatusField()
    message = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    trace_id = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        abstract = True

    @property
    def is_terminal(self) -> bool:
        return self.status != self.INITIAL_STATUS

    @classmethod
    def move(cls, pk: object, from_statuses: str | Iterable[str], to_status: str, **fields: object) -> bool:
        """True if this call moved job `pk` from one of `from_statuses` to `to_status` (one
        conditional UPDATE, so a second run or a concurrent one is a no-op and gets False).
        A terminal status stamps finished_at unless `fields` gives it."""
        if isinstance(from_statuses, str):
            from_statuses = [from_statuses]
        if to_status != cls.INITIAL_STATUS:
            fields.setdefault("finished_at", timezone.now())
        moved = cls.objects.filter(pk=pk, status__in=list(from_statuses)).update(status=to_status, **fields)
        return moved == 1

    @classmethod
    def claim_stuck(cls, pk: object, *, cutoff: object, now: object) -> bool:
        """True if this call claimed a not-terminal job untouched since `cutoff` (bumps updated_at
        to `now` with a conditional UPDATE, so two claimers never both get True)."""
        claimed = cls.objects.filter(pk=pk, status=cls.INITIAL_STATUS, updated_at__lt=cutoff).update(updated_at=now)
        return claimed == 1


class DataJob(Job):
    """An upload registration or private-data import: one unit per video/image/group/series.

    Its items go into `folder` (a Files upload's folder, or a dataset upload's folderUuid; None on
    jobs made before 0010: the dataset's backing folder). `dataset` is the dataset whose rows link
    them (None for a Files upload: a mirror folder's dataset gets its rows all the same)."""

    KIND_UPLOAD = "upload"
    KIND_PRIVATE = "private"

    process_hash = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    dataset = models.ForeignKey(
        "datasets_app.Dataset", on_delete=models.CASCADE, null=True, blank=True, related_name="jobs"
    )
    folder = models.ForeignKey(
        "datasets_app.StorageFolder", on_delete=models.CASCADE, null=True, blank=True, related_name="upload_jobs"
    )
    # The private-files manifest's base name (the wire's fileName), echoed by the Files poll.
    file_name = models.CharField(max_length=1024, blank=True, default="")
    kind = models.CharField(max_length=16, choices=[(KIND_UPLOAD, "Upload"), (KIND_PRIVATE, "Import")])
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
    errors = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_by", "created_at"]), models.Index(fields=["status", "updated_at"])]


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
    # A Files upload's folder: its slot's item_uuid becomes the item's uuid (the placeholder).
    folder = models.ForeignKey(
        "datasets_app.StorageFolder", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)
    uploaded_at = models.DateTimeField(null=True, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    content_type = models.CharField(max_length=100, blank=True, default="")
    consumed_at = models.DateTimeField(null=True, blank=True)


class ReEncodeTask(Job):
    """A re-encode request. A dataset's (v1 reencodevideotask) is known to Encord's clients by its
    integer primary key and names rows; a storage one (dataset None: folder.re_encode_videos) by
    its process_uuid and names items."""

    Status = ReEncodeStatus
    INITIAL_STATUS = ReEncodeStatus.SUBMITTED

    process_uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    dataset = models.ForeignKey(
        "datasets_app.Dataset", on_delete=models.CASCADE, null=True, blank=True, related_name="reencode_tasks"
    )
    created_by = models.ForeignKey("datasets_app.User", on_delete=models.SET_NULL, null=True, related_name="+")
    # A storage request's processTitle ("" for a dataset's).
    title = models.CharField(max_length=1024, blank=True, default="")
    # Identical pending requests (the SDK retries the dataset call) get the same task back.
    request_digest = models.CharField(max_length=64, blank=True, default="", db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    @property
    def is_storage(self) -> bool:
        return self.dataset_id is None


class ReEncodeVideo(models.Model):
    """One video of a task: a dataset's row (data_row, data_hash) or a storage item (item,
    item_uuid). The uuid columns stay when the row or item is deleted, to name it in the result."""

    task = models.ForeignKey(ReEncodeTask, on_delete=models.CASCADE, related_name="videos")
    data_row = models.ForeignKey("datasets_app.DataRow", on_delete=models.SET_NULL, null=True, related_name="+")
    data_hash = models.UUIDField(null=True, blank=True)
    item = models.ForeignKey("datasets_app.StorageItem", on_delete=models.SET_NULL, null=True, related_name="+")
    item_uuid = models.UUIDField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=ReEncodeStatus.choices, default=ReEncodeStatus.SUBMITTED)
    frames_done = models.IntegerField(default=0)
    frames_total = models.IntegerField(null=True, blank=True)
    output_key = models.CharField(max_length=512, blank=True, default="")
    error = models.TextField(blank=True, default="")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["task", "id"]
        constraints = [
            models.UniqueConstraint(fields=["task", "data_hash"], name="unique_reencode_video"),
            models.UniqueConstraint(fields=["task", "item_uuid"], name="unique_reencode_item"),
            models.CheckConstraint(
                condition=models.Q(data_hash__isnull=False) | models.Q(item_uuid__isnull=False),
                name="reencode_video_names_row_or_item",
            ),
        ]

    @property
    def target_uuid(self) -> uuid.UUID:
        """What the part re-encodes, as its request named it: the row's data_hash or the item's uuid."""
        return self.data_hash if self.data_hash is not None else self.item_uuid
