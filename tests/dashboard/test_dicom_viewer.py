"""The DICOM series viewer: the item page lists the slices in series order with the window
presets, and GET .../dicom/<image_hash>.png renders one slice through the SDK (READ) in the bounded
child, hosted or private-cloud; a slice that cannot be shown answers a sentence, never a broken image."""

from __future__ import annotations

import html
import io
import re
import uuid

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from PIL import Image

from datasets_app import models as m
from tests.factories import DataRowFactory, DataRowMemberFactory, DatasetFactory, DatasetMembershipFactory
from tests.media.test_dicom_render import HU, make_ct_slice

pytestmark = pytest.mark.django_db


def _series(dataset, tmp_path, count=5, **slice_kwargs):
    """A hosted DICOM series: slice k (data_sequence k) has InstanceNumber k + 1 and HU + 100 k."""
    row = DataRowFactory(
        dataset=dataset, data_type=m.DataType.DICOM, title="ct-head", storage_key="", mime_type=""
    )
    for k in range(count):
        path = make_ct_slice(
            tmp_path / f"{k}.dcm", [[v + 100 * k for v in HU]] * 2, instance_number=k + 1, **slice_kwargs
        )
        member = DataRowMemberFactory(
            data_row=row, data_sequence=k, title=f"slice-{k + 1}.dcm", mime_type="application/dicom"
        )
        default_storage.save(member.storage_key, ContentFile(path.read_bytes()))
    return row


def _slice_url(dataset, row, member, **query) -> str:
    url = reverse("dashboard:dicom-slice", args=[dataset.dataset_hash, row.data_hash, member.image_hash])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def _grey_row(response) -> list[int]:
    with Image.open(io.BytesIO(response.content)) as img:
        assert img.format == "PNG" and img.mode == "L"
        return [img.getpixel((x, 0)) for x in range(img.width)]


def test_dicom_page_lists_the_slices_in_series_order_with_the_presets(as_user, dataset, ds_user, tmp_path):
    row = _series(dataset, tmp_path)
    body = (
        as_user(ds_user)
        .get(reverse("dashboard:data-row", args=[dataset.dataset_hash, row.data_hash]))
        .content.decode()
    )
    slices = re.findall(r'<li data-src="([^"]*)" data-title="([^"]*)"></li>', body)
    members = list(row.members.order_by("data_sequence"))
    assert [src for src, _title in slices] == [_slice_url(dataset, row, mb) for mb in members]
    assert [title for _src, title in slices] == [f"slice-{k}.dcm" for k in range(1, 6)]
    viewer = body[body.index('id="dicom-viewer"') :]
    presets = re.findall(r'data-preset="([^"]*)" data-center="([^"]*)" data-width="([^"]*)"', viewer)
    assert presets == [
        ("Default", "", ""),
        ("Soft tissue", "40", "400"),
        ("Lung", "-600", "1500"),
        ("Bone", "400", "1800"),
        ("Brain", "40", "80"),
    ]
    assert re.search(r'<input[^>]*id="dicom-slider"[^>]*max="5"', viewer)
    assert "Slice <strong data-slice-k>1</strong> / 5" in html.unescape(viewer)
    assert "js/dicom_viewer.js" in body


def test_member_gets_a_slice_through_the_window_asked_for(as_user, dataset, ds_user, tmp_path):
    row = _series(dataset, tmp_path)
    third = row.members.get(data_sequence=2)
    client = as_user(ds_user)
    soft = client.get(_slice_url(dataset, row, third, center=40, width=400))
    assert soft.status_code == 200 and soft["Content-Type"] == "image/png"
    assert "private" in soft["Cache-Control"] and "max-age=" in soft["Cache-Control"]
    assert (soft["X-Dicom-Instance-Number"], soft["X-Window-Center"], soft["X-Window-Width"]) == (
        "3",
        "40",
        "400",
    )
    # slice 3 holds HU + 200: 40 HU (mid-grey in 40/400) where slice 1 has -160 HU
    assert _grey_row(soft) == [0, 0, 128, 230, 255, 255, 255, 255]
    bone = client.get(_slice_url(dataset, row, third, center=400, width=1800))
    assert _grey_row(bone) == [0, 14, 77, 99, 105, 133, 156, 241]


def test_without_a_window_the_slice_uses_its_files_window(as_user, dataset, ds_user, tmp_path):
    row = _series(dataset, tmp_path, count=1)
    response = as_user(ds_user).get(_slice_url(dataset, row, row.members.get()))
    assert response.status_code == 200
    assert (response["X-Window-Center"], response["X-Window-Width"]) == ("40", "80")
    assert (response["X-Default-Window-Center"], response["X-Default-Window-Width"]) == ("40", "80")


