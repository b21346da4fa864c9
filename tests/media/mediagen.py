"""Media made in tests: JPEG/PNG images, a PNG decompression bomb, DICOM files, videos (PyAV, with
explicit presentation times)."""

from __future__ import annotations

import struct
import zlib
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image, ImageDraw


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


def frame_image(n: int, width: int, height: int) -> Image.Image:
    """A frame that differs visibly from its neighbours: a grey level and a block that move with n."""
    img = Image.new("RGB", (width, height), (20 + (n * 23) % 200, 60, 200 - (n * 11) % 150))
    draw = ImageDraw.Draw(img)
    x = (n * 5) % max(1, width - 12)
    draw.rectangle([x, 4, x + 10, height - 4], fill=(255, 255, 255))
    return img


def make_video(
    path: Path,
    *,
    pts: list[int] | None = None,
    frames: int = 30,
    fps: int = 15,
    time_base: Fraction = Fraction(1, 90000),
    width: int = 64,
    height: int = 48,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    b_frames: int = 0,
    gop: int | None = None,
    audio: bool = False,
    options: dict | None = None,
) -> Path:
    """Writes a short video whose frame n has presentation time pts[n] (in time_base ticks);
    constant 1/fps spacing when pts is None."""
    if pts is None:
        step = int(1 / (fps * time_base))
        pts = [n * step for n in range(frames)]
    container = av.open(str(path), "w")
    stream = container.add_stream(codec, rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
    stream.time_base = time_base
    stream.codec_context.time_base = time_base
    opts = {"preset": "ultrafast", "bf": str(b_frames)} if codec == "libx264" else {}
    if codec == "libx264" and b_frames:
        opts["preset"] = "veryfast"
    if gop:
        stream.codec_context.gop_size = gop
    opts.update(options or {})
    stream.codec_context.options = opts
    if codec == "libx264" and not b_frames:
        stream.codec_context.max_b_frames = 0
    elif b_frames:
        stream.codec_context.max_b_frames = b_frames
    astream = container.add_stream("aac", rate=44100) if audio else None
    for n, p in enumerate(pts):
        frame = av.VideoFrame.from_image(frame_image(n, width, height)).reformat(format=pix_fmt)
        frame.pts, frame.time_base = p, time_base
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    if astream is not None:
        duration = float((pts[-1] + (pts[-1] - pts[-2])) * time_base)
        samples = int(duration * 44100)
        done = 0
        while done < samples:
            n = min(1024, samples - done)
            aframe = av.AudioFrame(format="fltp", layout="mono", samples=n)
            aframe.planes[0].update(bytes(4 * n))
            aframe.sample_rate, aframe.pts = 44100, done
            aframe.time_base = Fraction(1, 44100)
            for packet in astream.encode(aframe):
                container.mux(packet)
            done += n
        for packet in astream.encode():
            container.mux(packet)
    container.close()
    return path


def vfr_pts(frames: int = 36, time_base: Fraction = Fraction(1, 90000)) -> list[int]:
    """Irregular spacing: alternating runs at ~30, ~12 and ~20 fps."""
    out, t = [], 0.0
    for n in range(frames):
        out.append(round(t / time_base))
        t += (1 / 30, 1 / 12, 1 / 20)[(n // 6) % 3]
    return out
