"""DICOM headers with pydicom (pixel data never read) and series ordering by InstanceNumber."""

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
