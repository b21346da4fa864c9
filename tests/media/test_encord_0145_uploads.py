"""encord==0.1.145 uploads with a dataset API key: signed*url ops, exact-200 PUTs, data job and
long poll without CANCELLED, with a real Celery worker."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from datasets_app import models as m
from tests.api.test_sdk_0145 import python_0145  # noqa: F401
from tests.media.mediagen import make_dicom, make_image, make_video

SCRIPT = Path(__file__).with_name("sdk0145_uploads.py")

pytestmark = pytest.mark.django_db(transaction=True)


def test_sdk_0145_uploads_with_api_key(tmp_path, python_0145, live_server, dataset, rw_key, data_worker):  # noqa: F811
    bad = tmp_path / "bad.png"
    bad.write_text("not pixels")
    cfg = {
        "url": live_server.url,
        "dataset_hash": str(dataset.dataset_hash),
        "api_key": rw_key.secret,
        "video": str(make_video(tmp_path / "clip.mp4", frames=8)),
        "image": str(make_image(tmp_path / "one.png", 30, 20)),
        "group": [
            str(make_image(tmp_path / f"g{i}.jpg", *size, color=(i * 60, 0, 0)))
            for i, size in enumerate([(64, 48), (32, 32), (64, 48)])
        ],
        "dicom": [str(make_dicom(tmp_path / f"d{n}.dcm", n)) for n in (3, 1, 2)],
        "bad_image": str(bad),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENCORD_", "CORD_"))}
    proc = subprocess.run(
        [str(python_0145), str(SCRIPT)],
        input=json.dumps(cfg),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])

    video = m.DataRow.objects.get(data_hash=out["video"]["data_hash"])
    assert video.title == "clip.mp4" and video.frame_count == 8
    image = m.DataRow.objects.get(data_hash=out["image"]["data_hash"])
    assert out["image"]["file_link"] == image.storage_key and (image.width, image.height) == (30, 20)
    groups = [m.DataRow.objects.get(data_hash=h) for h in out["groups"]]
    assert sorted(len(g.members.all()) for g in groups) == [1, 2]  # clusterByResolution: one group per size
    series = m.DataRow.objects.get(data_hash=out["dicom"])
    assert list(series.members.order_by("data_sequence").values_list("title", flat=True)) == [
        "d1.dcm",
        "d2.dcm",
        "d3.dcm",
    ]
    assert "not an image" in out["bad_image"]
    assert m.DataRow.objects.filter(dataset=dataset).count() == 5
    # every slot was issued to the key for this dataset, and consumed once
    slots = m.UploadSlot.objects.filter(api_key=rw_key.model)
    assert slots.count() == 9 and not slots.filter(consumed_at__isnull=True).exists()
