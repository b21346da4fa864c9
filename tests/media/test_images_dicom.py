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


def _dicom(tmp_path, name, pixels, *, photometric="MONOCHROME2", window=None, compressed=False):
    """A 16-bit grayscale DICOM file with these pixel values (a list of rows)."""
    import struct

    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit, generate_uid

    rows, columns = len(pixels), len(pixels[0])
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = JPEGBaseline8Bit if compressed else ExplicitVRLittleEndian
    path = tmp_path / name
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.Rows, ds.Columns = "CT", rows, columns
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.SamplesPerPixel, ds.PixelRepresentation, ds.PhotometricInterpretation = 1, 0, photometric
    if window:
        ds.WindowCenter, ds.WindowWidth = window
    flat = [v for row in pixels for v in row]
    if compressed:  # a frame that claims to be JPEG but is not: no decoder can read it
        from pydicom.encaps import encapsulate

        ds.PixelData = encapsulate([b"not a jpeg stream" * 4])
        ds["PixelData"].VR = "OB"
    else:
        ds.PixelData = struct.pack(f"<{len(flat)}H", *flat)
    ds.save_as(str(path), enforce_file_format=not compressed)
    return path


def _grey(jpeg: bytes) -> list[int]:
    import io

    with Image.open(io.BytesIO(jpeg)) as img:
        assert img.format == "JPEG" and img.mode == "L"
        return [img.getpixel((x, 0)) for x in range(img.width)]


def test_dicom_thumbnail_spreads_the_slice_over_black_to_white(tmp_path):
    from datasets_app.media.dicom import thumbnail

    ramp = [[0, 1000, 2000, 3000] * 8] * 32  # dark to bright, left to right
    left, *_, right = _grey(thumbnail(_dicom(tmp_path, "a.dcm", ramp)))
    assert left < 40 and right > 150
    # MONOCHROME1 means high values are dark: inverted
    left1, *_, right1 = _grey(thumbnail(_dicom(tmp_path, "b.dcm", ramp, photometric="MONOCHROME1")))
    assert left1 > 200 and right1 < 100


def test_dicom_thumbnail_uses_the_files_window(tmp_path):
    from datasets_app.media.dicom import thumbnail

    # window 0..1000: everything from 1000 up is white
    values = [[0, 500, 1000, 3000] * 8] * 32
    pixels = _grey(thumbnail(_dicom(tmp_path, "w.dcm", values, window=(500, 1000))))
    assert pixels[-1] > 240 and pixels[-2] > 240


def test_dicom_thumbnail_is_none_when_the_pixels_cannot_be_decoded(tmp_path):
    from datasets_app.media.dicom import thumbnail

    assert thumbnail(_dicom(tmp_path, "c.dcm", [[1, 2], [3, 4]], compressed=True)) is None
    assert thumbnail(tmp_path / "missing.dcm") is None
