"""ASGI scopes for driving dashboard.asgi.application directly (no server, no socket)."""

from __future__ import annotations

from urllib.parse import urlsplit


def http_scope(method: str, url: str, headers: dict[str, str] | None = None, *, client_addr: str = "127.0.0.1") -> dict:
    """The scope of one HTTP/1.1 request to `url` (path and query) from `client_addr`, host testserver."""
    parts = urlsplit(url)
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": parts.path,
        "raw_path": parts.path.encode(),
        "query_string": parts.query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        + [(b"host", b"testserver")],
        "client": (client_addr, 50000),
        "server": ("testserver", 80),
    }
