"""DICOM with pydicom: headers (pixel data never read), series ordering by InstanceNumber, and a
thumbnail of one frame."""

from __future__ import annotations

import contextlib
import os
import struct
import tempfile
import zlib
from dataclasses import dataclass

import pydicom
from pydicom.errors import InvalidDicomError

from .bounded import mib, over_unit_budget, too_many_pixels

# Elements larger than this stay on disk while the header is read (a private blob of gigabytes).
DEFER_SIZE = "1 MB"


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
    pixels: int = 0


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def meta_end(fh) -> int:
    """Offset where the dataset starts after the preamble and the file meta group (0002)."""
    head = fh.read(144)
    if len(head) < 144 or head[128:132] != b"DICM":
        raise DicomProbeError("The deflated DICOM file has no DICM preamble.")
    group, elem, vr, _length, value = struct.unpack("<HH2sHI", head[132:144])
    if (group, elem, vr) != (2, 0, b"UL"):
        raise DicomProbeError("The deflated DICOM file has no file meta group length.")
    return 144 + value


@contextlib.contextmanager
def readable(path: str | os.PathLike, *, max_inflated: int):
    """A path pydicom can read without holding the file in memory: the file itself, or for the
    Deflated Explicit VR Little Endian transfer syntax (which pydicom inflates whole, in memory) a
    temporary copy inflated on disk, refused once it passes `max_inflated` bytes."""
    if os.path.getsize(path) == 0:
        raise DicomProbeError("The file is empty (0 bytes).")
    try:
        meta = pydicom.filereader.read_file_meta_info(path)
    except Exception:  # noqa: BLE001 - no meta: let dcmread say what it is
        meta = None
    if meta is None or meta.get("TransferSyntaxUID") != pydicom.uid.DeflatedExplicitVRLittleEndian:
        yield path
        return
    from pydicom.filewriter import write_file_meta_info

    meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    with open(path, "rb") as src, tempfile.NamedTemporaryFile(suffix=".dcm") as out:
        src.seek(meta_end(src))
        out.write(b"\0" * 128 + b"DICM")
        write_file_meta_info(out, meta, enforce_standard=True)
        inflater, written = zlib.decompressobj(-zlib.MAX_WBITS), 0
        try:
            while chunk := src.read(1 << 20) or inflater.unconsumed_tail:
                while chunk:
                    data = inflater.decompress(chunk, 1 << 22)
                    chunk = inflater.unconsumed_tail
                    written += len(data)
                    if written > max_inflated:
                        raise DicomProbeError(
                            f"The DICOM file's deflated data inflates to more than {mib(max_inflated)}; the "
                            f"limit is {mib(max_inflated)} (MEDIA_MAX_DICOM_INFLATED_BYTES)."
                        )
                    out.write(data)
                if inflater.eof:
                    break
        except zlib.error as exc:
            raise DicomProbeError(f"The DICOM file's deflated data is corrupt: {exc}") from None
        out.flush()
        yield out.name


def check_pixels(ds, *, max_pixels: int, unit_used: int = 0, unit_limit: int) -> int:
    """Rows x Columns x NumberOfFrames x SamplesPerPixel from the header, refused over the limits
    before any pixel is decoded; returns the file's pixel count."""
    rows, columns = _int(ds.get("Rows")) or 0, _int(ds.get("Columns")) or 0
    frames = max(1, _int(ds.get("NumberOfFrames")) or 1)
    samples = max(1, _int(ds.get("SamplesPerPixel")) or 1)
    if rows * columns > max_pixels:
        raise DicomProbeError(too_many_pixels("The DICOM image", columns, rows, max_pixels) + ".")
    total = rows * columns * frames * samples
    if total > unit_limit or unit_used + total > unit_limit:
        what = f"The DICOM file ({columns}x{rows} x {frames} frames x {samples} samples)"
        if unit_used:
            what = f"With this file ({columns}x{rows} x {frames} frames x {samples} samples) the series"
        raise DicomProbeError(over_unit_budget(what, unit_used + total, unit_limit))
    return total


