"""gunicorn settings for the web tier, all from the environment (`gunicorn -c deploy/gunicorn.conf.py
dashboard.wsgi`).

Worker class: gthread. Every view is synchronous Django code (the long poll too); under ASGI
(uvicorn workers) Django runs sync views through asgiref's thread-sensitive executor, one thread
per process, so a process would answer one request at a time and a waiting long poll would stall
the rest. gthread gives each process WEB_THREADS threads: a waiting job poll holds one thread, not a
process. Size WEB_THREADS above the number of clients expected to long-poll at once (README
"Deployment"); ASGI would pay off only once the polls are written as async views.
"""

from __future__ import annotations

import multiprocessing
import os

bind = os.environ.get("BIND", f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", min(4, multiprocessing.cpu_count() + 1)))
worker_class = "gthread"
# 8 measured best on 2 cores with 50 SDK clients (bench_load: 2x8 107 req/s p99 0.93 s; 2x4 93 req/s p99 1.0 s;
# 2x16 67 req/s, p99 1.5 s): more threads mostly wait for the GIL.
threads = int(os.environ.get("WEB_THREADS", "8"))
# Long enough for a long-poll (the SDK waits up to 60 s) and a streamed upload chunk.
timeout = int(os.environ.get("WEB_TIMEOUT", "120"))
graceful_timeout = 30
keepalive = 5
# Recycle processes now and then so a slow leak can't grow without bound.
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "5000"))
max_requests_jitter = 500
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
