from __future__ import annotations

import uuid

from django.db import models


class IntegrationProvider(models.TextChoices):
    S3 = "s3", "AWS S3 / S3-compatible"
    GCS = "gcs", "Google Cloud Storage"
    AZURE = "azure", "Azure Blob Storage"
    HTTPS = "https", "HTTPS"


class CloudIntegration(models.Model):
    """Read access to a customer's bucket. Credentials are encrypted at rest and never shown again."""

    integration_uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(max_length=200)
    provider = models.CharField(max_length=16, choices=IntegrationProvider.choices)
    # Non-secret settings: endpoint_url, region, account, allowed buckets...
    config = models.JSONField(default=dict, blank=True)
    credentials_encrypted = models.TextField(blank=True, default="")
    allow_private_network = models.BooleanField(default=False)
    owner = models.ForeignKey("datasets_app.User", on_delete=models.CASCADE, related_name="integrations")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.title
