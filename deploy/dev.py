#!/usr/bin/env python3
"""Set-up and run on a fresh machine with only Python 3.11+ (stdlib only; `make run` / `make test` call it).

    python3 deploy/dev.py run    # .venv, install, migrate, first admin, web + worker on 127.0.0.1:$PORT
    python3 deploy/dev.py serve  # production topology: gunicorn, default + media workers, beat (deploy/serve.py)
    python3 deploy/dev.py test   # .venv with test extras, then the whole test suite (extra args go to pytest)
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"


def ensure_venv(extras: str) -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}.")
    if not PY.exists():
        print(f"Creating a virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    # Reinstall only when pyproject.toml changed since the last install of these extras.
    stamp = VENV / f".installed-{extras or 'base'}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    target = f".[{extras}]" if extras else "."
    print(f"Installing {target} into {VENV} ...", flush=True)
    subprocess.run([str(PY), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True, cwd=ROOT)
    subprocess.run([str(PY), "-m", "pip", "install", "-q", "-e", target], check=True, cwd=ROOT)
    stamp.write_text(digest)


def manage(*args: str) -> None:
    subprocess.run([str(PY), "manage.py", *args], check=True, cwd=ROOT)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "run"
    if command == "run":
        # The developer's embedded default: DEBUG on (and a SECRET_KEY generated into DATA_DIR) unless
        # the environment says otherwise. `serve` and every file in deploy/ run with DEBUG off.
        os.environ.setdefault("DEBUG", "1")
        ensure_venv("")
        manage("migrate", "--no-input", "-v", "0")
        manage("create_first_admin")
        os.execv(str(PY), [str(PY), "manage.py", "run_dev", *argv[1:]])
    if command == "serve":
        # The production topology (web, default + media workers, beat): deploy/serve.py.
        ensure_venv("")
        os.execv(str(PY), [str(PY), str(ROOT / "deploy" / "serve.py"), *argv[1:]])
    if command == "test":
        ensure_venv("test")
        os.chdir(ROOT)
        os.execv(str(PY), [str(PY), "-m", "pytest", *argv[1:]])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
