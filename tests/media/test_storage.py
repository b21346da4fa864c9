"""The storage adapter (media/storage.py): hosted files on the local disk (every test's own
MEDIA_ROOT) and on S3 (moto on loopback, the shared `s3_hosted` fixture of tests/cloud_servers.py).
Streams are written and read in chunks; an interrupted or oversized write leaves nothing behind."""

from __future__ import annotations

import hashlib
import io
import os
import uuid

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile

from datasets_app.media import storage


def _listing(path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


def test_keys_are_ours_and_deterministic():
    item = uuid.uuid4()
    assert storage.upload_key(item) == f"uploads/{item}"
    assert storage.upload_key(str(item).upper()) == f"uploads/{item}"
    with pytest.raises(ValueError):
        storage.upload_key("../etc/passwd")
    assert storage.thumbnail_key("datasets/a/b.png") == "thumbnails/datasets_a_b.png.jpg"
    assert storage.thumbnail_key("datasets/a/b.png") == storage.thumbnail_key("datasets/a/b.png")


def test_save_stream_hashes_and_counts_in_one_pass(settings):
    chunks = [b"abc", b"", b"defgh"]
    stored = storage.save_stream("datasets/x/file.bin", chunks, limit=8)
    assert stored == storage.StoredObject(
        key="datasets/x/file.bin", size=8, sha256=hashlib.sha256(b"abcdefgh").hexdigest()
    )
    assert storage.exists("datasets/x/file.bin") and storage.size_of("datasets/x/file.bin") == 8
    path = storage.local_path("datasets/x/file.bin")
    assert path == os.path.join(settings.MEDIA_ROOT, "datasets", "x", "file.bin")
    assert open(path, "rb").read() == b"abcdefgh"
    assert _listing(settings.MEDIA_ROOT / "datasets" / "x") == ["file.bin"]  # no .part file left


def test_save_stream_past_the_limit_keeps_nothing(settings):
    with pytest.raises(storage.TooLarge) as too_large:
        storage.save_stream("datasets/x/big.bin", [b"12345", b"67890"], limit=6)
    assert too_large.value.limit == 6 and "limit of 6 bytes" in str(too_large.value)
    assert not storage.exists("datasets/x/big.bin")
    assert _listing(settings.MEDIA_ROOT / "datasets" / "x") == []


def test_save_stream_interrupted_keeps_the_earlier_file(settings):
    storage.save_small("datasets/x/keep.jpg", b"old")

    def failing():
        yield b"new bytes"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        storage.save_stream("datasets/x/keep.jpg", failing())
    assert open(storage.local_path("datasets/x/keep.jpg"), "rb").read() == b"old"
    assert _listing(settings.MEDIA_ROOT / "datasets" / "x") == ["keep.jpg"]


def test_file_chunks_reads_paths_uploads_and_file_objects_in_pieces(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"0123456789")
    assert list(storage.file_chunks(path, chunk_size=4)) == [b"0123", b"4567", b"89"]
    assert list(storage.file_chunks(str(path), chunk_size=4)) == [b"0123", b"4567", b"89"]
    assert b"".join(storage.file_chunks(SimpleUploadedFile("f.bin", b"0123456789"), chunk_size=4)) == b"0123456789"
    assert list(storage.file_chunks(io.BytesIO(b"0123456789"), chunk_size=6)) == [b"012345", b"6789"]


def test_local_copy_of_local_storage_is_the_file_itself():
    storage.save_small("datasets/x/a.jpg", b"jpeg bytes")
    with storage.local_copy("datasets/x/a.jpg") as (path, digest):
        assert path == storage.local_path("datasets/x/a.jpg") and digest == ""
    with storage.local_copy("datasets/x/a.jpg", want_sha256=True) as (path, digest):
        assert digest == hashlib.sha256(b"jpeg bytes").hexdigest()
    assert os.path.exists(path)  # nothing to clean up: it was never a copy


def test_open_for_reading_streams_and_refuses_missing_keys():
    storage.save_small("datasets/x/r.bin", b"range me")
    handle, size = storage.open_for_reading("datasets/x/r.bin")
    with handle:
        assert size == 8 and handle.read() == b"range me"
    for key in ("", "datasets/x/none.bin"):
        with pytest.raises(FileNotFoundError):
            storage.open_for_reading(key)


def test_delete_files_is_a_no_op_the_second_time():
    keys = ["datasets/d/1.bin", "datasets/d/2.bin"]
    for key in keys:
        storage.save_small(key, b"x")
    assert storage.delete_files([*keys, "datasets/d/never.bin"]) == 2
    assert not any(storage.exists(key) for key in keys)
    assert storage.delete_files(keys) == 0
    assert storage.exists("") is False


def test_walk_keys_lists_every_key_but_partial_writes(settings):
    storage.save_small("datasets/w/a.jpg", b"a")
    storage.save_small("datasets/w/deeper/b.jpg", b"b")
    (settings.MEDIA_ROOT / "datasets" / "w" / ".part-abc").write_bytes(b"half")
    assert sorted(storage.walk_keys("datasets")) == ["datasets/w/a.jpg", "datasets/w/deeper/b.jpg"]


def test_store_file_moves_a_worker_file_under_its_key(tmp_path):
    made = tmp_path / "out.mp4"
    made.write_bytes(b"video")
    storage.store_file("datasets/v/out.mp4", made)
    assert not made.exists()
    assert open(storage.local_path("datasets/v/out.mp4"), "rb").read() == b"video"
    assert storage.streamable_source("datasets/v/out.mp4") == storage.local_path("datasets/v/out.mp4")
    assert storage.modified_time("datasets/v/out.mp4") is not None
    scratch = storage.work_dir(".tmp-test")
    assert scratch is not None and os.path.isdir(scratch)


def test_local_storage_is_not_s3():
    assert storage.is_s3() is False


def test_s3_hosted_files_stream_in_and_out(s3_hosted, tmp_path):
    server, bucket = s3_hosted
    assert storage.is_s3() and storage.local_path("datasets/s/a.bin") is None
    stored = storage.save_stream("datasets/s/a.bin", [b"hello ", b"s3"], content_type="text/plain")
    assert (stored.size, stored.sha256) == (8, hashlib.sha256(b"hello s3").hexdigest())
    assert storage.head("datasets/s/a.bin") == (8, "")
    assert storage.head("datasets/s/none.bin") is None
    with storage.local_copy("datasets/s/a.bin") as (path, digest):
        assert open(path, "rb").read() == b"hello s3" and digest == stored.sha256
    assert not os.path.exists(path)  # the temporary copy is gone
    handle, size = storage.open_for_reading("datasets/s/a.bin")
    with handle:
        assert size == 8 and handle.read() == b"hello s3"
    got = requests.get(storage.presigned_get_url("datasets/s/a.bin", filename="a.bin", lifetime_seconds=60), timeout=10)
    assert got.content == b"hello s3" and got.headers["Content-Disposition"].startswith("attachment")
    put = storage.presigned_put_url("datasets/s/put.bin", lifetime_seconds=60)
    assert put.startswith(f"{server.endpoint_url}/{bucket}/datasets/s/put.bin?")
    assert requests.put(put, data=b"put", timeout=10).status_code == 200
    assert storage.size_of("datasets/s/put.bin") == 3


def test_s3_save_stream_past_the_limit_keeps_nothing(s3_hosted):
    with pytest.raises(storage.TooLarge):
        storage.save_stream("datasets/s/big.bin", [b"x" * 10, b"y" * 10], limit=15)
    assert not storage.exists("datasets/s/big.bin")
