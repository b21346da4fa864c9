"""Browser uploads: each file's kind is read from its bytes on the server, never from its name.

Driven through the SDK layer the upload page calls (sdk/chunked_uploads.py): a session, its
chunks, then one job for the lot; the job runs in-process (run_data_job)."""

from __future__ import annotations

import pytest

from datasets_app import models as m
from datasets_app.sdk import UserClient
from datasets_app.sdk import chunked_uploads as cu
from datasets_app.sdk.exceptions import InvalidArgumentError
from datasets_app.sdk.jobs import run_data_job
from tests.cloud_servers import make_dicom, make_jpeg, make_mp4, make_png
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def target():
    client = UserClient.for_user(UserFactory())
    return client.get_dataset(client.create_dataset("mixed").dataset_hash)


def send(target, name: str, data: bytes, piece: int = 64 * 1024) -> cu.ChunkedUpload:
    upload = cu.start_upload(target, file_name=name, size=len(data))
    for offset in range(0, len(data), piece):
        part = data[offset : offset + piece]
        upload = cu.append_chunk(target, upload.upload_id, offset=offset, chunks=[part], length=len(part))
    return upload


def rows(target) -> list[tuple[str, str, int]]:
    """(title, data type, member count) of the dataset's rows, by title."""
    out = [
        (r.title, r.data_type, r.members.count())
        for r in m.DataRow.objects.filter(dataset__dataset_hash=target.dataset_hash).select_related("item")
    ]
    return sorted(out)


def finish(target, uploads, **kwargs) -> m.DataJob:
    cu.start_job(target, [u.upload_id for u in uploads], **kwargs)
    job = m.DataJob.objects.order_by("-pk").first()
    run_data_job(job.pk)
    job.refresh_from_db()
    return job


def test_a_png_named_mp4_is_an_image_and_an_mp4_named_png_is_a_video(target):
    png = send(target, "holiday.mp4", make_png())
    mp4 = send(target, "clip.png", make_mp4())
    assert (png.kind, mp4.kind) == ("image", "video")
    job = finish(target, [png, mp4])
    assert job.status == m.JobStatus.DONE and job.units_total == 2
    assert rows(target) == [("clip.png", "VIDEO", 0), ("holiday.mp4", "IMAGE", 0)]


def test_a_dicom_file_without_an_extension_is_dicom(target):
    upload = send(target, "IM0001", make_dicom(1))
    assert upload.kind == "dicom"
    finish(target, [upload])
    assert rows(target) == [("IM0001", "DICOM", 1)]


def test_a_text_file_is_refused_with_its_name(target):
    with pytest.raises(InvalidArgumentError) as caught:
        send(target, "notes.mp4", b"Shopping list:\n- eggs\n- milk\n" * 50)
    message = str(caught.value)
    assert "notes.mp4" in message and "not an image, a video or a DICOM file" in message
    # the refused bytes are not kept: the session is gone
    assert not m.UploadSlot.objects.filter(file_name="notes.mp4").exists()


def test_two_dicom_series_in_one_drop_become_two_items(target):
    a = [send(target, f"a{i}", make_dicom(i, series_uid="1.2.826.0.1.1")) for i in (1, 2)]
    b = [send(target, f"b{i}", make_dicom(i, series_uid="1.2.826.0.1.2")) for i in (1, 2, 3)]
    job = finish(target, [a[0], b[0], a[1], b[1], b[2]])
    assert job.units_total == 2
    assert rows(target) == [("a1", "DICOM", 2), ("b1", "DICOM", 3)]


def test_a_mixed_drop_is_one_job_each_file_as_what_it_is(target):
    uploads = [
        send(target, "photo.png", make_png()),
        send(target, "photo2.jpg", make_jpeg()),
        send(target, "movie.mp4", make_mp4()),
        send(target, "ct1.dcm", make_dicom(1)),
        send(target, "ct2.dcm", make_dicom(2)),
    ]
    job = finish(target, uploads)
    assert m.DataJob.objects.count() == 1 and job.units_total == 4
    assert rows(target) == [
        ("ct1.dcm", "DICOM", 2),
        ("movie.mp4", "VIDEO", 0),
        ("photo.png", "IMAGE", 0),
        ("photo2.jpg", "IMAGE", 0),
    ]


@pytest.mark.parametrize("images,create_video", [(cu.IMAGES_GROUP, False), (cu.IMAGES_SEQUENCE, True)])
def test_images_become_one_group_when_asked_and_the_rest_stay_what_they_are(target, images, create_video):
    uploads = [
        send(target, "b.png", make_png()),
        send(target, "movie.mp4", make_mp4()),
        send(target, "a.jpg", make_jpeg(32, 16)),
    ]
    finish(target, uploads, images=images, title="burst")
    assert rows(target) == [("burst", "IMG_GROUP", 2), ("movie.mp4", "VIDEO", 0)]
    (group,) = [r for r in m.DataRow.objects.filter(dataset__dataset_hash=target.dataset_hash) if r.data_type == "IMG_GROUP"]
    assert list(group.members.order_by("data_sequence").values_list("title", flat=True)) == ["b.png", "a.jpg"]
    assert (group.item.sequence_video_status == "PENDING") is create_video


def test_an_unknown_image_grouping_is_refused(target):
    upload = send(target, "a.png", make_png())
    with pytest.raises(InvalidArgumentError, match="images"):
        cu.start_job(target, [upload.upload_id], images="collage")


def test_a_mixed_drop_into_a_folder_lands_in_it_and_in_its_mirror_dataset():
    from datasets_app.sdk import storage_folders

    user = UserFactory()
    client = UserClient.for_user(user)
    plain = storage_folders.create_storage_folder(client.principal, "drops")
    mirror_ds = client.create_dataset("mirrored")
    for folder_uuid in (plain.uuid, mirror_ds.backing_folder_uuid):
        target = cu.folder_target(client.principal, folder_uuid)
        uploads = [
            send(target, "p.png", make_png()),
            send(target, "j.jpg", make_jpeg()),
            send(target, "v.mp4", make_mp4()),
            send(target, "s1", make_dicom(1)),
            send(target, "s2", make_dicom(2)),
        ]
        job = finish(target, uploads, images=cu.IMAGES_GROUP, title="pair")
        assert job.status == m.JobStatus.DONE and job.dataset_id is None and job.units_total == 3
        items = m.StorageItem.objects.filter(folder__folder_uuid=folder_uuid)
        assert sorted(items.values_list("name", "item_type")) == [
            ("pair", "IMG_GROUP"), ("s1", "DICOM"), ("v.mp4", "VIDEO"),
        ]
    mirrored = m.DataRow.objects.filter(dataset__dataset_hash=mirror_ds.dataset_hash)
    assert sorted(r.title for r in mirrored) == ["pair", "s1", "v.mp4"]


def test_a_folder_upload_needs_write_files_on_it():
    from datasets_app.sdk import storage_folders
    from datasets_app.sdk.exceptions import DatasetsError

    owner = UserClient.for_user(UserFactory())
    folder = storage_folders.create_storage_folder(owner.principal, "mine")
    stranger = UserClient.for_user(UserFactory())
    with pytest.raises(DatasetsError):
        cu.folder_target(stranger.principal, folder.uuid)
