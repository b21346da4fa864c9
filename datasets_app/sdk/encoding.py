"""What the re-encode runner and the sequence-video runner share: the encoder's settings and where
an encode is written before it is stored (both runners import this; neither imports the other)."""

from __future__ import annotations

import os

from django.conf import settings

from datasets_app.media import storage

REENCODE_PRESET = os.environ.get("REENCODE_PRESET", "veryfast")
REENCODE_CRF = int(os.environ.get("REENCODE_CRF", "20"))
REENCODE_MEMORY_DEFAULT = 4 * 1024**3


def ffmpeg_memory_bytes() -> int:
    """The address-space cap of an ffmpeg encode (MEDIA_REENCODE_MEMORY_BYTES)."""
    return int(getattr(settings, "MEDIA_REENCODE_MEMORY_BYTES", REENCODE_MEMORY_DEFAULT))


def work_dir() -> str | None:
    """Where an encode is written: beside the hosted files when they are local, so storing the
    result is a rename; else None, the system temp dir."""
    return storage.work_dir(".tmp-reencode")
