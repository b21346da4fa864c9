"""The frame table of a video: frame index <-> presentation time, so a labelling tool maps
"frame N" to an exact seek time and back (issue 5). Our own route, authenticated like every v2 one."""

from __future__ import annotations

from typing import Any

from django.urls import path

from datasets_app.sdk import Dataset
from datasets_app.sdk.policy import parse_hash

from .. import schemas as s
from .base import V2Call, v2_endpoint


def _dataset(call: V2Call, dataset_uuid: str) -> Dataset:
    dataset_hash = s.uuid_str(dataset_uuid, "dataset_uuid")
    if call.principal is not None and call.principal.is_key:
        return Dataset.of_key(call.principal, parse_hash(dataset_hash, "dataset_uuid"))
    return call.user_client().get_dataset(dataset_hash)


@v2_endpoint(methods=["GET"])
def frame_timestamps(call: V2Call, dataset_uuid: str, data_hash: str) -> dict[str, Any]:
    """GET /v2/public/datasets/<uuid>/data/<data_hash>/frames -> {"times": [seconds of frame 0,
    1, ...], "fps", "frame_count", "start_time", "time_base", "verdict", "reasons", "data_hash"}.

    For a video never probed the request probes nothing: the worker is asked to, and the answer is
    the same shape with verdict "pending", empty times, zeros and a reason saying so; ask again."""
    frames = _dataset(call, dataset_uuid).get_frame_timestamps(s.uuid_str(data_hash, "data_hash"))
    return {
        "data_hash": frames.data_hash,
        "verdict": frames.verdict,
        "reasons": frames.reasons,
        "fps": frames.fps,
        "frame_count": frames.frame_count,
        "start_time": frames.start_time,
        "time_base": frames.time_base,
        "times": frames.times,
    }


urlpatterns = [
    path(
        "v2/public/datasets/<str:dataset_uuid>/data/<str:data_hash>/frames",
        frame_timestamps,
        name="api-v2-frame-timestamps",
    ),
]
