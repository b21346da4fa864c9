"""Image and DICOM probes: by content, header-only, bomb guard on; series ordering."""

from __future__ import annotations

import pytest
from PIL import Image

from datasets_app.media import probe
from datasets_app.media.dicom import probe_dicom, series_order
from datasets_app.media.images import ImageProbeError, image_thumbnail, probe_image
from tests.media.mediagen import make_dicom, make_image, make_png_bomb


def test_probe_image_reads_size_and_type_by_content(tmp_path):
    # a PNG named .jpg is still a PNG: the content decides
    path = make_image(tmp_path / "x.jpg", 120, 80, fmt="PNG")
    info = probe_image(path)
    assert (info.width, info.height, info.mime_type) == (120, 80, "image/png")


def test_probe_image_rejects_text_named_jpg(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("this is not an image\n" * 10)
    with pytest.raises(ImageProbeError, match="not an image"):
        probe_image(path)


def test_probe_image_rejects_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageProbeError, match="0 bytes"):
        probe_image(path)


def test_probe_image_refuses_decompression_bomb_and_guard_stays_on(tmp_path):
    path = make_png_bomb(tmp_path / "bomb.png")
    with pytest.raises(ImageProbeError, match="decompression bomb"):
        probe_image(path)
    assert Image.MAX_IMAGE_PIXELS is not None


def test_image_thumbnail_fits_256(tmp_path):
    path = make_image(tmp_path / "big.jpg", 1024, 512)
    thumb = tmp_path / "t.jpg"
    thumb.write_bytes(image_thumbnail(path))
    with Image.open(thumb) as im:
        assert max(im.size) == 256 and im.format == "JPEG"


def test_truncated_jpeg_fails_at_thumbnail(tmp_path):
    path = make_image(tmp_path / "t.jpg", 640, 480)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(probe.MediaError, match="corrupt or truncated"):
        probe.image(path)


def test_dicom_series_ordered_by_instance_number(tmp_path):
    infos = [probe_dicom(make_dicom(tmp_path / f"{n}.dcm", n)) for n in (3, 1, 2)]
    assert [infos[i].instance_number for i in series_order(infos)] == [1, 2, 3]
    assert (infos[0].rows, infos[0].columns) == (16, 16)


def test_non_dicom_dcm_is_refused(tmp_path):
    path = tmp_path / "fake.dcm"
    path.write_bytes(b"hello, not a dicom file" * 20)
    with pytest.raises(probe.MediaError, match="not DICOM"):
        probe.dicom(path)
