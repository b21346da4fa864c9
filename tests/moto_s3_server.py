"""moto's S3 service as an HTTP server on loopback, for tests and benchmarks.

`python -m moto.server` serves every AWS service behind one dispatcher: for each request it works
out which service is meant (scanning moto's module folders on disk, under a process-wide lock),
and werkzeug writes a log line per request. Measured with py-spy while bench_private probed 10,000
objects, that dispatch and logging were about 30% of moto's CPU, and moto's CPU is what bounds the
benchmark. Here moto's own S3 application (the one the dispatcher hands S3 requests to) is served
directly, without the request log; the S3 API it answers is the same (the same S3 application,
request handler and werkzeug server as moto's launcher).

Usage: python tests/moto_s3_server.py HOST PORT
"""

from __future__ import annotations

import signal
import sys


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    from moto.moto_server.werkzeug_app import MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    class QuietRequestHandler(MotoRequestHandler):
        def log_request(self, code="-", size="-") -> None:
            pass

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    run_simple(host, port, create_backend_app("s3"), threaded=True, request_handler=QuietRequestHandler)


if __name__ == "__main__":
    main()
