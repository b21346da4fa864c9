#!/usr/bin/env python3
"""The browser's resumable upload path, as the dashboard's chunk view runs it (start a session,
then 4 MiB chunks appended at offsets, each read in 256 KiB pieces as from the request stream,
into the staging file, and on the last chunk into hosted storage), next to writing the same file
straight into storage with media/storage.save_stream, in the same run. Prints the medians, the
ratio, and the Python heap peak of one upload (it must stay near one read piece, whatever the size).

    .venv/bin/python bench/bench_chunked_upload.py        # BENCH_UPLOAD_MB=128 by default
"""

from __future__ import annotations

import os
import sys
import tempfile
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="dd-bench-upload-"))
from bench.common import median_seconds, report, setup_django  # noqa: E402

SIZE_MB = int(os.environ.get("BENCH_UPLOAD_MB", "128"))
CHUNK = 4 * 1024 * 1024


def write_png_sized(path: Path, size: int) -> None:
    """A file of about `size` bytes that the upload's content check takes for a PNG (signature and
    IHDR; it reads headers only): one IDAT chunk of random bytes, written a MiB at a time. The
    last chunk's check needs real media now that uploads are sniffed; random bytes are refused."""
    import struct
    import zlib

    def chunk_header(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    body = size - 8 - 25 - 12 - 12
    with open(path, "wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n" + chunk_header(b"IHDR", struct.pack(">IIBBBBB", 4096, 4096, 8, 2, 0, 0, 0)))
        out.write(struct.pack(">I", body) + b"IDAT")
        crc = zlib.crc32(b"IDAT")
        left = body
        while left:
            piece = os.urandom(min(left, 1024 * 1024))
            crc = zlib.crc32(piece, crc)
            out.write(piece)
            left -= len(piece)
        out.write(struct.pack(">I", crc) + chunk_header(b"IEND", b""))


def main() -> None:
    setup_django()
    from datasets_app import models as m
    from datasets_app.media import storage
    from datasets_app.sdk import UserClient
    from datasets_app.sdk import chunked_uploads as cu

    user = m.User.objects.filter(email="bench-upload@example.com").first() or m.User.objects.create_user(
        email="bench-upload@example.com", password="x"
    )
    client = UserClient.for_user(user)
    dataset = client.get_dataset(client.create_dataset("bench upload").dataset_hash)
    path = Path(os.environ["DATA_DIR"]) / "payload.png"
    write_png_sized(path, SIZE_MB * 1024 * 1024)
    size = path.stat().st_size

    def pieces(fh, length):
        left = length
        while left > 0 and (piece := fh.read(min(cu.READ_SIZE, left))):
            left -= len(piece)
            yield piece

    def chunked() -> None:
        upload = cu.start_upload(dataset, file_name="payload.png", size=size)
        with open(path, "rb") as fh:
            offset = 0
            while offset < size:
                length = min(CHUNK, size - offset)
                upload = cu.append_chunk(
                    dataset, upload.upload_id, offset=offset, chunks=pieces(fh, length), length=length
                )
                offset = upload.offset
        assert upload.complete

    def direct() -> None:
        storage.save_stream("bench/direct.bin", storage.file_chunks(str(path)))

    tracemalloc.start()
    chunked()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    ours = median_seconds(chunked, repeat=5)
    baseline = median_seconds(direct, repeat=5)
    report(f"chunked upload ({SIZE_MB} MB, 4 MiB chunks)", ours, baseline, target=3.0)
    print(f"throughput: chunked {SIZE_MB / ours:.0f} MB/s, direct {SIZE_MB / baseline:.0f} MB/s")
    print(f"Python heap peak during one chunked upload: {peak / 2**20:.2f} MB")


if __name__ == "__main__":
    main()
