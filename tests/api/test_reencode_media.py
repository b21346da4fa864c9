"""The signed media endpoint: signatures, expiry, and HTTP Range (206 / 416) over a hosted file."""

from __future__ import annotations

import time

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from datasets_app.media import downloads

BODY = bytes(range(256)) * 2000  # 512000 bytes, larger than one streamed chunk


@pytest.fixture
def stored_key():
    key = default_storage.save("reencoded/ds/file.mp4", ContentFile(BODY))
    return key


def _get(client, url, **headers):
    return client.get(url, headers=headers)


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_signed_url_serves_whole_file(client, stored_key):
    url = downloads.signed_download_url(stored_key)
    assert url.startswith("/media/signed/reencoded/ds/file.mp4?")
    response = _get(client, url)
    assert response.status_code == 200
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Length"] == str(len(BODY))
    assert response["Content-Type"] == "video/mp4"
    assert response.streaming
    assert _body(response) == BODY


@pytest.mark.parametrize(
    "header,start,end",
    [
        ("bytes=0-99", 0, 99),
        ("bytes=300000-", 300000, len(BODY) - 1),
        ("bytes=-500", len(BODY) - 500, len(BODY) - 1),
        ("bytes=511990-999999", 511990, len(BODY) - 1),
    ],
)
def test_range_request_gets_206_with_only_that_range(client, stored_key, header, start, end):
    response = _get(client, downloads.signed_download_url(stored_key), Range=header)
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {start}-{end}/{len(BODY)}"
    assert response["Content-Length"] == str(end - start + 1)
    assert _body(response) == BODY[start : end + 1]


def test_unsatisfiable_range_is_416(client, stored_key):
    response = _get(client, downloads.signed_download_url(stored_key), Range=f"bytes={len(BODY)}-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(BODY)}"


def test_head_gives_length_without_body(client, stored_key):
    response = client.head(downloads.signed_download_url(stored_key))
    assert response.status_code == 200 and response["Content-Length"] == str(len(BODY))
    assert response.content == b""


def test_tampered_or_expired_signature_is_refused(client, stored_key, settings):
    url = downloads.signed_download_url(stored_key)
    assert _get(client, url.replace("file.mp4", "other.mp4")).status_code == 403
    assert _get(client, url[:-4] + "0000").status_code == 403
    assert _get(client, url.split("?")[0]).status_code == 403
    expired = downloads.signed_download_url(stored_key, lifetime_seconds=1)
    time.sleep(1.1)
    assert _get(client, expired).status_code == 403


def test_deleted_file_is_404(client, stored_key):
    url = downloads.signed_download_url(stored_key)
    default_storage.delete(stored_key)
    assert _get(client, url).status_code == 404


def test_base_url_makes_absolute_links(stored_key, settings):
    assert downloads.signed_download_url(stored_key, base_url="http://h:1/").startswith(
        "http://h:1/media/signed/"
    )
    settings.PUBLIC_BASE_URL = "https://data.example"
    assert downloads.signed_download_url(stored_key).startswith("https://data.example/media/signed/")
