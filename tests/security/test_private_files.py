"""Item 1 of issue 11: the HTTP API must never read a file on the server's disk.

`datasetdatalongpolling` POST carries the private-files document in `payload.files`. The server
used to take any string that was not JSON for a path on its own disk and open it, before it looked
at the integration: a dataset USER or WRITE key learnt whether a file existed, its size and the
top-level keys of any JSON file (a service-account key, say); a FIFO held a web thread forever and
`/dev/zero` passed the size check and was read until memory ran out.

Over the wire only a JSON object, or JSON text holding one, is a document now; the integration is
resolved and authorised before the document is looked at; reading a local file is left to trusted
in-process callers (a `pathlib.Path` or an open file, which no JSON payload can produce)."""

from __future__ import annotations

import json
import os
import resource
import threading
import time
import uuid
from pathlib import Path

import pytest

from datasets_app import models as m
from datasets_app.sdk import private_data, private_manifest
from datasets_app.sdk.client import UserClient
from datasets_app.sdk.exceptions import InvalidArgumentError
from tests.api.conftest import error_code, fresh_rate_limits, raw_client, wire_client  # noqa: F401

PATHS_REFUSED = "paths on the server are not read over the API"
MD = {"mime_type": "image/png", "file_size": 1, "width": 1, "height": 1}
DOC = {"images": [{"objectUrl": "s3://bucket/a.png", "imageMetadata": MD}]}


@pytest.fixture
def integration(ds_admin):
    """An integration of the user who made the dataset's keys (so the keys may use it)."""
    return private_data.integration_create(owner=ds_admin, title="admin's bucket", provider="s3")


@pytest.fixture
def secret_json(tmp_path) -> Path:
    """A service-account-like key file on the server's disk."""
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps({"type": "service_account", "private_key_id": "abc", "private_key": "---"}))
    return path


def start(client, dataset, integration_id, files):
    return client.v1(
        "datasetdatalongpolling",
        "POST",
        str(dataset.dataset_hash),
        {"integrationId": str(integration_id), "files": files, "ignoreErrors": False},
        resource_id=str(dataset.dataset_hash),
    )


def answer(envelope: dict, *hide: str) -> tuple:
    message = str(envelope.get("payload"))
    for text in hide:
        message = message.replace(text, "<path>")
    return error_code(envelope), message


def test_write_key_cannot_probe_server_paths(wire_client, dataset, write_key, integration, secret_json, tmp_path):
    """An existing text file, a JSON file and a missing path get the same answer, which names no
    size, no key of the file and no 'not found'."""
    key = wire_client(api_key=write_key.secret)
    missing = str(tmp_path / "no-such-file.json")
    answers = {
        path: answer(start(key, dataset, integration.integration_uuid, path), path)
        for path in ("/etc/hostname", str(secret_json), missing)
    }
    assert len(set(answers.values())) == 1, answers
    code, message = answers[missing]
    assert code == "INVALID_ARGUMENTS_ERROR" and PATHS_REFUSED in message
    for leak in ("private_key", "service_account", "bytes", "no JSON file", "not valid JSON"):
        assert leak not in message
    assert not m.DataJob.objects.exists()


def test_integration_is_checked_before_the_document(wire_client, dataset, write_key, secret_json):
    """A principal that may not use the integration learns nothing from `files` at all."""
    key = wire_client(api_key=write_key.secret)
    nobody = uuid.uuid4()
    for files in ("/etc/hostname", str(secret_json), "/no/such/file.json", DOC):
        envelope = start(key, dataset, nobody, files)
        assert error_code(envelope) == "RESOURCE_NOT_FOUND_ERROR", envelope
        assert envelope["payload"] == f"Cloud integration {nobody} not found."


def test_json_object_and_json_text_are_still_documents(wire_client, dataset, write_key, integration):
    key = wire_client(api_key=write_key.secret)
    for files in (DOC, json.dumps(DOC)):
        envelope = start(key, dataset, integration.integration_uuid, files)
        assert error_code(envelope) is None, envelope
    # (the same URL twice: without skip_duplicate_urls both imports write their row)
    assert m.DataRow.objects.filter(dataset=dataset).count() == 2


