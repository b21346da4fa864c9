"""Item 7 of issue 11: a WRITE-only dataset API key must not read rows.

`datarow` POST with an empty update answered with the whole row (title, client metadata, the
private file link), and a finished upload's results named the existing row an upload duplicated
(`duplicate_of`). A principal without the READ grant now gets an acknowledgement only: the row's
hash, the fields it set itself, and nothing it could not read with `datarow` GET.

Dataset API keys exist only in SDK 0.1.145 (0.1.211 removed them, protocol §3.6), so the SDK test
drives the real 0.1.145 client; the wire tests send the same envelopes signed with the key."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from datasets_app import models as m
from datasets_app.sdk import Dataset, UserClient, jobs
from tests.api.conftest import error_code, wire_client  # noqa: F401  (fixture)
from tests.api.test_sdk_0145 import python_0145  # noqa: F401  (fixture: the cached 0.1.145 venv)
from tests.factories import DataRowFactory
from tests.media.mediagen import make_image

SECRET_TITLE = "patient-4711-scan.mp4"
SECRET_METADATA = {"patient": "4711", "site": "north"}
SECRET_LINK = "s3://private-bucket/customer/4711.mp4"


@pytest.fixture
def secret_row(dataset):
    return DataRowFactory(
        dataset=dataset, title=SECRET_TITLE, client_metadata=SECRET_METADATA, url=SECRET_LINK
    )


def _leaks(text: str) -> list[str]:
    return [s for s in (SECRET_TITLE, "4711", SECRET_LINK, "private-bucket") if s in text]


@pytest.mark.django_db
def test_empty_update_by_a_write_only_key_returns_no_row_contents(wire_client,  # noqa: F811
    write_key, dataset, secret_row):
    writer = wire_client(api_key=write_key.secret)
    envelope = writer.v1("datarow", "POST", str(secret_row.data_hash), {}, resource_id=str(dataset.dataset_hash))
    assert envelope["status"] == 200, envelope
    assert _leaks(json.dumps(envelope)) == [], envelope
    row = envelope["response"]["data_row"]
    assert envelope["response"]["updated_fields"] == [] and row["data_hash"] == str(secret_row.data_hash)


@pytest.mark.django_db
def test_write_only_key_sees_only_what_it_set(wire_client, write_key, dataset, secret_row):
    writer = wire_client(api_key=write_key.secret)
    envelope = writer.v1(
        "datarow", "POST", str(secret_row.data_hash), {"data_title": "renamed"}, resource_id=str(dataset.dataset_hash)
    )
    answer = envelope["response"]
    assert answer["updated_fields"] == ["data_title"] and answer["data_row"]["data_title"] == "renamed"
    assert _leaks(json.dumps(envelope)) == [], envelope
    secret_row.refresh_from_db()
    assert secret_row.title == "renamed" and secret_row.client_metadata == SECRET_METADATA  # the write happened


@pytest.mark.django_db
def test_read_write_key_and_members_still_get_the_row(wire_client, rw_key, ds_user, dataset, secret_row):
    for client in (wire_client(api_key=rw_key.secret), wire_client(ds_user)):
        envelope = client.v1("datarow", "POST", str(secret_row.data_hash), {}, resource_id=str(dataset.dataset_hash))
        row = envelope["response"]["data_row"]
        assert row["data_title"] == SECRET_TITLE and row["client_metadata"] == SECRET_METADATA
        assert row["file_link"] == SECRET_LINK


@pytest.mark.django_db
def test_write_only_key_still_cannot_read_with_datarow_get(wire_client, write_key, dataset, secret_row):
    envelope = wire_client(api_key=write_key.secret).v1(
        "datarow", "GET", str(secret_row.data_hash), {}, resource_id=str(dataset.dataset_hash)
    )
    assert error_code(envelope) == "OPERATION_NOT_ALLOWED"


SDK_SCRIPT = r"""
import json, sys
from encord.client import EncordClient
from encord.orm.dataset import DataRow
cfg = json.loads(sys.stdin.read())
writer = EncordClient.initialise(cfg["dataset_hash"], cfg["key"], domain=cfg["url"])
# What DataRow.save() sends for a row with no dirty field, through the SDK's own querier.
raw = writer._querier.basic_setter(DataRow, uid=cfg["row"], payload={})
# DataRow.save() for a rename: the SDK checks updated_fields and re-reads the row from the answer.
row = DataRow.from_dict({
    "data_hash": cfg["row"], "data_title": "local", "data_type": "VIDEO",
    "created_at": "2024-01-01 00:00:00", "last_edited_at": "2024-01-01 00:00:00",
    "width": None, "height": None, "file_link": None, "file_size": None, "file_type": None,
    "storage_location": 0, "frames_per_second": None, "duration": None,
})
row["_querier"] = writer._querier
row.title = "renamed by the writer"
row.save()
print(json.dumps({"raw": json.dumps(raw, default=str), "title": row.title, "client_metadata": row.client_metadata,
                  "file_link": row.file_link}, default=lambda o: dict(o) if hasattr(o, "keys") else str(o)))
"""


@pytest.mark.django_db(transaction=True)
def test_sdk_0145_write_key_save_is_acknowledged_without_contents(
    python_0145, live_server, dataset, write_key, secret_row  # noqa: F811
):
    cfg = {"url": live_server.url, "dataset_hash": str(dataset.dataset_hash), "key": write_key.secret,
           "row": str(secret_row.data_hash)}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENCORD_", "CORD_"))}
    proc = subprocess.run(
        [str(python_0145), "-c", SDK_SCRIPT], input=json.dumps(cfg), capture_output=True, text=True,
        timeout=120, env=env, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert _leaks(json.dumps(out)) == [], out
    assert out["title"] == "renamed by the writer"
    assert out["client_metadata"] is None and out["file_link"] is None
    secret_row.refresh_from_db()
    assert secret_row.title == "renamed by the writer"


@pytest.mark.django_db
def test_upload_results_of_a_write_only_key_do_not_name_existing_rows(
    tmp_path, dataset, ds_user, write_key, rw_key, django_capture_on_commit_callbacks
):
    member = UserClient.for_user(ds_user).get_dataset(str(dataset.dataset_hash))
    image = make_image(tmp_path / "same.jpg")
    with django_capture_on_commit_callbacks(execute=False):
        first = member.upload_image_start(image)
    jobs.run_data_job(m.DataJob.objects.get(process_hash=first).pk)
    existing = str(m.DataRow.objects.get(dataset=dataset).data_hash)

    for key, may_read in ((write_key, False), (rw_key, True)):
        client = Dataset.from_api_key(str(dataset.dataset_hash), key.secret)
        with django_capture_on_commit_callbacks(execute=False):
            again = client.upload_image_start(image)
        jobs.run_data_job(m.DataJob.objects.get(process_hash=again).pk)
        status = client.get_data_job(again)
        assert status.status == "DONE" and len(status.duplicates) == 1
        # its own new row is its to know; the row it duplicated is not, without READ
        assert len(status.data_hashes_with_titles) == 1
        assert (existing in json.dumps(status.duplicates)) is may_read, status.duplicates
        assert (existing in json.dumps(client.wait_data_job(again, 0).duplicates)) is may_read
