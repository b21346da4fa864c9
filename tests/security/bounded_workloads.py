"""Work for bounded children in tests: module-level and free of Django, so a child imports it."""

import os


def allocate_and_report_pid(size: int) -> int:
    block = bytearray(size)
    return os.getpid() if len(block) == size else -1


def spin_forever() -> None:
    while True:
        pass
