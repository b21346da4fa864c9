#!/usr/bin/env python3
"""The production topology on one machine, from the environment (`make serve`):

    gunicorn web tier (deploy/gunicorn.conf.py)
    celery worker for the `default` queue, celery worker for the `media` queue, celery beat

Before starting: migrate, collectstatic. Ctrl-C / SIGTERM stops all of them; if one exits, the
others are stopped too (a supervisor such as systemd or compose restarts the set).

Environment (all optional): DATABASE_URL, CELERY_BROKER_URL, AWS_STORAGE_BUCKET_NAME + AWS_*,
SECRET_KEY, DEBUG, HOST, PORT, WEB_CONCURRENCY, DEFAULT_CONCURRENCY, MEDIA_CONCURRENCY,
LOG_FORMAT=json, PROMETHEUS_MULTIPROC_DIR. `--no-beat` leaves beat out (run exactly one per site).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_PY = ROOT / ".venv" / "bin" / "python"
PY = str(VENV_PY) if VENV_PY.exists() else sys.executable


def commands(*, beat: bool, data_dir: Path) -> dict[str, list[str]]:
    """The processes of the topology: name -> argv (the same commands deploy/compose.yaml runs)."""
    celery = [PY, "-m", "celery", "-A", "dashboard"]
    procs = {
        "web": [PY, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"), "dashboard.asgi:application"],
        "worker-default": celery + ["worker", "-Q", "default", "-n", "default@%h", "--loglevel", "INFO",
                                    "--concurrency", os.environ.get("DEFAULT_CONCURRENCY", "2")],
        "worker-media": celery + ["worker", "-Q", "media", "-n", "media@%h", "--loglevel", "INFO",
                                  "--concurrency", os.environ.get("MEDIA_CONCURRENCY", "2")],
    }
    if beat:
        procs["beat"] = celery + ["beat", "--loglevel", "INFO", "--schedule", str(data_dir / "celerybeat-schedule")]
    return procs


def prepare_env() -> tuple[dict[str, str], Path]:
    env = dict(os.environ)
    # Production: DEBUG off unless the environment asks for it (then SECRET_KEY is required).
    env.setdefault("DEBUG", "0")
    data_dir = Path(env.get("DATA_DIR", ROOT / "var")).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    env["DATA_DIR"] = str(data_dir)
    # One metrics directory for every process on this host; stale files from a previous run go.
    prom = Path(env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(data_dir / "prometheus")))
    shutil.rmtree(prom, ignore_errors=True)
    prom.mkdir(parents=True)
    return env, data_dir


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-beat", action="store_true")
    parser.add_argument("--skip-setup", action="store_true", help="no migrate/collectstatic")
    args = parser.parse_args(argv)
    env, data_dir = prepare_env()
    if not args.skip_setup:
        for step in (["migrate", "--no-input"], ["collectstatic", "--no-input", "-v", "0"]):
            subprocess.run([PY, "manage.py", *step], cwd=ROOT, env=env, check=True)
    children: dict[str, subprocess.Popen] = {}
    for name, argv_ in commands(beat=not args.no_beat, data_dir=data_dir).items():
        children[name] = subprocess.Popen(argv_, cwd=ROOT, env=env)
    print(f"serving: {', '.join(f'{n}[{p.pid}]' for n, p in children.items())}", flush=True)

    def stop(*_: object) -> None:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while True:
        for name, child in children.items():
            if child.poll() is not None:
                print(f"{name} exited with {child.returncode}; stopping the others.", file=sys.stderr, flush=True)
                stop()
        time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
