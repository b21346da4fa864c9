"""One entry point per media kind for the job runner: facts for the row, a thumbnail if possible.

Each returns plain values; each raises `MediaError` with a reason a person can act on. Each runs
its decoders in a short-lived child process under the memory and time limits of the settings
(bounded.py), with pixels capped from the header before anything is decoded:
MEDIA_MAX_IMAGE_PIXELS per image or frame, MEDIA_MAX_UNIT_PIXELS per data unit (pixels x frames,
summed over an image group or a DICOM series: pass `unit_used`), MEDIA_MAX_VIDEO_FRAMES,
MEDIA_MAX_DICOM_INFLATED_BYTES, MEDIA_FRAME_TABLE_MAX_BYTES."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field

from . import bounded
from .dicom import DicomInfo, DicomProbeError, probe_dicom
from .images import ImageProbeError, probe_and_thumbnail, probe_image

_DEFAULTS = {
    "MEDIA_PROBE_MEMORY_BYTES": 1024**3,
    "MEDIA_PROBE_SECONDS": 900,
    "MEDIA_MAX_IMAGE_PIXELS": 100_000_000,
    "MEDIA_MAX_UNIT_PIXELS": 2_000_000_000,
    "MEDIA_MAX_DICOM_INFLATED_BYTES": 256 * 1024**2,
    "MEDIA_MAX_VIDEO_FRAMES": 5_000_000,
    "MEDIA_FRAME_TABLE_MAX_BYTES": 64 * 1024,
}


def limits() -> dict[str, int]:
    """The media limits of the settings (read in the parent: the child has no Django)."""
    from django.conf import settings

    return {name: int(getattr(settings, name, default)) for name, default in _DEFAULTS.items()}


def _bounded(func, *args, label: str, **kwargs):
    lim = limits()
    try:
        return bounded.run(
            func, *args, lim, label=label, memory_bytes=lim["MEDIA_PROBE_MEMORY_BYTES"],
            seconds=lim["MEDIA_PROBE_SECONDS"], **kwargs,
        )
    except bounded.Refused as exc:
        raise MediaError(exc.reason) from None


def _pillow_in_child() -> None:
    # Our own header check (images.check_pixels) is the bomb guard in the child, with a message
    # naming the limit; Pillow's would refuse first with its own.
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None


class MediaError(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass
class VideoFacts:
    width: int
    height: int
    fps: float
    duration: float
    frame_count: int
    media_info: dict = field(default_factory=dict)
    thumbnail: bytes | None = None


def video(path: str | os.PathLike, *, thumbnail: bool = True) -> VideoFacts:
    """Probe (PyAV demux, see media/video.py) and a first-frame thumbnail. A file that opens but
    whose frames cannot be read is refused too: a row must point at a playable video."""
    if os.path.getsize(path) == 0:
        raise MediaError("The file is empty (0 bytes).")
    return _bounded(_video_in_child, os.fspath(path), thumbnail, label="the video")


def video_source(source: str) -> dict:
    """probe_video of a path or URL (a private object through the relay), bounded; raises
    MediaError with probe_video's reason."""
    return _bounded(_probe_video_in_child, source, label="the video")


def _video_kwargs(lim: dict) -> dict:
    return {
        "max_pixels": lim["MEDIA_MAX_IMAGE_PIXELS"],
        "max_frames": lim["MEDIA_MAX_VIDEO_FRAMES"],
        "table_max_bytes": lim["MEDIA_FRAME_TABLE_MAX_BYTES"],
    }


def _probe_video_in_child(source: str, lim: dict) -> dict:
    from .video import probe_video

    return probe_video(source, **_video_kwargs(lim))


def _video_in_child(path: str, thumbnail: bool, lim: dict) -> VideoFacts:
    from .video import VideoProbeError, VideoTooLarge, probe_video, video_thumbnail

    try:
        info = probe_video(path, **_video_kwargs(lim))
    except VideoTooLarge as exc:
        raise MediaError(exc.reason) from None
    except VideoProbeError as exc:
        raise MediaError(f"Not a readable video: {exc.reason}") from None
    if info.get("verdict") == "unknown" or not info.get("frame_count"):
        reasons = "; ".join(info.get("reasons") or []) or "no frames"
        raise MediaError(f"The video is corrupt or truncated: {reasons}")
    thumb = None
    if thumbnail:
        out = io.BytesIO()
        try:
            video_thumbnail(path, out, max_pixels=lim["MEDIA_MAX_IMAGE_PIXELS"])
            thumb = out.getvalue()
        except VideoTooLarge as exc:
            raise MediaError(exc.reason) from None
        except VideoProbeError as exc:
            raise MediaError(f"The video could not be decoded: {exc.reason}") from None
    return VideoFacts(
        width=int(info.get("width") or 0),
        height=int(info.get("height") or 0),
        fps=float(info.get("fps") or 0.0),
        duration=float(info.get("duration") or 0.0),
        frame_count=int(info.get("frame_count") or 0),
        media_info=info,
        thumbnail=thumb,
    )


