"""Media made in tests: JPEG/PNG images, a PNG decompression bomb, DICOM files, videos."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from PIL import Image

from tests.media.test_video import make_video  # noqa: F401  (re-exported for upload tests)


def make_image(
    path: Path, width: int = 64, height: int = 48, color=(200, 30, 30), fmt: str | None = None
) -> Path:
    img = Image.new("RGB", (width, height), color)
    # A gradient so JPEGs of different colours differ in content (and in SHA-256).
    for x in range(0, width, 7):
        img.putpixel((x, x * height // max(width, 1)), (x % 256, 255 - x % 256, 128))
    img.save(path, format=fmt or ("PNG" if str(path).endswith(".png") else "JPEG"))
    return path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def make_png_bomb(path: Path, side: int = 100_000) -> Path:
    """A tiny PNG whose header claims side x side pixels (10 gigapixels by default)."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )
    return path


def make_dicom(
    path: Path, instance_number: int, *, rows: int = 16, columns: int = 16, series_uid: str = "1.2.3.4"
) -> Path:
    import struct as _struct

    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.SeriesInstanceUID = series_uid
    ds.StudyInstanceUID = "1.2.3"
    ds.Modality = "CT"
    ds.InstanceNumber = instance_number
    ds.Rows, ds.Columns = rows, columns
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.SamplesPerPixel, ds.PixelRepresentation = 1, 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = _struct.pack(
        f"<{rows * columns}H", *((i * instance_number) % 65536 for i in range(rows * columns))
    )
    ds.save_as(str(path), enforce_file_format=True)
    return path
