"""Re-encoding and frame timestamps of a Dataset's videos.

`Dataset` inherits `ReEncodeMixin`; the frame-accurate video issue fills it in."""

from __future__ import annotations


class ReEncodeMixin:
    pass
