"""What a file is, read from its bytes (never its name): an image, a video or a DICOM file.

`sniff(path)` reads the first bytes for magic numbers (the DICM preamble at offset 128 first: a
DICOM preamble's 128 bytes may themselves look like a TIFF), then confirms in a bounded child
(media/bounded.py, media/probe.py's limits): Pillow's lazy open and the pixel limits for an image,
the DICOM header (its SeriesInstanceUID) for a DICOM file, PyAV opening the container and finding a
video stream for anything else. Raises probe.MediaError with a reason a person can act on. Pixels
and frames are not decoded here; the data job's probe does that."""

from __future__ import annotations

import os
from dataclasses import dataclass

from . import bounded, probe
from .probe import MediaError

KIND_IMAGE = "image"
KIND_VIDEO = "video"
KIND_DICOM = "dicom"
HEAD_BYTES = 4096
NOT_MEDIA = "not an image, a video or a DICOM file (its content matches none of them)"

# Magic numbers of the still-image formats Pillow reads: (offset, bytes).
IMAGE_MAGIC = [
    (0, b"\x89PNG\r\n\x1a\n"),
    (0, b"\xff\xd8\xff"),
    (0, b"GIF87a"),
    (0, b"GIF89a"),
    (0, b"II*\x00"),
    (0, b"MM\x00*"),
    (0, b"BM"),
]
# ISO base media (ftyp) brands that are still images, not videos.
IMAGE_BRANDS = {b"avif", b"avis", b"heic", b"heix", b"mif1", b"msf1"}
# FFmpeg demuxers that take a still image or plain text for a "video": never a video upload.
NOT_VIDEO_DEMUXERS = ("image2", "_pipe", "tty", "txt", "ansi", "bin", "xbin", "idf", "adf")
VIDEO_MIME = {"mov": "video/mp4", "matroska": "video/x-matroska", "webm": "video/webm", "avi": "video/x-msvideo"}


@dataclass(frozen=True)
class Sniffed:
    kind: str
    mime_type: str
    # a DICOM file's SeriesInstanceUID ("" for other kinds, or a file without one)
    series_uid: str = ""


def magic_kind(head: bytes) -> str | None:
    """The kind the first bytes announce, or None when no magic number matches."""
    if head[128:132] == b"DICM":
        return KIND_DICOM
    if any(head[at : at + len(magic)] == magic for at, magic in IMAGE_MAGIC):
        return KIND_IMAGE
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return KIND_IMAGE
    if head[4:8] == b"ftyp":
        return KIND_IMAGE if head[8:12] in IMAGE_BRANDS else KIND_VIDEO
    return None


def sniff(path: str | os.PathLike) -> Sniffed:
    """The file's kind and MIME type (a DICOM file's series too); MediaError when it is none of
    them or its header is unreadable. Reads HEAD_BYTES here, headers only in the bounded child."""
    path = os.fspath(path)
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
    if not head:
        raise MediaError("The file is empty (0 bytes).")
    kind = magic_kind(head)
    if kind == KIND_DICOM:
        info = probe.dicom(path)
        return Sniffed(KIND_DICOM, "application/dicom", info.series_instance_uid or "")
    if kind == KIND_IMAGE:
        facts = probe.image(path, thumbnail=False)
        return Sniffed(KIND_IMAGE, facts.mime_type or "image/*")
    lim = probe.limits()
    try:
        mime = bounded.run(
            video_container, path, label="the file", memory_bytes=lim["MEDIA_PROBE_MEMORY_BYTES"],
            seconds=min(60, lim["MEDIA_PROBE_SECONDS"]),
        )
    except bounded.Refused as exc:
        raise MediaError(exc.reason) from None
    if mime is None:
        raise MediaError(NOT_MEDIA if kind is None else "not a readable video (no video stream in it)")
    return Sniffed(KIND_VIDEO, mime)


def video_container(path: str) -> str | None:
    """In the bounded child: the video MIME type of a container PyAV opens with a video stream
    (headers only), or None when it is no video container."""
    import av

    try:
        with av.open(path) as container:
            demuxer = container.format.name or ""
            if any(part in demuxer for part in NOT_VIDEO_DEMUXERS) or not container.streams.video:
                return None
    except (av.error.FFmpegError, ValueError, OSError, UnicodeDecodeError):
        return None
    return VIDEO_MIME.get(demuxer.split(",")[0], "video/mp4")