def test_stranger_and_other_datasets_members_get_404(as_user, dataset, stranger, tmp_path):
    row = _series(dataset, tmp_path, count=1)
    url = _slice_url(dataset, row, row.members.get())
    assert as_user(stranger).get(url).status_code == 404
    other = DatasetFactory()
    outsider = DatasetMembershipFactory(dataset=other, role=m.DatasetUserRole.ADMIN).user
    assert as_user(outsider).get(url).status_code == 404
    # the row asked for through a dataset the user may read, but it is not that dataset's
    foreign = reverse(
        "dashboard:dicom-slice", args=[other.dataset_hash, row.data_hash, row.members.get().image_hash]
    )
    assert as_user(outsider).get(foreign).status_code == 404


def test_signed_out_is_sent_to_sign_in(client, dataset, tmp_path):
    row = _series(dataset, tmp_path, count=1)
    response = client.get(_slice_url(dataset, row, row.members.get()))
    assert response.status_code == 302 and "/login" in response["Location"]


def test_another_rows_slice_or_an_unknown_one_is_404(as_user, dataset, ds_user, tmp_path):
    row = _series(dataset, tmp_path, count=1)
    other = _series(dataset, tmp_path, count=1)
    client = as_user(ds_user)
    theirs = reverse(
        "dashboard:dicom-slice", args=[dataset.dataset_hash, row.data_hash, other.members.get().image_hash]
    )
    assert client.get(theirs).status_code == 404
    unknown = reverse("dashboard:dicom-slice", args=[dataset.dataset_hash, row.data_hash, uuid.uuid4()])
    assert client.get(unknown).status_code == 404


def test_a_video_row_has_no_slices(as_user, dataset, ds_user):
    video = DataRowFactory(dataset=dataset)
    url = reverse("dashboard:dicom-slice", args=[dataset.dataset_hash, video.data_hash, uuid.uuid4()])
    assert as_user(ds_user).get(url).status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        {"center": "abc", "width": "400"},
        {"center": "40", "width": "0"},
        {"center": "40"},
        {"center": "nan", "width": "400"},
    ],
)
def test_a_bad_window_is_a_400(as_user, dataset, ds_user, tmp_path, query):
    row = _series(dataset, tmp_path, count=1)
    assert as_user(ds_user).get(_slice_url(dataset, row, row.members.get(), **query)).status_code == 400


def test_a_compressed_slice_without_a_decoder_answers_why(as_user, dataset, ds_user, tmp_path):
    from pydicom.uid import JPEGLosslessSV1

    row = _series(dataset, tmp_path, count=1, transfer_syntax=JPEGLosslessSV1)
    response = as_user(ds_user).get(_slice_url(dataset, row, row.members.get()))
    assert response.status_code == 422 and response["Content-Type"].startswith("text/plain")
    assert "no-store" in response["Cache-Control"]
    text = response.content.decode()
    assert "JPEG Lossless" in text and "no decoder" in text and "slice-1.dcm" in text


def test_a_missing_slice_file_answers_why(as_user, dataset, ds_user, tmp_path):
    row = _series(dataset, tmp_path, count=1)
    default_storage.delete(row.members.get().storage_key)
    response = as_user(ds_user).get(_slice_url(dataset, row, row.members.get()))
    assert response.status_code == 422 and "could not be read" in response.content.decode()


def test_a_hostile_slice_is_refused_with_the_limit(as_user, dataset, ds_user, tmp_path):
    row = _series(dataset, tmp_path, count=1, claimed_size=(60_000, 60_000))
    response = as_user(ds_user).get(_slice_url(dataset, row, row.members.get()))
    assert response.status_code == 422 and "MEDIA_MAX_IMAGE_PIXELS" in response.content.decode()


def test_a_private_cloud_slice_is_read_through_its_integration(
    as_user, dataset, ds_user, ds_admin, moto_s3, tmp_path
):
    bucket = f"dicom-{uuid.uuid4().hex[:8]}"
    moto_s3.client().create_bucket(Bucket=bucket)
    path = make_ct_slice(tmp_path / "p.dcm", [HU], instance_number=9)
    moto_s3.client().put_object(Bucket=bucket, Key="ct/9.dcm", Body=path.read_bytes())
    integration = moto_s3.integration(ds_admin)
    row = DataRowFactory(
        dataset=dataset, data_type=m.DataType.DICOM, storage_key="", url="", integration=integration
    )
    member = DataRowMemberFactory(
        data_row=row, data_sequence=0, title="9.dcm", storage_key="", url=f"s3://{bucket}/ct/9.dcm"
    )
    response = as_user(ds_user).get(_slice_url(dataset, row, member, center=40, width=400))
    assert response.status_code == 200 and response["X-Dicom-Instance-Number"] == "9"
    assert _grey_row(response) == [0, 0, 0, 102, 128, 255, 255, 255]
    gone = DataRowMemberFactory(
        data_row=row, data_sequence=1, title="gone.dcm", storage_key="", url=f"s3://{bucket}/ct/gone.dcm"
    )
    response = as_user(ds_user).get(_slice_url(dataset, row, gone))
    assert response.status_code == 422 and "gone.dcm" in response.content.decode()
