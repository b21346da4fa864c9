"""Media operations of a Dataset (uploads, image groups, DICOM series, private-cloud data).

`Dataset` inherits `UploadsMixin`; the media pipeline issue fills it in."""

from __future__ import annotations


class UploadsMixin:
    pass
