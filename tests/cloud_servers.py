"""Real storage servers on loopback, started once per pytest session (imported by conftest.py).

- `moto_s3`: moto's server mode (a subprocess, tests/moto_s3_server.py: moto's S3 application on
  werkzeug, as `python -m moto.server` serves it minus the all-services dispatcher and request log).
- `gcs_emulator`: gcp-storage-emulator (a subprocess) speaking the GCS JSON API.
- `azurite`: Azurite's blob service, installed with npm into .cache/azurite on first use and run
  with the machine's Node.js; skipped with a message only when npm/node are missing.
- `http_media`: a plain threaded HTTP server serving files from a folder (Range, HEAD, 404), plus
  a fake OAuth token endpoint so a GCS service-account client can run against the emulator.

Ports come from CLOUD_TEST_PORT_BASE (default 18200) upwards, skipping ports in use.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache"
AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key (public, documented by Microsoft).
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

_next_port = int(os.environ.get("CLOUD_TEST_PORT_BASE", "18200"))


def free_port() -> int:
    """The next free loopback port from our range."""
    global _next_port
    for _ in range(100):
        port = _next_port
        _next_port += 1
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in the test range")


def wait_for_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@dataclass
class S3Server:
    endpoint_url: str
    access_key_id: str = "testing"
    secret_access_key: str = "testing"
    region: str = "us-east-1"

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
        )

    def integration(self, owner, title: str = "moto"):
        """An S3 integration of `owner` reaching this server (loopback, so private networks are allowed),
        made through the SDK layer as an admin would."""
        from datasets_app.sdk import private_data

        return private_data.integration_create(
            owner=owner,
            title=title,
            provider="s3",
            config={"endpoint_url": self.endpoint_url},
            credentials={"access_key_id": self.access_key_id, "secret_access_key": self.secret_access_key},
            allow_private_network=True,
        )


def start_moto(port: int | None = None) -> tuple[subprocess.Popen, S3Server]:
    port = port or free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "moto_s3_server.py"), "127.0.0.1", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
    )
    wait_for_port(port, proc)
    return proc, S3Server(endpoint_url=f"http://127.0.0.1:{port}")


@pytest.fixture(scope="session")
def moto_s3():
    proc, server = start_moto()
    yield server
    _stop(proc)


@pytest.fixture
def s3_hosted(settings, moto_s3):
    """Django's default storage is a fresh bucket on `moto_s3`, as in a deployment with AWS_* set:
    (server, bucket). One way to host media on S3 for every test module."""
    bucket = f"hosted-{uuid.uuid4().hex[:8]}"
    moto_s3.client().create_bucket(Bucket=bucket)
    settings.AWS_STORAGE_BUCKET_NAME = bucket
    settings.AWS_S3_ENDPOINT_URL = moto_s3.endpoint_url
    settings.AWS_S3_REGION_NAME = moto_s3.region
    settings.AWS_ACCESS_KEY_ID = moto_s3.access_key_id
    settings.AWS_SECRET_ACCESS_KEY = moto_s3.secret_access_key
    settings.AWS_QUERYSTRING_EXPIRE = 3600
    settings.AWS_DEFAULT_ACL = None
    settings.AWS_S3_FILE_OVERWRITE = True
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "storages.backends.s3.S3Storage"}}
    return moto_s3, bucket


@dataclass
class GCSServer:
    endpoint_url: str

    def client(self):
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(
            project="test",
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": self.endpoint_url},
        )


@pytest.fixture(scope="session")
def gcs_emulator():
    port = free_port()
    exe = Path(sys.executable).parent / "gcp-storage-emulator"
    proc = subprocess.Popen(
        [str(exe), "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, proc)
    yield GCSServer(endpoint_url=f"http://127.0.0.1:{port}")
    _stop(proc)


@dataclass
class AzureServer:
    endpoint_url: str
    account: str = AZURITE_ACCOUNT
    account_key: str = AZURITE_KEY

    def service(self):
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient(
            account_url=self.endpoint_url,
            credential={"account_name": self.account, "account_key": self.account_key},
        )


def azurite_bin() -> Path | None:
    """Azurite's blob launcher, installed with npm into .cache/azurite if missing; None without npm."""
    target = CACHE / "azurite"
    launcher = target / "node_modules" / ".bin" / "azurite-blob"
    if launcher.exists():
        return launcher
    if not shutil.which("npm") or not shutil.which("node"):
        return None
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(target), "azurite"],
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=600,
    )
    return launcher if launcher.exists() else None


