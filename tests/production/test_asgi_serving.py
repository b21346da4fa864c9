"""The web tier as production runs it (gunicorn + uvicorn workers, deploy/gunicorn.conf.py): clients
long-polling a job do not keep anyone else waiting. With the gthread workers used before, one
process's threads were all taken by as many polls and every other request queued behind them."""

from __future__ import annotations

import threading
import time

import pytest

from datasets_app import models as m
from tests.api.conftest import RawClient, register_key
from tests.factories import DataJobFactory, DatasetFactory, DatasetMembershipFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WAITING_CLIENTS = 24  # three times the 8 threads a gthread process had
POLL_SECONDS = 6


def test_clients_long_polling_a_job_do_not_hold_up_other_requests(topo):
    # given a job nobody works on (no worker runs) and one web process
    ds = DatasetFactory()
    user = DatasetMembershipFactory(dataset=ds, role=m.DatasetUserRole.ADMIN).user
    job = DataJobFactory(dataset=ds, kind=m.DataJob.KIND_UPLOAD, created_by=user)
    base = topo.web(workers=1)
    key = register_key(user)
    resource = str(ds.dataset_hash)

    polls: list[tuple[float, dict]] = []

    def poll() -> None:
        envelope = RawClient(base, key=key).v1(
            "datasetdatalongpolling", "GET", uid=resource,
            payload={"process_hash": str(job.process_hash), "timeout_seconds": POLL_SECONDS},
            resource_id=resource,
        )
        polls.append((time.monotonic(), envelope))

    # when many clients wait on it at once
    waiting = [threading.Thread(target=poll) for _ in range(WAITING_CLIENTS)]
    for t in waiting:
        t.start()
    time.sleep(1.5)  # every poll is in the server now
    # then another client's call is answered while all of them are still waiting
    asked = time.monotonic()
    envelope = RawClient(base, key=key).v1("dataset", "GET", uid=resource, resource_id=resource)
    answered = time.monotonic()
    assert envelope["status"] == 200 and envelope["response"]["dataset_hash"] == resource
    assert not polls, f"{len(polls)} polls ended before the other call was answered"
    for t in waiting:
        t.join(timeout=60)
    # and each poll was held its full time and answered PENDING
    assert len(polls) == WAITING_CLIENTS
    assert all(env["status"] == 200 and env["response"]["status"] == "PENDING" for _, env in polls)
    assert min(t for t, _ in polls) - asked >= POLL_SECONDS - 2.5
    print(f"other call answered in {answered - asked:.2f} s while {WAITING_CLIENTS} polls waited")
