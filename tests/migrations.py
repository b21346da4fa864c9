"""Moving a test database between migrations (the migration tests populate an old schema)."""

from __future__ import annotations

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate(targets):
    """Migrates to `targets` and returns the historical apps of that state."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def latest():
    """The newest migration of every app: where tests put the database back."""
    return MigrationExecutor(connection).loader.graph.leaf_nodes()
