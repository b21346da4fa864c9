"""One slice of a DICOM series for the dashboard's viewer (`Dataset` inherits `DicomSlicesMixin`).

The slice's file is read where it lives (hosted: in place on local storage, else a temporary copy;
private cloud: streamed through the row's integration to a temporary copy, as the importer reads
it) and decoded only in the bounded child (media/bounded.py: memory and CPU limits, pixels checked
from the header first, deflate capped), which returns an 8-bit PNG through the window asked for.
Server-side rather than in the browser: the decoders (compressed transfer syntaxes, deflate, the
modality rescale) and the bomb limits already live here, and the page moves a small PNG per slice
instead of the raw 16-bit file."""

from __future__ import annotations

import contextlib
import math
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from datasets_app import models as m
from datasets_app.media import bounded, cloud, probe, storage
from datasets_app.media.dicom import render_slice

from .exceptions import InvalidArgumentError, ResourceNotFoundError
from .policy import Op, parse_hash

# A slice is rendered within this many seconds (a page waits for it), and a slice file larger than
# SLICE_MAX_BYTES is not copied to be rendered.
RENDER_SECONDS = 30
SLICE_MAX_BYTES = 512 * 1024**2
# Windows are in modality units (Hounsfield for CT: -1024..3071); this bounds typing mistakes only.
WINDOW_LIMIT = 1_000_000


@dataclass(frozen=True)
class DicomSlice:
    """One rendered slice: the PNG and the window it was drawn with (None for a colour image),
    or `error`, a sentence saying why it cannot be shown."""

    image_hash: str
    title: str
    data_sequence: int
    png: bytes | None = None
    instance_number: int | None = None
    frames: int = 1
    center: float | None = None
    width: float | None = None
    default_center: float | None = None
    default_width: float | None = None
    error: str = ""


class SliceUnreadable(Exception):
    """The slice's bytes could not be fetched; the message says why."""


def clean_window(center: Any, width: Any) -> tuple[float, float] | None:
    """(center, width) as numbers, or None for the file's own window; InvalidArgumentError else."""
    blank_center, blank_width = center in (None, ""), width in (None, "")
    if blank_center and blank_width:
        return None
    if blank_center or blank_width:
        raise InvalidArgumentError("Give both the window center and width, or neither.", field="center")
    try:
        c, w = float(center), float(width)
    except (TypeError, ValueError):
        raise InvalidArgumentError("The window center and width must be numbers.", field="center") from None
    if not (math.isfinite(c) and math.isfinite(w)) or abs(c) > WINDOW_LIMIT or not 1 <= w <= 2 * WINDOW_LIMIT:
        raise InvalidArgumentError(
            f"The window center must be within ±{WINDOW_LIMIT:,} and the width from 1 to {2 * WINDOW_LIMIT:,}.",
            field="width",
        )
    return c, w


def _copy_capped(chunks: Iterator[bytes], out) -> None:
    copied = 0
    for chunk in chunks:
        copied += len(chunk)
        if copied > SLICE_MAX_BYTES:
            raise SliceUnreadable(
                f"the file is larger than {SLICE_MAX_BYTES // 1024**2} MiB, too large to show here"
            )
        out.write(chunk)
    out.flush()


@contextlib.contextmanager
def slice_path(row: m.DataRow, member: m.DataRowMember) -> Iterator[str]:
    """A local path to the member's file for the bounded child: hosted storage (in place when it
    is a directory) or the row's integration (streamed to a temporary copy). SliceUnreadable when
    the bytes cannot be had."""
    if member.storage_key:
        if not storage.exists(member.storage_key):
            raise SliceUnreadable("the file is missing from storage")
        if (
            storage.local_path(member.storage_key) is None
            and storage.size_of(member.storage_key) > SLICE_MAX_BYTES
        ):
            raise SliceUnreadable(
                f"the file is larger than {SLICE_MAX_BYTES // 1024**2} MiB, too large to show here"
            )
        with storage.local_copy(member.storage_key) as (path, _digest):
            yield path
        return
    if not member.url or row.integration is None:
        raise SliceUnreadable("it has no file this server can read")
    with tempfile.NamedTemporaryFile(prefix="dd-slice-", suffix=".dcm") as out:
        try:
            adapter = cloud.adapter_for(row.integration)
            _copy_capped(adapter.iter_chunks(adapter.parse(member.url)), out)
        except cloud.CloudError as exc:
            raise SliceUnreadable(str(exc)) from None
        yield out.name


def _render(path: str, window: tuple[float, float] | None):
    lim = probe.limits()
    center, width = window or (None, None)
    return bounded.run(
        render_slice,
        path,
        label="the DICOM slice",
        memory_bytes=lim["MEDIA_PROBE_MEMORY_BYTES"],
        seconds=min(RENDER_SECONDS, lim["MEDIA_PROBE_SECONDS"]),
        center=center,
        width=width,
        max_pixels=lim["MEDIA_MAX_IMAGE_PIXELS"],
        max_inflated=lim["MEDIA_MAX_DICOM_INFLATED_BYTES"],
    )


class DicomSlicesMixin:
    """Mixed into sdk.Dataset: expects `self._get_row(data_hash, op)`."""

    def dicom_slice(
        self, data_hash: str, image_hash: str, *, center: Any = None, width: Any = None
    ) -> DicomSlice:
        """Slice `image_hash` of DICOM series `data_hash` (READ) as an 8-bit PNG through the window
        (center, width) in modality units, or the file's own window when both are None. Two
        queries; the file is read once and decoded in the bounded child. A slice that cannot be
        shown (missing, compressed without a decoder, damaged, over a limit) comes back with
        `error`; a row or slice not in this dataset is ResourceNotFoundError."""
        window = clean_window(center, width)
        row = self._get_row(data_hash, Op.READ)  # type: ignore[attr-defined]
        member = None
        if row.data_type == m.DataType.DICOM:
            member = row.members.filter(image_hash=parse_hash(image_hash, "image_hash")).first()
        if member is None:
            raise ResourceNotFoundError(
                f"No DICOM slice {image_hash} in data item {data_hash}.", data_hash=str(data_hash)
            )
        found = DicomSlice(
            image_hash=str(member.image_hash), title=member.title, data_sequence=member.data_sequence
        )
        what = f"Slice {member.data_sequence + 1} ({member.title})"
        try:
            with slice_path(row, member) as path:
                out = _render(path, window)
        except SliceUnreadable as exc:
            return replace(found, error=f"{what} could not be read: {exc}.")
        except bounded.Refused as exc:
            return replace(found, error=f"{what}: {exc.reason}")
        return replace(
            found,
            png=out.png,
            instance_number=out.instance_number,
            frames=out.frames,
            center=out.center,
            width=out.width,
            default_center=out.default_center,
            default_width=out.default_width,
        )
