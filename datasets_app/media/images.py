"""Image facts and thumbnails with Pillow: lazy header reads, the decompression-bomb guard kept on.

`probe_image(path)` opens lazily (only the header is read) and rejects anything Pillow does not
recognise by content, whatever the file name says. `image_thumbnail(path)` decodes at reduced
scale where the format allows (JPEG draft mode), so a 256 px thumbnail of a large photo never
holds the full-size bitmap."""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from .bounded import over_unit_budget, too_many_pixels

THUMBNAIL_SIZE = 256

MIME_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
    "WEBP": "image/webp",
    "MPO": "image/jpeg",
}


class ImageProbeError(Exception):
    """Not an image we accept; `reason` says why in words."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    format: str
    mime_type: str


def _open(path: str | os.PathLike) -> Image.Image:
    # Pillow warns between 1x and 2x MAX_IMAGE_PIXELS and raises above; treat both as a bomb.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return Image.open(path)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageProbeError(f"Refused as a possible decompression bomb: {exc}") from None
        except UnidentifiedImageError:
            raise ImageProbeError(
                "The file is not an image (its content matches no supported image format)."
            ) from None
        except OSError as exc:
            raise ImageProbeError(f"The image could not be read: {exc}") from None


def check_pixels(width: int, height: int, *, max_pixels: int | None = None, unit_used: int = 0, unit_limit: int | None = None) -> None:
    """Refuses, from the header and before any decoding, an image over the per-image limit or
    one that takes its data unit over the unit's limit (pixels x images)."""
    if max_pixels is not None and width * height > max_pixels:
        raise ImageProbeError(
            too_many_pixels("The image", width, height, max_pixels)
            + ", so it is refused as a possible decompression bomb."
        )
    if unit_limit is not None and unit_used + width * height > unit_limit:
        raise ImageProbeError(over_unit_budget("With this image the data unit", unit_used + width * height, unit_limit))


def _header(im: Image.Image, limits: dict) -> ImageInfo:
    fmt = im.format or ""
    if fmt not in MIME_TYPES:
        raise ImageProbeError(f"Image format {fmt or 'unknown'} is not supported.")
    width, height = im.size
    if width <= 0 or height <= 0:
        raise ImageProbeError("The image has no pixels.")
    check_pixels(width, height, **limits)
    return ImageInfo(width=width, height=height, format=fmt, mime_type=MIME_TYPES[fmt])


def probe_image(path: str | os.PathLike, **limits) -> ImageInfo:
    """Width, height and format from the header only. Raises ImageProbeError for non-images,
    empty files, unsupported formats and decompression bombs (`limits`: see check_pixels)."""
    if os.path.getsize(path) == 0:
        raise ImageProbeError("The file is empty (0 bytes).")
    with _open(path) as im:
        return _header(im, limits)


def probe_and_thumbnail(path: str | os.PathLike, size: int = THUMBNAIL_SIZE, **limits) -> tuple[ImageInfo, bytes]:
    """probe_image and image_thumbnail with one open of the file; the pixel limits are checked
    on the header before anything is decoded."""
    if os.path.getsize(path) == 0:
        raise ImageProbeError("The file is empty (0 bytes).")
    with _open(path) as im:
        info = _header(im, limits)
        return info, _thumbnail_of(im, size)


def _thumbnail_of(im: Image.Image, size: int) -> bytes:
    try:
        im.draft("RGB", (size, size))
        im.thumbnail((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
        if im.mode not in ("RGB", "L"):
            im = im.convert("RGB")
        out = io.BytesIO()
        im.save(out, format="JPEG", quality=80)
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageProbeError(f"The image data is corrupt or truncated: {exc}") from None
    return out.getvalue()


def image_thumbnail(path: str | os.PathLike, size: int = THUMBNAIL_SIZE) -> bytes:
    """A JPEG thumbnail fitted within size x size (a few KB). Decodes the image, at reduced scale
    when possible; a truncated or corrupt image raises ImageProbeError."""
    with _open(path) as im:
        return _thumbnail_of(im, size)
