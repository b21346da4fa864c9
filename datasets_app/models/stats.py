"""Per-dataset figures kept as counters (issue 14): the dataset pages and the datasets list read
them instead of counting a million rows per request."""

from __future__ import annotations

from django.db import models


class DatasetStats(models.Model):
    """A dataset's rows by type and the bytes of their items, moved by F() increments in the same
    transaction as each write that adds or removes rows (sdk/dataset_stats.py); a beat task and
    `manage.py reconcile_dataset_stats` recount and fix any drift."""

    dataset = models.OneToOneField(
        "datasets_app.Dataset", on_delete=models.CASCADE, primary_key=True, related_name="stats"
    )
    videos = models.BigIntegerField(default=0)
    image_groups = models.BigIntegerField(default=0)
    images = models.BigIntegerField(default=0)
    dicoms = models.BigIntegerField(default=0)
    total_bytes = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    @property
    def rows(self) -> int:
        return self.videos + self.image_groups + self.images + self.dicoms
