"""Trigram indexes for the LIKE filters on PostgreSQL (title/description contain-searches).

SQLite has no trigram index; there the b-tree title index serves prefix patterns only."""

from django.db import migrations

INDEXES = [
    ("datasets_app_dataset_title_trgm", "datasets_app_dataset", "title"),
    ("datasets_app_dataset_description_trgm", "datasets_app_dataset", "description"),
    ("datasets_app_datarow_title_trgm", "datasets_app_datarow", "title"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({column} gin_trgm_ops)")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _, _ in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("datasets_app", "0002_bearer_token")]
    operations = [migrations.RunPython(create, drop)]
