"""The typed unit spec: one vocabulary written, both older ones (uploads', private imports') read,
so units stored before the pipelines were joined still run after an upgrade."""

from __future__ import annotations

from datasets_app.sdk.units import KIND_DICOM, KIND_IMAGE_GROUP, KIND_VIDEO, UnitFile, UnitSpec, dicom_order


def test_a_spec_reads_back_what_it_writes():
    spec = UnitSpec(
        kind=KIND_IMAGE_GROUP,
        files=[UnitFile("uploads/a", "a.jpg", "aa", 3), UnitFile("uploads/b", "b.jpg", "bb", 4)],
        title="pair",
        client_metadata={"k": 1},
        create_video=True,
    )
    assert UnitSpec.from_json(spec.to_json()) == spec


def test_an_old_upload_spec_of_one_file_is_read():
    old = {"type": "video", "key": "uploads/v", "title": "v.mp4", "client_metadata": {"a": 1}, "sha256": "ff", "size": 9}
    spec = UnitSpec.from_json(old)
    assert spec.kind == KIND_VIDEO and spec.title == "v.mp4" and spec.client_metadata == {"a": 1}
    assert spec.files == [UnitFile("uploads/v", "v.mp4", "ff", 9)]


def test_an_old_upload_group_spec_is_read():
    old = {
        "type": "image_group",
        "title": "",
        "create_video": True,
        "files": [{"key": "uploads/1", "title": "1.jpg", "sha256": "s1", "size": 1}, {"key": "uploads/2", "title": "2.jpg"}],
        "client_metadata": {},
    }
    spec = UnitSpec.from_json(old)
    assert spec.kind == KIND_IMAGE_GROUP and spec.create_video
    assert spec.sources == ["uploads/1", "uploads/2"]
    assert spec.files[1] == UnitFile("uploads/2", "2.jpg", "", None)


def test_an_old_private_import_spec_is_read():
    old = {
        "type": "DICOM",
        "urls": ["s3://b/ct/1.dcm", "s3://b/ct/2.dcm"],
        "title": "ct",
        "client_metadata": {"x": "y"},
        "metadata": None,
        "create_video": False,
    }
    spec = UnitSpec.from_json(old)
    assert spec.kind == KIND_DICOM and spec.title == "ct" and spec.metadata is None
    assert spec.sources == ["s3://b/ct/1.dcm", "s3://b/ct/2.dcm"]
    assert spec.to_json()["type"] == KIND_DICOM


def test_a_series_is_ordered_by_instance_number_with_unnumbered_files_last_in_given_order():
    class File:
        def __init__(self, name, instance_number):
            self.name, self.instance_number = name, instance_number

    files = [File("a", None), File("b", 3), File("c", 1), File("d", None), File("e", 2)]
    assert [f.name for f in dicom_order(files)] == ["c", "e", "b", "a", "d"]
