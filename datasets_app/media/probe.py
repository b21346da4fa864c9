"""One entry point per media kind for the job runner: facts for the row, a thumbnail if possible.

Each returns plain values; each raises `MediaError` with a reason a person can act on."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field

from .dicom import DicomInfo, DicomProbeError, probe_dicom
from .images import ImageProbeError, probe_and_thumbnail, probe_image


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
    from .video import VideoProbeError, probe_video, video_thumbnail

    if os.path.getsize(path) == 0:
        raise MediaError("The file is empty (0 bytes).")
    try:
        info = probe_video(path)
    except VideoProbeError as exc:
        raise MediaError(f"Not a readable video: {exc.reason}") from None
    if info.get("verdict") == "unknown" or not info.get("frame_count"):
        reasons = "; ".join(info.get("reasons") or []) or "no frames"
        raise MediaError(f"The video is corrupt or truncated: {reasons}")
    thumb = None
    if thumbnail:
        out = io.BytesIO()
        try:
            video_thumbnail(path, out)
            thumb = out.getvalue()
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


def image(path: str | os.PathLike, *, thumbnail: bool = True) -> ImageFacts:
    try:
        if thumbnail:
            info, thumb = probe_and_thumbnail(path)
        else:
            info, thumb = probe_image(path), None
    except ImageProbeError as exc:
        raise MediaError(exc.reason) from None
    return ImageFacts(width=info.width, height=info.height, mime_type=info.mime_type, thumbnail=thumb)


def dicom(path: str | os.PathLike) -> DicomInfo:
    try:
        return probe_dicom(path)
    except DicomProbeError as exc:
        raise MediaError(exc.reason) from None
