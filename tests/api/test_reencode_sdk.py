"""The real encord==0.1.211 SDK re-encodes through our server and a real Celery worker, then the
signed_url it returns downloads and seeks (HTTP Range); the frame table is served as JSON."""

from __future__ import annotations

from fractions import Fraction

import av
import pytest
import requests
from django.core.files.storage import default_storage

from datasets_app import models as m
from datasets_app.sdk import accounts
from tests.factories import DataRowFactory, hosted_video_row
from tests.media.test_video import make_video, vfr_pts
from tests.waits import wait_for


def test_encord_sdk_re_encodes_and_signed_url_seeks(
    tmp_path, dataset, ds_user, sdk_client, live_server, data_worker, client
):
    # given a variable-frame-rate video and an image in the dataset
    pts = vfr_pts(30)
    src = make_video(tmp_path / "vfr.mp4", pts=pts, fps=20)
    row = hosted_video_row(dataset, src)
    image = DataRowFactory(dataset=dataset, data_type=m.DataType.IMAGE)
    sdk_dataset = sdk_client(ds_user).get_dataset(str(dataset.dataset_hash))

    # when the SDK asks for a re-encode (the image is ignored) and polls
    task_id = sdk_dataset.re_encode_data([str(row.data_hash), str(image.data_hash)])
    assert isinstance(task_id, int) and task_id > 0
    assert sdk_dataset.re_encode_data([str(row.data_hash), str(image.data_hash)]) == task_id  # a retry
    status = wait_for(lambda: (s := sdk_dataset.re_encode_data_status(task_id)).status != "SUBMITTED" and s)

    # then it is DONE with a signed URL serving the re-encoded file
    assert status.status == "DONE"
    (result,) = status.result
    assert result.data_hash == str(row.data_hash)
    assert result.bucket_path == f"reencoded/{dataset.dataset_hash}/{row.data_hash}.mp4"
    assert result.signed_url.startswith(live_server.url + "/media/signed/")
    size = default_storage.size(result.bucket_path)
    whole = requests.get(result.signed_url, timeout=10)
    assert whole.status_code == 200 and len(whole.content) == size
    part = requests.get(result.signed_url, headers={"Range": "bytes=100-199"}, timeout=10)
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 100-199/{size}"
    assert part.content == whole.content[100:200]

    # and a player seeking over HTTP lands on frame n at n/fps
    with av.open(result.signed_url) as c:
        stream = c.streams.video[0]
        sequential = [bytes(f.planes[0]) for f in c.decode(stream)]
        assert len(sequential) == len(pts)
        fps = Fraction(stream.average_rate)
        for n in (0, 7, 13, len(pts) - 1):
            target = round(Fraction(n) / fps / stream.time_base)
            c.seek(target, stream=stream)
            frame = next(f for f in c.decode(stream) if f.pts >= target)
            assert frame.pts == target and bytes(frame.planes[0]) == sequential[n]

    # and the frame table JSON maps frame index to time
    token = accounts.issue_bearer_token(ds_user)
    response = client.get(
        f"/v2/public/datasets/{dataset.dataset_hash}/data/{row.data_hash}/frames",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["verdict"] == "ok" and body["frame_count"] == len(pts)
    assert body["times"] == pytest.approx([n / float(fps) for n in range(len(pts))], abs=1e-6)
    progress = m.ReEncodeVideo.objects.get(task_id=task_id)
    assert progress.frames_done == progress.frames_total == len(pts)


def test_encord_sdk_status_of_unknown_task_is_not_found(dataset, ds_user, sdk_client):
    from encord.exceptions import ResourceNotFoundError

    sdk_dataset = sdk_client(ds_user).get_dataset(str(dataset.dataset_hash))
    with pytest.raises(ResourceNotFoundError):
        sdk_dataset.re_encode_data_status(987654)


def test_frames_endpoint_refuses_strangers_and_non_videos(dataset, ds_user, stranger, client):
    image = DataRowFactory(dataset=dataset, data_type=m.DataType.IMAGE)
    url = f"/v2/public/datasets/{dataset.dataset_hash}/data/{image.data_hash}/frames"
    anonymous = client.get(url)
    assert anonymous.status_code in (401, 403)
    as_stranger = client.get(
        url, headers={"Authorization": f"Bearer {accounts.issue_bearer_token(stranger)}"}
    )
    assert as_stranger.status_code == 404
    not_video = client.get(url, headers={"Authorization": f"Bearer {accounts.issue_bearer_token(ds_user)}"})
    assert not_video.status_code == 400