@pytest.fixture(scope="session")
def azurite(tmp_path_factory):
    launcher = azurite_bin()
    if launcher is None:
        pytest.skip("Azurite needs Node.js and npm (apt-get install nodejs npm); neither was found.")
    port = free_port()
    workdir = tmp_path_factory.mktemp("azurite")
    proc = subprocess.Popen(
        [
            str(launcher),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--location",
            str(workdir),
            "--silent",
            "--skipApiVersionCheck",
            "--loose",
            "--disableTelemetry",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, proc)
    yield AzureServer(endpoint_url=f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}")
    _stop(proc)


@dataclass
class HTTPMediaServer:
    base_url: str
    root: Path
    token_requests: list


class _MediaHandler(SimpleHTTPRequestHandler):
    """Static files with Range support, and POST /token answering an OAuth token."""

    server_version = "media-test"

    def log_message(self, *args):  # quiet
        pass

    def do_POST(self):
        if self.path.rstrip("/") == "/token":
            self.server.token_requests.append(self.path)  # type: ignore[attr-defined]
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            body = json.dumps(
                {"access_token": "test-token", "expires_in": 3600, "token_type": "Bearer"}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_error(405)

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404, "not found")
            return None
        size = path.stat().st_size
        ctype = self.guess_type(str(path))
        rng = self.headers.get("Range", "")
        f = path.open("rb")
        if rng.startswith("bytes="):
            start_s, _, end_s = rng[6:].partition("-")
            start = int(start_s or 0)
            end = min(int(end_s) if end_s else size - 1, size - 1)
            if start >= size:
                f.close()
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            f.seek(start)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.send_header("Content-Length", str(end - start + 1))
            self._remaining = end - start + 1
        else:
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self._remaining = size
        self.send_header("Content-Type", ctype)
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        return f

    def copyfile(self, source, outputfile):
        remaining = getattr(self, "_remaining", None)
        while remaining is None or remaining > 0:
            chunk = source.read(min(65536, remaining) if remaining is not None else 65536)
            if not chunk:
                break
            outputfile.write(chunk)
            if remaining is not None:
                remaining -= len(chunk)


def start_http_server(root: Path, port: int | None = None) -> tuple[ThreadingHTTPServer, HTTPMediaServer]:
    port = port or free_port()

    def handler(*args, **kwargs):
        return _MediaHandler(*args, directory=str(root), **kwargs)

    httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
    httpd.daemon_threads = True
    httpd.token_requests = []  # type: ignore[attr-defined]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, HTTPMediaServer(
        base_url=f"http://127.0.0.1:{port}", root=root, token_requests=httpd.token_requests
    )  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def http_media(tmp_path_factory):
    root = tmp_path_factory.mktemp("http-media")
    httpd, server = start_http_server(root)
    yield server
    httpd.shutdown()
    httpd.server_close()


# ---- media made in the test ------------------------------------------------------------------


def make_jpeg(width: int = 64, height: int = 48, color=(200, 30, 30)) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "JPEG", quality=80)
    return buf.getvalue()


def make_png(width: int = 32, height: int = 16) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (10, 200, 10)).save(buf, "PNG")
    return buf.getvalue()


def make_mp4(width: int = 64, height: int = 48, frames: int = 10, fps: int = 10) -> bytes:
    import io

    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame(width, height, "rgb24")
            plane = frame.planes[0]
            plane.update(bytes([(i * 20) % 255]) * (plane.line_size * height))
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def make_dicom(
    instance: int = 1, rows: int = 8, cols: int = 8, series_uid: str = "1.2.826.0.1.3680043.8.498.1"
) -> bytes:
    """The bytes of one DICOM instance of `series_uid`, as tests.media.mediagen.make_dicom writes it."""
    import tempfile

    from tests.media.mediagen import make_dicom as write_dicom

    with tempfile.TemporaryDirectory() as tmp:
        path = write_dicom(Path(tmp) / "instance.dcm", instance, rows=rows, columns=cols, series_uid=series_uid)
        return path.read_bytes()
