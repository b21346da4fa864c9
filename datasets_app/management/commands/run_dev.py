"""Runs the web server and a Celery worker together; Ctrl-C stops both."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Web server on 127.0.0.1:$PORT (default 8000) plus a Celery worker for every queue."

    def add_arguments(self, parser):
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))

    def handle(self, *args, port, host, **options):
        python = sys.executable
        worker = subprocess.Popen(
            [python, "-m", "celery", "-A", "dashboard", "worker", "-Q", "default,media", "--loglevel", "INFO",
             "--concurrency", os.environ.get("WORKER_CONCURRENCY", "2"), "--pool", "prefork"],
            cwd=settings.BASE_DIR,
        )
        web = subprocess.Popen(
            [python, "manage.py", "runserver", f"{host}:{port}", "--noreload"], cwd=settings.BASE_DIR
        )
        self.stdout.write(f"Dashboard: http://{host}:{port}/   (data in {settings.DATA_DIR}; Ctrl-C stops)")
        children = [web, worker]

        def stop(*_):
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            for child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
            sys.exit(0)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        self.stderr.write("A process exited; stopping the other.")
        stop()