def probe_dicom(path: str | os.PathLike, **limits) -> DicomInfo:
    """The header facts of one DICOM file, read with stop_before_pixels (no pixel data in memory;
    large elements deferred). Deflated files are read through `readable`.

    `limits` (max_pixels, unit_used, unit_limit, max_inflated) refuse a bomb from its header.
    Raises DicomProbeError for an empty file or one that is not DICOM (no DICM preamble and no
    parseable header)."""
    max_inflated = limits.pop("max_inflated", 1 << 62)
    with readable(path, max_inflated=max_inflated) as plain:
        ds = _header(plain)
    if "SOPInstanceUID" not in ds and "Rows" not in ds:
        raise DicomProbeError("The file has no DICOM image attributes (SOPInstanceUID, Rows).")
    pixels = check_pixels(ds, **limits) if limits else 0
    return DicomInfo(
        instance_number=_int(ds.get("InstanceNumber")),
        rows=_int(ds.get("Rows")),
        columns=_int(ds.get("Columns")),
        series_instance_uid=str(ds.get("SeriesInstanceUID", "")),
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
        modality=str(ds.get("Modality", "")),
        pixels=pixels,
    )


def _header(path, *, stop_before_pixels: bool = True):
    try:
        return pydicom.dcmread(path, stop_before_pixels=stop_before_pixels, defer_size=DEFER_SIZE)
    except InvalidDicomError:
        raise DicomProbeError("The file is not DICOM (no DICM header).") from None
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types for garbage input
        raise DicomProbeError(f"The DICOM header could not be read: {exc}") from None


def series_order(infos: list[DicomInfo]) -> list[int]:
    """Indexes of `infos` in InstanceNumber order; files without one keep the caller's order, last."""
    return sorted(
        range(len(infos)),
        key=lambda i: (infos[i].instance_number is None, infos[i].instance_number or 0, i),
    )


THUMBNAIL_SIZE = 256


