"""The organisation's custom-metadata schema (Encord's client-metadata-schema-v2): one document."""

from __future__ import annotations

import uuid

from django.db import models

# The one organisation of this server; the legacy schema route reports it as organisation_id.
ORGANISATION_ID = 1


class MetadataSchema(models.Model):
    """The schema document as the SDK saved it (key -> type object, tombstones kept), one row
    with pk ORGANISATION_ID. Absent row: the organisation has no schema yet (the wire's null)."""

    schema_uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    document = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey("datasets_app.User", on_delete=models.SET_NULL, null=True, related_name="+")

    def __str__(self) -> str:
        return f"metadata schema ({len(self.document)} keys)"
