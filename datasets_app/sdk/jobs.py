"""Worker-side entry points: tasks call these with ids or plain values."""

from __future__ import annotations

from datasets_app.media import storage


def run_delete_files(keys: list[str]) -> int:
    return storage.delete_files(keys)
