"""The loopback relay (media/relay.py): PyAV reads a remote source through it, every connection
the relay makes passes the SSRF guard, and the reason of a refusal is kept for the report."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

from datasets_app.media import netguard, relay, video

from .mediagen import make_video
from .traffic import answer_in_turn, assert_only_loopback, connections  # noqa: F401  (fixture)


def test_relay_passes_ranges_through_and_ends_with_its_block(http_media, connections):
    body = bytes(range(256)) * 40
    (http_media.root / "relay.bin").write_bytes(body)
    with relay.relayed(http_media.base_url + "/relay.bin", allow_private_network=True) as source:
        assert source.url.startswith("http://127.0.0.1:") and "relay.bin" in source.url
        part = requests.get(source.url, headers={"Range": "bytes=10-19"}, timeout=5)
        assert part.status_code == 206 and part.content == body[10:20]
        assert part.headers["Content-Range"] == "bytes 10-19/10240"
        assert requests.get(source.url, timeout=5).content == body
        assert source.refusal is None
    assert requests.get(source.url, timeout=5).status_code == 404
    assert_only_loopback(connections)


def test_relay_answers_502_with_the_reason_when_the_origin_is_unreachable(connections):
    from tests.cloud_servers import free_port

    closed = f"http://127.0.0.1:{free_port()}/gone.mp4"  # nothing listens there
    with relay.relayed(closed, allow_private_network=True, label="https://bucket.example/gone.mp4") as source:
        answer = requests.get(source.url, timeout=30)
        assert answer.status_code == 502 and "could not be fetched" in answer.text
        assert "could not be fetched (ConnectionError" in source.refusal and source.label.endswith("gone.mp4")
    assert_only_loopback(connections)


def test_relay_refuses_a_dns_answer_that_changed_after_the_check(http_media, tmp_path, monkeypatch, connections):
    make_video(http_media.root / "rebind.mp4", frames=10)
    port = urlsplit(http_media.base_url).port
    url = f"http://rebind.example:{port}/rebind.mp4"
    lookups = answer_in_turn(monkeypatch, "rebind.example", [["93.184.216.34"], ["127.0.0.1"]])
    netguard.check_url(url)  # the check before handing the URL over sees a public address
    with relay.relayed(url, allow_private_network=False) as source:
        with pytest.raises(video.VideoProbeError):
            video.probe_video(source.url)  # PyAV connects to the relay; the relay's connect is refused
        assert "rebind.example (127.0.0.1) is a loopback address" in source.refusal
    assert len(lookups) >= 2
    assert not [a for a in connections if isinstance(a, tuple) and a[1] == port], "reached the origin"
    assert_only_loopback(connections)


def test_relay_refuses_a_private_origin_with_403_and_keeps_the_reason(connections):
    with relay.relayed("http://10.0.0.1:9/secret.mp4", allow_private_network=False, label="s3://b/secret.mp4") as source:
        assert isinstance(source, relay.RelayedSource) and source.label == "s3://b/secret.mp4"
        answer = requests.get(source.url, timeout=10)
        assert answer.status_code == 403 and "10.0.0.1 is a private address" in source.refusal
        head = requests.head(source.url, timeout=10)
        assert head.status_code == 403
    assert_only_loopback(connections)


def test_relay_answers_404_for_an_unknown_token(connections):
    with relay.relayed("http://10.0.0.1:9/x.mp4", allow_private_network=False) as source:
        base = source.url.rsplit("/", 2)[0]
        assert requests.get(f"{base}/not-a-token/x.mp4", timeout=10).status_code == 404
    assert_only_loopback(connections)
