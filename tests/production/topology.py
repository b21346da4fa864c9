"""Real processes for the fault tests: gunicorn, Celery workers and a private redis-server, all on
loopback, talking to the pytest test database (PostgreSQL) and the test's media folder."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
# This helper's port range (18500-18599); each kind of process gets its own slice.
PORT_BASE = int(os.environ.get("DD_PROD_TEST_PORT_BASE", "18510"))


def require_real_services() -> None:
    """Skip (with the reason) unless the suite runs on PostgreSQL and a Redis broker."""
    if connection.vendor != "postgresql":
        pytest.skip("fault tests need PostgreSQL: set DATABASE_URL=postgres://... (.ci/run's second pass does)")
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("fault tests need a Redis broker: set CELERY_BROKER_URL=redis://... (.ci/run's second pass does)")


def free_port(start: int) -> int:
    for port in range(start, start + 40):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port from {start}")


def database_url() -> str:
    db = settings.DATABASES["default"]
    user = db.get("USER") or "postgres"
    auth = f"{user}:{db['PASSWORD']}" if db.get("PASSWORD") else user
    return f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


class Topology:
    """Starts and stops our processes; every one is killed at teardown (by its own pid group)."""

    def __init__(self, tmp_path: Path, media_root: Path, broker_url: str) -> None:
        self.tmp = tmp_path
        self.broker_url = broker_url
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_SETTINGS"))},
            "DJANGO_SETTINGS_MODULE": "dashboard.settings",
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": broker_url,
            "DATA_DIR": str(tmp_path / "data"),
            "MEDIA_ROOT": str(media_root),
            "SECRET_KEY": settings.SECRET_KEY,
            "DEBUG": "0",
            # Production settings, but the test clients speak plain HTTP on loopback, as a TLS proxy in
            # front would: no redirect to https (SECURE_SSL_REDIRECT defaults to on with DEBUG off).
            "SECURE_SSL_REDIRECT": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            # a killed worker's unacked message comes back after this many seconds
            "CELERY_VISIBILITY_TIMEOUT": "8",
            "CELERY_UNACKED_RESTORE_INTERVAL": "1",
            "CELERY_UNACKED_RESTORE_THROTTLE": "1",
            "LOG_FORMAT": "json",
            "CONN_MAX_AGE": "60",
        }

    def start(self, name: str, argv: list[str], **env: str) -> subprocess.Popen:
        log = self.tmp / f"{name}.log"
        self.logs[name] = log
        proc = subprocess.Popen(
            argv, cwd=ROOT, env={**self.env, **env}, stdout=log.open("ab"), stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a kill takes its children (ffmpeg) too
        )
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        return self.logs[name].read_text(errors="replace") if name in self.logs else ""

    def worker(self, name: str, queues: str = "media", concurrency: int = 1, **env: str) -> subprocess.Popen:
        log_start = len(self.log(name))
        proc = self.start(
            name,
            [sys.executable, "-m", "celery", "-A", "dashboard", "worker", "-Q", queues, "-n", f"{name}@%h",
             "--concurrency", str(concurrency), "--pool", "prefork", "--loglevel", "INFO",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            **env,
        )
        self.wait_for(lambda: " ready." in self.log(name)[log_start:], f"worker {name} ready", proc=proc)
        return proc

    def web(self, name: str = "web", workers: int = 2) -> str:
        # pytest migrated the test database under the test settings (a per-process cache); these
        # processes use production's default, the database cache, whose table `migrate` makes there.
        self.manage("createcachetable")
        port = free_port(PORT_BASE)
        self.start(
            name,
            [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "dashboard.asgi:application"],
            PORT=str(port), WEB_CONCURRENCY=str(workers),
            PROMETHEUS_MULTIPROC_DIR=str(self._prom_dir()),
        )
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return requests.get(f"{base}/healthz", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        self.wait_for(up, "web tier answering", proc=self.procs[name])
        return base

    def _prom_dir(self) -> Path:
        d = self.tmp / "prometheus"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir()
        return d

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)

    def stop_all(self) -> None:
        for name in list(self.procs):
            proc = self.procs[name]
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
                except ProcessLookupError:
                    pass
            self.procs.pop(name, None)

    def manage(self, *args: str, **env: str) -> str:
        out = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env={**self.env, **env},
            capture_output=True, text=True, timeout=120,
        )
        assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout

    def wait_for(self, predicate, what: str, *, timeout: float = 90, proc: subprocess.Popen | None = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if proc is not None and proc.poll() is not None:
                raise AssertionError(f"{what}: process exited\n" + "\n".join(self.log(n)[-3000:] for n in self.logs))
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}\n" + "\n".join(self.log(n)[-2000:] for n in self.logs))


class RedisServer:
    """A private redis-server on a port of our range (never the machine's shared one)."""

    def __init__(self, tmp_path: Path) -> None:
        if not shutil.which("redis-server"):
            pytest.skip("redis-server is not installed (the Redis restart test runs its own)")
        self.port = free_port(PORT_BASE + 50)
        self.dir = tmp_path / "redis"
        self.dir.mkdir()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        import redis

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, socket_timeout=1).ping():
                    return
            except redis.RedisError:
                time.sleep(0.1)
        raise AssertionError("private redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # abrupt: like a crash, nothing written to disk
            self.proc.wait(timeout=10)
        self.proc = None
