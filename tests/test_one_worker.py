"""The test process runs at most one Celery worker thread (see _module_worker_thread in
tests/conftest.py): two at once share kombu's global event loop and, on Redis, stop taking
messages. This failed CI once, so it is checked here rather than remembered."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_only_the_root_conftest_starts_a_worker_thread():
    starts = sorted(
        str(path.relative_to(TESTS))
        for path in TESTS.rglob("*.py")
        if path != Path(__file__).resolve() and re.search(r"\bstart_worker\(", path.read_text())
    )
    assert starts == ["conftest.py"]


def test_no_module_imports_the_worker_fixture():
    # An imported session fixture becomes a second definition, hence a second worker thread.
    importers = sorted(
        str(path.relative_to(TESTS))
        for path in TESTS.rglob("*.py")
        if path != Path(__file__).resolve()
        and re.search(r"^from .* import .*(_module_worker_thread|data_worker)", path.read_text(), re.M)
    )
    assert importers == []
