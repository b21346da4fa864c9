"""gunicorn settings for the web tier, all from the environment (`gunicorn -c deploy/gunicorn.conf.py
dashboard.asgi:application`).

Worker class: uvicorn. dashboard/asgi.py runs Django's views on WEB_THREADS long-lived threads per
process (8, measured on bench_load), streams signed upload PUTs into storage, and lets job long
polls (held up to 60 s by the SDK) wait in the event loop instead of a thread: clients waiting on
jobs never keep other requests waiting.
"""

from __future__ import annotations

import multiprocessing
import os

bind = os.environ.get("BIND", f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", min(4, multiprocessing.cpu_count() + 1)))
worker_class = "uvicorn_worker.UvicornWorker"
# The heartbeat: a worker whose event loop stops answering for this long is restarted (long polls
# and uploads wait without blocking the loop).
timeout = int(os.environ.get("WEB_TIMEOUT", "120"))
graceful_timeout = 30
keepalive = 5
# No recycling of worker processes by default: a uvicorn worker that reaches max_requests resets
# its open keep-alive connections (bench_load's trivial phase saw 11 of 12,000 requests fail with
# "connection reset" at 5,000 per process; gthread closed them cleanly). WEB_MAX_REQUESTS=N turns
# it on for a deployment that needs it.
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10
# Our middleware writes one structured line per request; gunicorn's access log would repeat it.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
proc_name = "datasets-dashboard-web"
# gunicorn's runtime control socket defaults to one path per user: two servers on a host would
# fight over it, and we manage processes with signals anyway.
control_socket_disable = True


def child_exit(server, worker):
    # Prometheus multiprocess mode: drop the dead worker's live gauges.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
