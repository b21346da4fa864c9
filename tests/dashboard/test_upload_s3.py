"""Chunked browser uploads when hosted storage is S3 (moto's server on loopback: the shared
`s3_hosted` of tests/cloud_servers.py): the staged file streams into the bucket once complete
(no local rename), hashed on the way."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image
from django.urls import reverse

from datasets_app import models as m

from .test_upload import put, start

pytestmark = pytest.mark.django_db


def test_chunked_upload_lands_in_the_bucket(as_user, dataset, ds_user, s3_hosted):
    server, bucket = s3_hosted
    c = as_user(ds_user)
    # a noisy PNG of ~300 kB: several chunks, and media the server recognises (random bytes are refused)
    buf = io.BytesIO()
    Image.effect_noise((400, 400), 90).convert("RGB").save(buf, "PNG")
    data = buf.getvalue()
    assert len(data) > 256_000
    upload_id = start(c, dataset, "blob.mp4", len(data)).json()["upload_id"]
    for offset in range(0, len(data), 128_000):
        assert put(c, dataset, upload_id, offset, data[offset : offset + 128_000]).status_code == 200
    assert c.get(reverse("dashboard:upload-chunk", args=[dataset.dataset_hash, upload_id])).json()["complete"]
    slot = m.UploadSlot.objects.get(item_uuid=upload_id)
    assert slot.sha256 == hashlib.sha256(data).hexdigest()
    assert server.client().get_object(Bucket=bucket, Key=slot.object_key)["Body"].read() == data
