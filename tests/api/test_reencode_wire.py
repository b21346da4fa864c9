"""reencodevideotask on the wire: dataset API keys (as SDK 0.1.145 sends them), scopes, bad inputs."""

from __future__ import annotations

import pytest

from tests.api.conftest import error_code
from tests.factories import DataRowFactory


@pytest.fixture
def video(dataset):
    return DataRowFactory(dataset=dataset)


def test_write_key_requests_and_read_key_polls(
    wire_client, dataset, video, read_key, write_key, django_capture_on_commit_callbacks
):
    ds = str(dataset.dataset_hash)
    writer, reader = wire_client(api_key=write_key.secret), wire_client(api_key=read_key.secret)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        put = writer.v1(
            "reencodevideotask", "PUT", None, {"data_hash": [str(video.data_hash)]}, resource_id=ds
        )
        again = writer.v1(
            "reencodevideotask", "PUT", None, {"data_hash": [str(video.data_hash)]}, resource_id=ds
        )
    assert put["status"] == 200 and isinstance(put["response"], int) and put["response"] > 0
    assert again["response"] == put["response"] and len(callbacks) == 1
    got = reader.v1("reencodevideotask", "GET", put["response"], None, resource_id=ds)
    assert got == {"status": 200, "response": {"status": "SUBMITTED", "result": None}}
    assert (
        error_code(reader.v1("reencodevideotask", "PUT", None, {"data_hash": []}, resource_id=ds))
        == "OPERATION_NOT_ALLOWED"
    )
    assert (
        error_code(writer.v1("reencodevideotask", "GET", put["response"], None, resource_id=ds))
        == "OPERATION_NOT_ALLOWED"
    )


@pytest.mark.parametrize(
    "method,uid,payload,code",
    [
        ("PUT", None, None, "INVALID_ARGUMENTS_ERROR"),
        ("PUT", None, {"data_hash": "not-a-uuid"}, "INVALID_ARGUMENTS_ERROR"),
        ("PUT", None, {"data_hash": [1, 2]}, "INVALID_ARGUMENTS_ERROR"),
        ("GET", None, None, "INVALID_ARGUMENTS_ERROR"),
        ("GET", "abc", None, "INVALID_ARGUMENTS_ERROR"),
        ("GET", [1], None, "INVALID_ARGUMENTS_ERROR"),
        ("GET", 424242, None, "RESOURCE_NOT_FOUND_ERROR"),
    ],
)
def test_bad_reencode_requests_get_typed_errors(wire_client, dataset, rw_key, method, uid, payload, code):
    client = wire_client(api_key=rw_key.secret)
    answer = client.v1("reencodevideotask", method, uid, payload, resource_id=str(dataset.dataset_hash))
    assert error_code(answer) == code


def test_frames_endpoint_with_bearer_token(wire_client, dataset, ds_user, video):
    video.item.media_info = {
        "verdict": "at risk",
        "reasons": ["Variable frame rate: ..."],
        "fps": 12.5,
        "frame_count": 3,
        "start_time": 0.0,
        "frame_table": {"time_base": "1/1000", "start_pts": 0, "count": 3, "runs": [[40, 1], [120, 1]]},
    }
    video.item.save(update_fields=["media_info", "last_edited_at"])
    response = wire_client(ds_user, bearer=True).v2(
        "GET", f"/v2/public/datasets/{dataset.dataset_hash}/data/{video.data_hash}/frames"
    )
    assert response.status_code == 200
    assert response.json()["times"] == [0.0, 0.04, 0.16]
    assert response.json()["verdict"] == "at risk"
