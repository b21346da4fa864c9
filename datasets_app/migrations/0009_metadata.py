"""Metadata (issue 13): the organisation's custom-metadata schema (one document), and on
PostgreSQL a GIN index (jsonb_path_ops) on items' client_metadata, which serves the metadata
search's equality and `in` conditions as JSONB containment (`client_metadata @> '{"k": v}'`).

SQLite has no JSON index; there the search reads the folder's rows through JSON1 (json_extract)."""

import django.db.models.deletion
import uuid
from django.conf import settings
from django.db import migrations, models

GIN_INDEX = "datasets_app_storageitem_meta_gin"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {GIN_INDEX} ON datasets_app_storageitem "
        "USING gin (client_metadata jsonb_path_ops)"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {GIN_INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("datasets_app", "0008_storage_model_cleanup"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="MetadataSchema",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("schema_uuid", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("document", models.JSONField(default=dict)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "updated_by",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
        ),
        migrations.RunPython(create_index, drop_index),
    ]
