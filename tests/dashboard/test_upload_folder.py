"""Uploading into a Files folder from its page: the same uploader, WRITE_FILES, items in the folder
(and rows of the dataset it mirrors), the job's progress polling itself until it ends."""

from __future__ import annotations

import pytest
from django.urls import reverse

from datasets_app import models as m
from datasets_app.sdk import UserClient
from datasets_app.sdk.jobs import run_data_job
from tests.cloud_servers import make_dicom, make_jpeg, make_mp4, make_png
from tests.factories import StorageFolderFactory, UserFactory

from .conftest import HX

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return UserFactory()


@pytest.fixture
def folder(owner):
    return StorageFolderFactory(owner=owner, name="Drops")


def send(c, folder, name, data, piece=50_000):
    started = c.post(
        reverse("dashboard:folder-upload-start", args=[folder.folder_uuid]), {"file_name": name, "size": len(data)}
    )
    assert started.status_code == 201, started.content
    upload_id = started.json()["upload_id"]
    for offset in range(0, len(data), piece):
        url = reverse("dashboard:folder-upload-chunk", args=[folder.folder_uuid, upload_id]) + f"?offset={offset}"
        last = c.generic("PUT", url, data[offset : offset + piece], content_type="application/octet-stream")
    return upload_id, last


def test_folder_page_offers_upload_to_members_and_the_upload_page_is_theirs(as_user, owner, folder):
    page = as_user(owner).get(reverse("dashboard:folder", args=[folder.folder_uuid])).content.decode()
    assert reverse("dashboard:folder-upload", args=[folder.folder_uuid]) in page
    upload_page = as_user(owner).get(reverse("dashboard:folder-upload", args=[folder.folder_uuid]))
    body = upload_page.content.decode()
    assert upload_page.status_code == 200 and 'id="drop-zone"' in body and "js/upload.js" in body
    assert reverse("dashboard:folder-upload-start", args=[folder.folder_uuid]) in body
    stranger = as_user(UserFactory())
    assert stranger.get(reverse("dashboard:folder-upload", args=[folder.folder_uuid])).status_code == 404
    refused = stranger.post(
        reverse("dashboard:folder-upload-start", args=[folder.folder_uuid]), {"file_name": "a.png", "size": 10}
    )
    assert refused.status_code == 404


def test_a_mixed_drop_lands_in_the_folder_through_one_job(as_user, owner, folder):
    c = as_user(owner)
    sent = [
        send(c, folder, "p.png", make_png()),
        send(c, folder, "j.jpg", make_jpeg()),
        send(c, folder, "v.mp4", make_mp4()),
        send(c, folder, "ct-1", make_dicom(1)),
        send(c, folder, "ct-2", make_dicom(2)),
    ]
    assert [last.json()["kind"] for _, last in sent] == ["image", "image", "video", "dicom", "dicom"]
    text_id, refused = send(c, folder, "readme.png", b"hello\n" * 100)
    assert refused.status_code == 400 and "readme.png" in refused.json()["error"]
    finished = c.post(
        reverse("dashboard:folder-upload-finish", args=[folder.folder_uuid]), {"upload_id": [i for i, _ in sent]}
    )
    assert finished.status_code == 201
    job_url = finished.json()["job_url"]
    pending = c.get(job_url, **HX).content.decode()
    assert 'hx-trigger="every 2s"' in pending
    run_data_job(m.DataJob.objects.get(folder=folder).pk)
    done = c.get(job_url, **HX).content.decode()
    assert "hx-trigger" not in done and 'data-status="DONE"' in done and 'data-failed="0"' in done
    assert sorted(m.StorageItem.objects.filter(folder=folder).values_list("name", "item_type")) == [
        ("ct-1", "DICOM"), ("j.jpg", "IMAGE"), ("p.png", "IMAGE"), ("v.mp4", "VIDEO"),
    ]
    assert "Back to the folder" in done and "<html" in c.get(job_url).content.decode()


def test_an_upload_into_a_mirror_folder_adds_rows_to_its_dataset(as_user, owner):
    client = UserClient.for_user(owner)
    dataset = client.create_dataset("mirrored")
    folder = m.StorageFolder.objects.get(folder_uuid=dataset.backing_folder_uuid)
    c = as_user(owner)
    ids = [send(c, folder, "a.png", make_png())[0], send(c, folder, "b.jpg", make_jpeg())[0]]
    finished = c.post(
        reverse("dashboard:folder-upload-finish", args=[folder.folder_uuid]),
        {"upload_id": ids, "images": "image_group", "title": "pair"},
    )
    run_data_job(m.DataJob.objects.get().pk)
    assert "pair" in c.get(finished.json()["job_url"], **HX).content.decode()
    (row,) = m.DataRow.objects.filter(dataset__dataset_hash=dataset.dataset_hash)
    assert (row.title, row.data_type, row.members.count()) == ("pair", "IMG_GROUP", 2)


def test_another_users_folder_job_is_not_found(as_user, owner, folder):
    c = as_user(owner)
    upload_id, _ = send(c, folder, "a.png", make_png())
    job_url = c.post(
        reverse("dashboard:folder-upload-finish", args=[folder.folder_uuid]), {"upload_id": [upload_id]}
    ).json()["job_url"]
    member = UserFactory()
    m.FolderMembership.objects.create(folder=folder, user=member, role=m.DatasetUserRole.ADMIN)
    assert as_user(member).get(job_url).status_code == 404
