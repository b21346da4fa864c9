"""One DICOM slice rendered to an 8-bit PNG for the series viewer: the DICOM linear window (PS3.3
C.11.2.1.2.1) applied after the modality rescale, on a synthetic signed 16-bit CT slice whose
Hounsfield values are known; the file's own window by default; MONOCHROME1 inverted; and a clear
reason for a compressed slice without a decoder, a corrupt one, a header bomb or a non-DICOM file.

`make_ct_slice` is shared with the dashboard and browser tests of the viewer."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from PIL import Image

from datasets_app.media import bounded
from datasets_app.media.dicom import DicomProbeError, render_slice

# Hounsfield units across one row: air, lung, fat edge, soft tissue, brain, bone, dense bone.
HU = [-1000, -600, -160, 0, 40, 240, 400, 1000]
LIMITS = {"max_pixels": 100_000_000, "max_inflated": 256 * 1024**2}


def make_ct_slice(
    path: Path,
    hu_rows: list[list[int]],
    *,
    instance_number: int = 1,
    window: tuple[float, float] | None = (40, 80),
    photometric: str = "MONOCHROME2",
    transfer_syntax: str | None = None,
    claimed_size: tuple[int, int] | None = None,
) -> Path:
    """A signed 16-bit CT slice storing HU + 1024 with RescaleIntercept -1024 (as scanners do).
    `transfer_syntax` names a compressed one (the pixel data is then a fake encapsulated frame);
    `claimed_size` (rows, columns) makes the header lie about the image's size."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.encaps import encapsulate
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    rows, columns = claimed_size or (len(hu_rows), len(hu_rows[0]))
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = transfer_syntax or ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.SeriesInstanceUID, ds.StudyInstanceUID = "1.2.3.4.5", "1.2.3.4"
    ds.Modality, ds.InstanceNumber = "CT", instance_number
    ds.Rows, ds.Columns = rows, columns
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.SamplesPerPixel, ds.PixelRepresentation, ds.PhotometricInterpretation = 1, 1, photometric
    ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    if window:
        ds.WindowCenter, ds.WindowWidth = window
    if transfer_syntax:
        ds.PixelData = encapsulate([b"not a compressed frame" * 4])
        ds["PixelData"].VR = "OB"
    else:
        flat = [v + 1024 for row in hu_rows for v in row]
        ds.PixelData = struct.pack(f"<{len(flat)}h", *flat)
    ds.save_as(str(path), enforce_file_format=not transfer_syntax)
    return path


def _row(png: bytes) -> list[int]:
    with Image.open(io.BytesIO(png)) as img:
        assert img.format == "PNG" and img.mode == "L"
        return [img.getpixel((x, 0)) for x in range(img.width)]


@pytest.fixture
def ct(tmp_path):
    return make_ct_slice(tmp_path / "ct.dcm", [HU, HU], instance_number=7)


def test_soft_tissue_window_maps_hounsfield_units_to_grey_levels(ct):
    # 40/400: up to -160 HU black, above 239 HU white, 40 HU mid-grey (127.8 -> 128), 0 HU 102.3.
    out = render_slice(ct, center=40, width=400, **LIMITS)
    assert _row(out.png) == [0, 0, 0, 102, 128, 255, 255, 255]
    assert (out.center, out.width, out.instance_number) == (40, 400, 7)


def test_bone_and_lung_windows_map_their_own_ranges(ct):
    # Bone 400/1800: black up to -500 HU; -160 HU -> 48.2; 400 HU -> 127.6; 1000 HU -> 212.6.
    assert _row(render_slice(ct, center=400, width=1800, **LIMITS).png) == [0, 0, 48, 71, 77, 105, 128, 213]
    # Lung -600/1500: -1000 HU -> 59.5; -600 HU -> 127.6; white above 148.5 HU.
    assert _row(render_slice(ct, center=-600, width=1500, **LIMITS).png) == [
        60,
        128,
        202,
        230,
        236,
        255,
        255,
        255,
    ]


