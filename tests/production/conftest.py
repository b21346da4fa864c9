"""Fixtures of the production tests: our real processes on a private redis-server."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection

from dashboard.celery import app

from .topology import RedisServer, Topology, require_real_services


@contextmanager
def _publish_to(broker_url: str):
    """This process's task messages go to `broker_url` (only publishing: a worker thread another
    test module left consuming the suite's broker keeps its connection and sees none of ours)."""
    def reset_pools() -> None:
        app._pool = None
        app.amqp._producer_pool = None

    saved = app.conf.broker_write_url if app.conf.get("broker_write_url") else None
    app.conf.broker_write_url = broker_url
    reset_pools()
    try:
        yield
    finally:
        app.conf.broker_write_url = saved
        reset_pools()


@pytest.fixture
def private_redis(tmp_path):
    require_real_services()
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def topo(tmp_path, settings, private_redis):
    """Our processes on a private redis-server (so no other worker of the suite takes our jobs)."""
    t = Topology(tmp_path, Path(settings.MEDIA_ROOT), private_redis.url)
    with _publish_to(private_redis.url):
        yield t
        t.stop_all()
    # the test database is flushed next: no process of ours may still hold a connection
    connection.close()