@dataclass
class ImageFacts:
    width: int
    height: int
    mime_type: str
    thumbnail: bytes | None = None


def image(path: str | os.PathLike, *, thumbnail: bool = True, unit_used: int = 0) -> ImageFacts:
    """Header, size limits, then a thumbnail; `unit_used`: pixels of the data unit so far."""
    return _bounded(_image_in_child, os.fspath(path), thumbnail, unit_used, label="the image")


def _image_in_child(path: str, thumbnail: bool, unit_used: int, lim: dict) -> ImageFacts:
    _pillow_in_child()
    pixel_limits = {
        "max_pixels": lim["MEDIA_MAX_IMAGE_PIXELS"], "unit_used": unit_used, "unit_limit": lim["MEDIA_MAX_UNIT_PIXELS"],
    }
    try:
        if thumbnail:
            info, thumb = probe_and_thumbnail(path, **pixel_limits)
        else:
            info, thumb = probe_image(path, **pixel_limits), None
    except ImageProbeError as exc:
        raise MediaError(exc.reason) from None
    return ImageFacts(width=info.width, height=info.height, mime_type=info.mime_type, thumbnail=thumb)


def dicom(path: str | os.PathLike, *, unit_used: int = 0) -> DicomInfo:
    """Header facts of one DICOM file (DicomInfo.pixels: its pixels x frames x samples)."""
    return _bounded(_dicom_in_child, os.fspath(path), unit_used, label="the DICOM file")


def _dicom_in_child(path: str, unit_used: int, lim: dict) -> DicomInfo:
    try:
        return probe_dicom(
            path, max_pixels=lim["MEDIA_MAX_IMAGE_PIXELS"], unit_used=unit_used,
            unit_limit=lim["MEDIA_MAX_UNIT_PIXELS"], max_inflated=lim["MEDIA_MAX_DICOM_INFLATED_BYTES"],
        )
    except DicomProbeError as exc:
        raise MediaError(exc.reason) from None


def dicom_thumbnail(path: str | os.PathLike) -> bytes | None:
    """dicom.thumbnail in the bounded child (None when this machine cannot decode the pixels)."""
    return _bounded(_dicom_thumbnail_in_child, os.fspath(path), label="the DICOM thumbnail")


def _dicom_thumbnail_in_child(path: str, lim: dict) -> bytes | None:
    from .dicom import thumbnail

    return thumbnail(path, max_inflated=lim["MEDIA_MAX_DICOM_INFLATED_BYTES"])


# ---- header checks for objects read in place (private cloud data: no decoding, no child) --------


def check_image_pixels(width: int, height: int) -> None:
    from .images import check_pixels

    try:
        check_pixels(width, height, max_pixels=limits()["MEDIA_MAX_IMAGE_PIXELS"])
    except ImageProbeError as exc:
        raise MediaError(exc.reason) from None


def check_dicom_pixels(header) -> None:
    from .dicom import check_pixels

    lim = limits()
    try:
        check_pixels(header, max_pixels=lim["MEDIA_MAX_IMAGE_PIXELS"], unit_limit=lim["MEDIA_MAX_UNIT_PIXELS"])
    except DicomProbeError as exc:
        raise MediaError(exc.reason) from None


def dicom_stream(fh):
    """The header (a pydicom Dataset, pixels not read) of a deflated DICOM file read from `fh`
    (a seekable binary file), inflated on disk within MEDIA_MAX_DICOM_INFLATED_BYTES; None when
    the file is not deflated (read it as usual). Raises MediaError over the limit."""
    import tempfile

    import pydicom

    from .dicom import DEFER_SIZE, meta_end, readable

    fh.seek(0)
    try:
        end = meta_end(fh)
    except DicomProbeError:
        end = 0
    fh.seek(0)
    head = fh.read(min(end, 64 * 1024)) if end else b""
    fh.seek(0)
    if pydicom.uid.DeflatedExplicitVRLittleEndian.encode() not in head:
        return None
    cap = limits()["MEDIA_MAX_DICOM_INFLATED_BYTES"]
    with tempfile.NamedTemporaryFile(suffix=".dcm") as copy:
        left = cap + 1  # deflate never shrinks data much below its compressed size: past cap, refused
        while left > 0 and (chunk := fh.read(min(1 << 20, left))):
            copy.write(chunk)
            left -= len(chunk)
        copy.flush()
        try:
            with readable(copy.name, max_inflated=cap) as plain:
                return pydicom.dcmread(plain, stop_before_pixels=True, defer_size=DEFER_SIZE)
        except DicomProbeError as exc:
            raise MediaError(exc.reason) from None
