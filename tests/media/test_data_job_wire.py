"""The data-job endpoint on the wire (v1 envelope): refusals name the key, polls of other users'
jobs are not found, the poll is held no longer than asked, and the answer has every key 0.1.145
and 0.1.211 require."""

from __future__ import annotations

import time

import pytest

from datasets_app.sdk.policy import Principal
from datasets_app.sdk.uploads import issue_upload_urls
from tests.api.conftest import error_code, fresh_rate_limits, raw_client  # noqa: F401
from tests.media.mediagen import make_image

pytestmark = pytest.mark.django_db(transaction=True)


def start(client, dataset, items, **extra):
    payload = {"dataItems": items, "ignoreErrors": False, **extra}
    return client.v1(
        "datasetdatalongpolling",
        "POST",
        str(dataset.dataset_hash),
        payload,
        resource_id=str(dataset.dataset_hash),
    )


def test_start_with_foreign_key_is_invalid_arguments_naming_it(dataset, ds_user, ds_admin, raw_client):  # noqa: F811
    (foreign,) = issue_upload_urls(Principal(user=ds_admin), 1, "video")
    answer = start(
        raw_client(ds_user), dataset, {"videos": [{"objectUrl": foreign.object_key, "title": "x.mp4"}]}
    )
    assert error_code(answer) == "INVALID_ARGUMENTS_ERROR"
    assert foreign.object_key in answer["payload"]


def test_poll_shape_timeout_and_ownership(tmp_path, dataset, ds_user, ds_admin, raw_client, live_server):  # noqa: F811
    import requests

    user = raw_client(ds_user)
    (slot,) = issue_upload_urls(Principal(user=ds_user), 1, "image", base_url=live_server.url)
    assert (
        requests.put(
            slot.signed_url, data=make_image(tmp_path / "a.jpg").read_bytes(), timeout=10
        ).status_code
        == 200
    )
    answer = start(user, dataset, {"images": [{"objectUrl": slot.object_key, "title": "a.jpg"}]})
    process_hash = answer["response"]["process_hash"]

    # held until the job ends or ~1 s passes (when a session worker is running, it may end first)
    t0 = time.monotonic()
    poll = user.v1(
        "datasetdatalongpolling",
        "GET",
        str(dataset.dataset_hash),
        {"process_hash": process_hash, "timeout_seconds": 1},
        resource_id=str(dataset.dataset_hash),
    )
    elapsed = time.monotonic() - t0
    assert elapsed < 3
    assert set(poll["response"]) == {
        "status",
        "data_hashes_with_titles",
        "errors",
        "data_unit_errors",
        "units_pending_count",
        "units_done_count",
        "units_error_count",
        "units_cancelled_count",
        "duplicates",
    }
    if poll["response"]["status"] == "PENDING":
        assert elapsed >= 0.9 and poll["response"]["units_pending_count"] == 1
    else:
        assert poll["response"]["status"] == "DONE" and poll["response"]["units_done_count"] == 1

    # another member of the dataset cannot poll it; an unknown hash is not found either
    other = raw_client(ds_admin).v1(
        "datasetdatalongpolling",
        "GET",
        str(dataset.dataset_hash),
        {"process_hash": process_hash, "timeout_seconds": 0},
        resource_id=str(dataset.dataset_hash),
    )
    assert error_code(other) == "RESOURCE_NOT_FOUND_ERROR"
    bad = user.v1(
        "datasetdatalongpolling",
        "GET",
        str(dataset.dataset_hash),
        {"process_hash": process_hash, "timeout_seconds": "ten"},
        resource_id=str(dataset.dataset_hash),
    )
    assert error_code(bad) == "INVALID_ARGUMENTS_ERROR"


def test_signed_images_url_answers_a_list_titled_by_file_name(dataset, ds_user, raw_client):  # noqa: F811
    answer = raw_client(ds_user).v1(
        "signedimagesurl", "GET", ["b.png", "a.jpeg"], None, resource_id=str(dataset.dataset_hash)
    )
    assert [e["title"] for e in answer["response"]] == ["b.png", "a.jpeg"]
    assert all(
        e["file_link"].startswith("uploads/") and "b.png" not in e["file_link"] for e in answer["response"]
    )
    video = raw_client(ds_user).v1(
        "signedvideourl", "GET", "v.mp4", None, resource_id=str(dataset.dataset_hash)
    )
    assert video["response"]["title"] == "v.mp4" and "/upload/" in video["response"]["signed_url"]
