"""What the test's local media storage holds (tests/conftest.py points it at tmp_path)."""

from __future__ import annotations

import os

from django.core.files.storage import default_storage


def stored_files() -> set[str]:
    """Every file under the default storage's folder, as keys relative to it."""
    root = default_storage.location
    return {os.path.relpath(os.path.join(folder, name), root) for folder, _, names in os.walk(root) for name in names}
