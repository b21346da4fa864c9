"""Probing a private import's objects through their integration: ranged reads (images, DICOM
headers), a relayed signed URL for videos; never a copy. Probes of a batch run in a small,
per-process thread pool so network waits overlap."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from django.conf import settings

from datasets_app import models as m
from datasets_app.media import cloud, relay
from datasets_app.media import probe as media_probe

from .private_data import PrivateDataError
from .units import KIND_DICOM, KIND_IMAGE, KIND_IMAGE_GROUP, KIND_VIDEO, FileFacts, UnitSpec

PROBE_THREADS = int(getattr(settings, "PRIVATE_PROBE_THREADS", 16))
IMAGE_BLOCK = 64 * 1024

_pool: ThreadPoolExecutor | None = None


def submit_probes(adapter: cloud.CloudAdapter, units: list[m.DataJobUnit]) -> list[tuple[m.DataJobUnit, Future]]:
    """Starts the probes of these units in the pool; each future resolves to [FileFacts] or raises
    PrivateDataError."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=PROBE_THREADS, thread_name_prefix="private-probe")
    return [(u, _pool.submit(probe_unit, adapter, UnitSpec.from_json(u.spec))) for u in units]


def _facts(ref: cloud.ObjectRef, **facts) -> FileFacts:
    """A private object's facts: its place is its URL (the row adds the integration)."""
    return FileFacts(title=ref.url.rsplit("/", 1)[-1][:1024], place={"url": ref.url}, **facts)


def _probe_image(adapter: cloud.CloudAdapter, ref: cloud.ObjectRef) -> FileFacts:
    from PIL import Image, UnidentifiedImageError

    f = adapter.open(ref, block_size=IMAGE_BLOCK)
    size = f.size
    if size == 0:
        raise PrivateDataError(f"{ref.url} is empty (0 bytes).")
    try:
        # Pillow reads the header lazily; the decompression-bomb guard stays on.
        with Image.open(f) as img:
            width, height = img.size
            mime = Image.MIME.get(img.format or "", "") or (f.info.content_type if f.info else "")
        media_probe.check_image_pixels(width, height)
    except media_probe.MediaError as exc:
        raise PrivateDataError(f"{ref.url}: {exc.reason}") from None
    except Image.DecompressionBombError as exc:
        raise PrivateDataError(f"{ref.url} is refused as a decompression bomb: {exc}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, cloud.CloudError):
            raise
        raise PrivateDataError(f"{ref.url} is not an image Pillow can read.") from None
    return _facts(ref, size=size, mime_type=mime, width=width, height=height)


def _probe_video(adapter: cloud.CloudAdapter, ref: cloud.ObjectRef) -> FileFacts:
    info = adapter.head(ref)
    if info.size == 0:
        raise PrivateDataError(f"{ref.url} is empty (0 bytes).")
    # PyAV reads the provider's signed URL, or for an HTTPS integration the URL our guarded HEAD
    # ended on, through the loopback relay: every connection made for it is checked by the SSRF
    # guard (a DNS answer changing after this first check included).
    source = info.final_url or adapter.signed_url(ref, 900)
    adapter.guard_url(source)
    with relay.relayed(source, allow_private_network=adapter.allow_private_network, label=ref.url) as relayed:
        try:  # in a bounded child process, the size and frame limits checked before decoding
            facts = media_probe.video_source(relayed.url)
        except media_probe.MediaError as exc:
            if relayed.refusal:
                raise PrivateDataError(f"{ref.url} could not be read: {relayed.refusal}") from None
            raise PrivateDataError(f"{ref.url} is not a readable video: {exc.reason}") from None
    return _facts(
        ref,
        size=info.size,
        mime_type=info.content_type if info.content_type.startswith("video/") else "video/mp4",
        width=facts.get("width"),
        height=facts.get("height"),
        fps=facts.get("fps"),
        duration=facts.get("duration"),
        frame_count=facts.get("frame_count"),
        media_info=facts,
    )


def _probe_dicom(adapter: cloud.CloudAdapter, ref: cloud.ObjectRef) -> FileFacts:
    import pydicom
    from pydicom.errors import InvalidDicomError

    f = adapter.open(ref, block_size=IMAGE_BLOCK)
    if f.size == 0:
        raise PrivateDataError(f"{ref.url} is empty (0 bytes).")
    try:
        # pydicom inflates a deflated dataset whole in memory: that kind is read from a bounded
        # copy on disk (media_probe.dicom_stream); large elements stay unread (defer_size).
        header = media_probe.dicom_stream(f) or pydicom.dcmread(f, stop_before_pixels=True, defer_size="1 MB")
        media_probe.check_dicom_pixels(header)
    except media_probe.MediaError as exc:
        raise PrivateDataError(f"{ref.url}: {exc.reason}") from None
    except (InvalidDicomError, EOFError, ValueError, OSError, KeyError) as exc:
        if isinstance(exc, cloud.CloudError):
            raise
        raise PrivateDataError(f"{ref.url} is not a DICOM file.") from None
    number = header.get("InstanceNumber")
    return _facts(
        ref,
        size=f.size,
        mime_type="application/dicom",
        width=int(header.get("Columns") or 0) or None,
        height=int(header.get("Rows") or 0) or None,
        instance_number=int(number) if number not in (None, "") else None,
        media_info={
            "series_instance_uid": str(header.get("SeriesInstanceUID", "")),
            "modality": str(header.get("Modality", "")),
        },
    )


PROBES = {
    KIND_VIDEO: _probe_video,
    KIND_IMAGE: _probe_image,
    KIND_IMAGE_GROUP: _probe_image,
    KIND_DICOM: _probe_dicom,
}


def probe_unit(adapter: cloud.CloudAdapter, spec: UnitSpec) -> list[FileFacts]:
    """Reads every object of a unit; the first failure becomes the unit's PrivateDataError."""
    out = []
    probe = PROBES[spec.kind]
    for url in spec.sources:
        try:
            ref = adapter.parse(url)
            out.append(probe(adapter, ref))
        except cloud.CloudError as exc:
            raise PrivateDataError(str(exc), object_url=url) from None
        except PrivateDataError:
            raise
        # A probe library's own failure: reported on the unit, never crashing the job.
        except Exception as exc:  # noqa: BLE001
            raise PrivateDataError(
                f"{url} could not be read: {exc.__class__.__name__}: {exc}", object_url=url
            ) from None
    return out