def test_dataset_user_signed_request_learns_nothing(wire_client, dataset, ds_user, secret_json, tmp_path):
    """A dataset USER, signing with their Ed25519 key exactly as the SDK signs, through their own
    integration. (0.1.211 validates `files` as a dict before sending; the wire does not.)"""
    own = private_data.integration_create(owner=ds_user, title="mine", provider="s3")
    user = wire_client(ds_user)
    paths = ("/etc/hostname", str(secret_json), str(tmp_path / "missing.json"))
    answers = {answer(start(user, dataset, own.integration_uuid, path), path) for path in paths}
    assert len(answers) == 1, answers
    ((code, message),) = answers
    assert code == "INVALID_ARGUMENTS_ERROR" and PATHS_REFUSED in message
    assert "private_key" not in message
    assert not m.DataJob.objects.exists()


def _unblock_fifo(path: Path) -> None:
    """Let a reader stuck in open() go (only needed if the server opened the FIFO)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return  # no reader: the server never opened it
    os.close(fd)


def test_fifo_does_not_hold_a_web_thread(raw_client, dataset, write_key, integration, tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    key = raw_client(api_key=write_key.secret)
    box: dict = {}
    thread = threading.Thread(
        target=lambda: box.update(envelope=start(key, dataset, integration.integration_uuid, str(fifo))),
        daemon=True,
    )
    began = time.monotonic()
    thread.start()
    thread.join(10)
    hung = thread.is_alive()
    if hung:
        _unblock_fifo(fifo)
        thread.join(30)
    assert not hung, "the server opened the FIFO and waited for a writer"
    assert time.monotonic() - began < 10
    code, message = answer(box["envelope"], str(fifo))
    assert code == "INVALID_ARGUMENTS_ERROR" and PATHS_REFUSED in message


@pytest.fixture
def memory_cap():
    """Caps this process's address space (the live server runs in it) ~768 MB above its current
    size for the test, so a server that reads /dev/zero fails with MemoryError instead of taking
    the machine down."""
    with open("/proc/self/status") as status:
        vm_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = vm_kb * 1024 + 768 * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def test_dev_zero_is_not_read(raw_client, dataset, write_key, integration, memory_cap):
    key = raw_client(api_key=write_key.secret)
    began = time.monotonic()
    envelope = start(key, dataset, integration.integration_uuid, "/dev/zero")
    assert time.monotonic() - began < 10
    code, message = answer(envelope, "/dev/zero")
    assert code == "INVALID_ARGUMENTS_ERROR" and PATHS_REFUSED in message


# ---- in process: the trusted path reader stays, under its own name ---------------------------


def test_in_process_str_is_json_text_only(dataset, ds_admin, integration, secret_json):
    """The SDK-layer Dataset used in process treats a str as JSON text, never as a path: the
    dashboard and the API hand it strings, so a str must never reach the disk."""
    ds = UserClient.for_user(ds_admin).get_dataset(str(dataset.dataset_hash))
    with pytest.raises(InvalidArgumentError, match=PATHS_REFUSED) as err:
        ds.add_private_data_to_dataset_start(str(integration.integration_uuid), str(secret_json))
    assert "private_key" not in err.value.message
    assert not m.DataJob.objects.exists()


def test_trusted_local_reader_is_bounded(db, tmp_path):
    """`read_private_files_from_local_file` (CLI / manage.py shell only) refuses what is not a
    regular file, and does not open a FIFO."""
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero"), tmp_path):
        with pytest.raises(InvalidArgumentError, match="not a regular file"):
            private_manifest.read_private_files_from_local_file(path)
    good = tmp_path / "manifest.json"
    good.write_text(json.dumps(DOC))
    assert private_manifest.read_private_files_from_local_file(good) == DOC