def thumbnail(path: str | os.PathLike, size: int = THUMBNAIL_SIZE, *, max_inflated: int = 1 << 62) -> bytes | None:
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
        with readable(path, max_inflated=max_inflated) as plain:
            header = pydicom.dcmread(plain, stop_before_pixels=True, defer_size=DEFER_SIZE)
            frame = pixel_array(plain, index=0)
    except MemoryError:
        raise  # the bounded child reports it with the limit
    except DicomProbeError:
        raise
    except Exception as exc:  # noqa: BLE001 - every decoder failure means "no thumbnail"
        logging.getLogger(__name__).info("no DICOM thumbnail for %s: %s", path, exc)
        return None
    # Every other row and column past what the thumbnail shows: the float copy stays small.
    step = max(1, max(frame.shape[:2]) // (2 * size))
    frame = frame[::step, ::step]
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


# ---- one slice for the series viewer ------------------------------------------------------------


@dataclass(frozen=True)
class RenderedSlice:
    """One frame as an 8-bit PNG; the window it was drawn with and the file's own (None for a
    colour image, which is shown as stored)."""

    png: bytes
    instance_number: int | None
    frames: int
    center: float | None
    width: float | None
    default_center: float | None
    default_width: float | None


def window_8bit(values, center: float, width: float):
    """The DICOM linear VOI function (PS3.3 C.11.2.1.2.1) onto 0..255 (uint8): values up to
    c - 0.5 - (w - 1) / 2 are black, values above c - 0.5 + (w - 1) / 2 white, linear between."""
    import numpy as np

    if not width >= 1:
        raise DicomProbeError("The window width must be at least 1.")
    if width == 1:
        return np.where(values > center - 0.5, 255, 0).astype(np.uint8)
    scaled = ((values - (center - 0.5)) / (width - 1) + 0.5) * 255.0
    return np.floor(np.clip(scaled, 0.0, 255.0) + 0.5).astype(np.uint8)


def file_window(header, values) -> tuple[float, float]:
    """The file's first WindowCenter/WindowWidth pair, else the window spanning its values
    (the lowest black, the highest white)."""
    center, width = header.get("WindowCenter"), header.get("WindowWidth")
    try:
        if center is not None and width is not None:
            center = float(center[0] if isinstance(center, pydicom.multival.MultiValue) else center)
            width = float(width[0] if isinstance(width, pydicom.multival.MultiValue) else width)
            if width >= 1:
                return center, width
    except (TypeError, ValueError, IndexError):
        pass
    low, high = float(values.min()), float(values.max())
    return (low + high) / 2 + 0.5, high - low + 1


def _syntax(header) -> pydicom.uid.UID | None:
    meta = getattr(header, "file_meta", None)
    value = meta.get("TransferSyntaxUID") if meta is not None else None
    return pydicom.uid.UID(str(value)) if value else None


def _decodable(header) -> None:
    """Refuses, by name, a compressed transfer syntax this machine has no decoder for."""
    from pydicom.pixels import get_decoder

    syntax = _syntax(header)
    if syntax is None or not syntax.is_compressed:
        return
    name = f"{syntax.name} ({syntax})" if syntax.is_transfer_syntax else str(syntax)
    try:
        available = get_decoder(syntax).is_available
    except NotImplementedError:
        available = False
    if not available:
        raise DicomProbeError(
            f"This slice's pixels are compressed as {name}, and this server has no decoder for it installed."
        )


def _first_frame(plain, header):
    from pydicom.pixels import pixel_array

    if not any(tag in header for tag in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise DicomProbeError("This DICOM file has no pixel data (it is not an image).")
    _decodable(header)
    try:
        return pixel_array(plain, index=0)
    except MemoryError:
        raise  # the bounded child reports it with the limit
    except Exception as exc:  # noqa: BLE001 - pydicom's decoders raise many types for bad data
        import logging

        logging.getLogger(__name__).info("DICOM slice %s not decoded: %s", plain, exc)
        syntax = _syntax(header)
        what = f" ({syntax.name})" if syntax and syntax.is_transfer_syntax else ""
        raise DicomProbeError(
            f"The slice's pixel data{what} could not be decoded: the file is damaged or not what its header says."
        ) from None


def render_slice(
    path: str | os.PathLike,
    *,
    center: float | None = None,
    width: float | None = None,
    max_pixels: int,
    max_inflated: int,
) -> RenderedSlice:
    """The first frame of one file as an 8-bit PNG through the window (center, width) in modality
    units (Hounsfield for CT), or the file's own window when none is given; MONOCHROME1 inverted.
    Only that frame is decoded, after its size is checked from the header (`max_pixels`); run it
    in the bounded child (media/bounded.py). Raises DicomProbeError with a reason a person can read."""
    import io

    import numpy as np
    from PIL import Image
    from pydicom.pixels import apply_modality_lut

    if (center is None) != (width is None):
        raise DicomProbeError("Give both the window center and width, or neither.")
    if width is not None and not width >= 1:
        raise DicomProbeError("The window width must be at least 1.")
    with readable(path, max_inflated=max_inflated) as plain:
        # Pixel data over DEFER_SIZE stays on disk: the header says whether there is any.
        header = _header(plain, stop_before_pixels=False)
        check_pixels(header, max_pixels=max_pixels, unit_limit=1 << 62)
        frame = _first_frame(plain, header)
    defaults = (None, None)
    if frame.ndim == 3 and frame.shape[-1] == 3:  # colour (YBR is converted to RGB on decoding)
        rgb = frame if frame.dtype == np.uint8 else frame.clip(0, 255).astype(np.uint8)
        image = Image.fromarray(rgb, "RGB")
    else:
        # float32 holds every 16-bit value exactly, at half float64's memory.
        values = apply_modality_lut(frame, header).astype(np.float32)
        defaults = file_window(header, values)
        if center is None:
            center, width = defaults
        grey = window_8bit(values, center, width)
        if str(header.get("PhotometricInterpretation", "")) == "MONOCHROME1":
            grey = 255 - grey
        image = Image.fromarray(grey, "L")
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=3)
    return RenderedSlice(
        png=out.getvalue(),
        instance_number=_int(header.get("InstanceNumber")),
        frames=max(1, _int(header.get("NumberOfFrames")) or 1),
        center=None if defaults[0] is None else float(center),
        width=None if defaults[0] is None else float(width),
        default_center=defaults[0],
        default_width=defaults[1],
    )