def test_without_a_window_the_files_own_window_is_used(ct):
    out = render_slice(ct, **LIMITS)
    assert (out.center, out.width) == (40, 80) and (out.default_center, out.default_width) == (40, 80)
    assert _row(out.png) == [0, 0, 0, 0, 129, 255, 255, 255]  # 40 HU in 40/80: 129.1


def test_a_file_without_a_window_spreads_its_own_range(tmp_path):
    path = make_ct_slice(tmp_path / "nw.dcm", [HU], window=None)
    out = render_slice(path, **LIMITS)
    assert (out.default_center, out.default_width) == (0.5, 2001)  # -1000..1000 HU
    row = _row(out.png)
    assert row[0] == 0 and row[-1] == 255 and row == sorted(row)


def test_a_multi_valued_window_uses_the_first_pair(tmp_path):
    path = make_ct_slice(tmp_path / "mv.dcm", [HU], window=([40, 400], [80, 1800]))
    assert (render_slice(path, **LIMITS).center, render_slice(path, **LIMITS).width) == (40, 80)


def test_monochrome1_is_inverted(tmp_path):
    path = make_ct_slice(tmp_path / "m1.dcm", [HU], photometric="MONOCHROME1")
    assert _row(render_slice(path, center=40, width=400, **LIMITS).png) == [255, 255, 255, 153, 127, 0, 0, 0]


def test_a_compressed_slice_without_a_decoder_is_refused_by_name(tmp_path):
    from pydicom.uid import JPEGLosslessSV1

    path = make_ct_slice(tmp_path / "jl.dcm", [HU], transfer_syntax=JPEGLosslessSV1)
    with pytest.raises(DicomProbeError) as caught:
        render_slice(path, **LIMITS)
    assert "JPEG Lossless" in caught.value.reason and "no decoder" in caught.value.reason


def test_a_corrupt_compressed_slice_says_it_could_not_be_decoded(tmp_path):
    from pydicom.uid import JPEGBaseline8Bit

    path = make_ct_slice(tmp_path / "jb.dcm", [HU], transfer_syntax=JPEGBaseline8Bit)
    with pytest.raises(DicomProbeError, match="could not be decoded"):
        render_slice(path, **LIMITS)


def test_a_header_claiming_a_huge_image_is_refused_before_decoding(tmp_path):
    path = make_ct_slice(tmp_path / "bomb.dcm", [HU], claimed_size=(60_000, 60_000))
    with pytest.raises(DicomProbeError, match="MEDIA_MAX_IMAGE_PIXELS"):
        render_slice(path, **LIMITS)


def test_a_file_that_is_not_dicom_or_has_no_pixels_says_so(tmp_path):
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"hello, not a dicom file" * 20)
    with pytest.raises(DicomProbeError, match="not DICOM"):
        render_slice(junk, **LIMITS)
    path = make_ct_slice(tmp_path / "np.dcm", [HU])
    import pydicom

    ds = pydicom.dcmread(path)
    del ds.PixelData
    ds.save_as(path)
    with pytest.raises(DicomProbeError, match="no pixel data"):
        render_slice(path, **LIMITS)


def test_a_window_narrower_than_one_is_refused(ct):
    with pytest.raises(DicomProbeError, match="width"):
        render_slice(ct, center=40, width=0.5, **LIMITS)


def test_rendering_in_the_bounded_child_gives_the_same_image(ct):
    here = render_slice(ct, center=400, width=1800, **LIMITS)
    there = bounded.run(
        render_slice,
        str(ct),
        label="t",
        memory_bytes=512 * 1024**2,
        seconds=30,
        center=400,
        width=1800,
        **LIMITS,
    )
    assert there == here
    with pytest.raises(bounded.Refused, match="no decoder"):
        from pydicom.uid import JPEGLosslessSV1

        bad = make_ct_slice(ct.parent / "jl.dcm", [HU], transfer_syntax=JPEGLosslessSV1)
        bounded.run(render_slice, str(bad), label="t", memory_bytes=512 * 1024**2, seconds=30, **LIMITS)
