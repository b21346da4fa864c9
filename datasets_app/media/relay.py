"""A loopback relay through which ffmpeg and PyAV read private-cloud media.

ffmpeg and PyAV's libavformat resolve host names and follow redirects by themselves. Checking a
URL's host before handing it over (netguard.check_url) leaves a window: a DNS answer that changes
between our check and their connect (rebinding) would take them to an address the SSRF guard
refuses, such as a metadata service or the database next to the worker. So they are handed
`http://127.0.0.1:<port>/<token>` instead, and this relay fetches the real URL through
netguard.guarded_session, whose connections resolve the host, check every address and connect to
the checked one, hop by hop through redirects. It also verifies TLS certificates, which ffmpeg's
own client does not by default.

One relay per process (a daemon thread, started on first use, restarted in a forked child); a URL
is reachable only while its `relayed()` block is open, under a random token. GET and HEAD with
Range pass through, and the answer's length, range and type come back, so seeking works as
against the origin; connections are kept alive (PyAV reads an MP4 whose index follows its data
over one persistent connection: video.open_video).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
import urllib3

from . import netguard, redact

logger = logging.getLogger(__name__)

STREAM_CHUNK = 256 * 1024
CONNECT_TIMEOUT_SECONDS = 10
READ_TIMEOUT_SECONDS = 60
PASSED_HEADERS = ("Content-Type", "Content-Length", "Content-Range", "Accept-Ranges", "ETag", "Last-Modified")


@dataclass
class RelayedSource:
    """What ffmpeg is given (`url`), and why the relay refused or failed to fetch the origin, if it
    did (`refusal`: a sentence for the job's error; None while every fetch succeeded)."""

    url: str
    origin: str
    label: str  # the object URL as the user wrote it (origin may carry a signature)
    allow_private_network: bool
    refusal: str | None = field(default=None)


class _Relay:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.sources: dict[str, RelayedSource] = {}
        self.sessions = {
            flag: netguard.guarded_session(allow_private_network=flag, pool_size=8) for flag in (False, True)
        }
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _RelayHandler)
        self.server.daemon_threads = True
        self.server.relay = self  # type: ignore[attr-defined]
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, name="media-relay", daemon=True).start()


_relay: _Relay | None = None
_relay_lock = threading.Lock()


def _current() -> _Relay:
    global _relay
    with _relay_lock:
        # A forked worker child inherits the parent's object but not its serving thread.
        if _relay is None or _relay.pid != os.getpid():
            _relay = _Relay()
        return _relay


@contextlib.contextmanager
def relayed(url: str, *, allow_private_network: bool, label: str | None = None) -> Iterator[RelayedSource]:
    """A loopback URL for `url`, valid until the block ends. Every connection the relay opens for
    it is checked by the SSRF guard; callers check the URL once beforehand too
    (CloudAdapter.guard_url), so that an obviously refused URL fails before ffmpeg starts."""
    relay = _current()
    token = secrets.token_urlsafe(24)
    name = os.path.basename(url.split("?", 1)[0]) or "media"
    source = RelayedSource(
        url=f"http://127.0.0.1:{relay.port}/{token}/{_safe_name(name)}",
        origin=url,
        label=label or url.split("?", 1)[0],
        allow_private_network=allow_private_network,
    )
    relay.sources[token] = source
    try:
        yield source
    finally:
        relay.sources.pop(token, None)


def _safe_name(name: str) -> str:
    # Only for ffmpeg's format guess from the extension; the token alone selects the source.
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[:80] or "media"


class _RelayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive for PyAV's persistent connection
    server_version = "datasets-media-relay"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        logger.debug("relay: " + format, *args)

    def do_GET(self) -> None:
        self._relay(head_only=False)

    def do_HEAD(self) -> None:
        self._relay(head_only=True)

    def _refuse(self, status: int, message: str) -> None:
        body = message.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _relay(self, *, head_only: bool) -> None:
        relay: _Relay = self.server.relay  # type: ignore[attr-defined]
        token = self.path.lstrip("/").split("/", 1)[0]
        source = relay.sources.get(token)
        if source is None:
            self._refuse(404, "No such relayed source (it has ended or never existed).")
            return
        headers = {"Accept-Encoding": "identity"}
        if self.headers.get("Range"):
            headers["Range"] = self.headers["Range"]
        session = relay.sessions[source.allow_private_network]
        try:
            upstream = session.request(
                "HEAD" if head_only else "GET",
                source.origin,
                headers=headers,
                stream=True,
                allow_redirects=True,
                timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS),
            )
        except netguard.AddressRefused as exc:
            source.refusal = str(exc)
            self._refuse(403, source.refusal)
            return
        except (netguard.HostUnresolvable, requests.RequestException) as exc:
            # The exception's text holds the origin URL, a stored SAS token included: scrub it.
            source.refusal = f"The media could not be fetched ({exc.__class__.__name__}: {redact.scrub(exc)})."
            self._refuse(502, source.refusal)
            return
        with upstream:
            self.send_response(upstream.status_code)
            for name in PASSED_HEADERS:
                value = upstream.headers.get(name)
                if value is not None:
                    self.send_header(name, value)
            if head_only:
                self.end_headers()
                return
            if upstream.headers.get("Content-Length") is None:
                self.close_connection = True  # the end of the body is where the connection ends
                self.send_header("Connection", "close")
            self.end_headers()
            try:
                for chunk in upstream.raw.stream(STREAM_CHUNK, decode_content=False):
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # ffmpeg seeked elsewhere or finished: normal
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                source.refusal = f"The media stopped arriving ({exc.__class__.__name__})."
                self.close_connection = True
