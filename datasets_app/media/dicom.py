"""DICOM with pydicom: headers (pixel data never read), series ordering by InstanceNumber, and a
thumbnail of one frame."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pydicom
from pydicom.errors import InvalidDicomError


class DicomProbeError(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class DicomInfo:
    instance_number: int | None
    rows: int | None
    columns: int | None
    series_instance_uid: str
    sop_instance_uid: str
    modality: str


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def probe_dicom(path: str | os.PathLike) -> DicomInfo:
    """The header facts of one DICOM file, read with stop_before_pixels (no pixel data in memory).

    Raises DicomProbeError for an empty file or one that is not DICOM (no DICM preamble and no
    parseable header)."""
    if os.path.getsize(path) == 0:
        raise DicomProbeError("The file is empty (0 bytes).")
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except InvalidDicomError:
        raise DicomProbeError("The file is not DICOM (no DICM header).") from None
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types for garbage input
        raise DicomProbeError(f"The DICOM header could not be read: {exc}") from None
    if "SOPInstanceUID" not in ds and "Rows" not in ds:
        raise DicomProbeError("The file has no DICOM image attributes (SOPInstanceUID, Rows).")
    return DicomInfo(
        instance_number=_int(ds.get("InstanceNumber")),
        rows=_int(ds.get("Rows")),
        columns=_int(ds.get("Columns")),
        series_instance_uid=str(ds.get("SeriesInstanceUID", "")),
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
        modality=str(ds.get("Modality", "")),
    )


def series_order(infos: list[DicomInfo]) -> list[int]:
    """Indexes of `infos` in InstanceNumber order; files without one keep the caller's order, last."""
    return sorted(
        range(len(infos)),
        key=lambda i: (infos[i].instance_number is None, infos[i].instance_number or 0, i),
    )


THUMBNAIL_SIZE = 256


def thumbnail(path: str | os.PathLike, size: int = THUMBNAIL_SIZE) -> bytes | None:
    """A JPEG of the file's first frame for a page to show, windowed as a viewer would (the
    modality LUT or rescale, then the file's VOI LUT or window, else its own range); MONOCHROME1
    is inverted. Only that frame is decoded. None when this machine cannot decode the pixels (a
    compressed transfer syntax without its decoder, or no pixel data): a thumbnail is a nicety, so
    the series is still added."""
    import io
    import logging

    import numpy as np
    from PIL import Image
    from pydicom.pixels import apply_modality_lut, apply_voi_lut, pixel_array

    try:
        header = pydicom.dcmread(path, stop_before_pixels=True)
        frame = pixel_array(path, index=0)
    except Exception as exc:  # noqa: BLE001 - every decoder failure means "no thumbnail"
        logging.getLogger(__name__).info("no DICOM thumbnail for %s: %s", path, exc)
        return None
    if frame.ndim == 3 and frame.shape[-1] == 3:  # colour (YBR is converted to RGB on decoding)
        image = Image.fromarray(frame.astype(np.uint8) if frame.dtype != np.uint8 else frame, "RGB")
    else:
        values = apply_voi_lut(apply_modality_lut(frame, header), header).astype(np.float64)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
        if str(header.get("PhotometricInterpretation", "")) == "MONOCHROME1":
            scaled = 255.0 - scaled
        image = Image.fromarray(scaled.clip(0, 255).astype(np.uint8), "L")
    image.thumbnail((size, size))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()
