"""Every dataset operation of protocol §12 (outside media and re-encode) through the real
`encord==0.1.211` SDK against a live server, checked against the database."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from encord.constants.enums import DataType
from encord.exceptions import InvalidArgumentsError, ResourceNotFoundError
from encord.orm.dataset import DatasetAccessSettings, DatasetUserRole, ImagesDataFetchOptions, StorageLocation

from datasets_app import models as m
from tests.factories import CloudIntegrationFactory, DataRowFactory, DataRowMemberFactory, DatasetFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def utc(*args):
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.fixture
def rows(dataset):
    made = [
        DataRowFactory(dataset=dataset, title="cam1.mp4", client_metadata={"site": "north"}),
        DataRowFactory(dataset=dataset, title="cam2.mp4"),
        DataRowFactory(
            dataset=dataset,
            title="frames",
            data_type=m.DataType.IMG_GROUP,
            mime_type="",
            fps=None,
            duration=None,
            is_optimised_image_group=False,
        ),
    ]
    for i in range(3):
        DataRowMemberFactory(
            data_row=made[2],
            data_sequence=2 - i,
            title=f"{2 - i:04d}.jpg",
            storage_key=f"k/{2 - i}.jpg",
            mime_type="image/jpeg",
            file_size=100 + i,
            width=64,
            height=48,
        )
    # Creation times a day apart, so date filters have something to cut.
    for i, row in enumerate(made):
        m.DataRow.objects.filter(pk=row.pk).update(created_at=utc(2024, 1, 1 + i, 12))
    return made


def test_create_dataset_makes_caller_admin(sdk_client, ds_admin):
    created = sdk_client(ds_admin).create_dataset("Traffic", StorageLocation.CORD_STORAGE, "Cars at night")
    ds = m.Dataset.objects.get(dataset_hash=created["dataset_hash"])
    assert (ds.title, ds.description) == ("Traffic", "Cars at night")
    assert str(ds.backing_folder_uuid) == str(created["backing_folder_uuid"])
    assert ds.memberships.get().user == ds_admin and ds.memberships.get().role == m.DatasetUserRole.ADMIN


def test_get_datasets_every_filter(sdk_client, ds_admin, org_admin, dataset):
    client = sdk_client(ds_admin)
    a = client.create_dataset("alpha cars", StorageLocation.CORD_STORAGE, "night")["dataset_hash"]
    b = client.create_dataset("beta bikes", StorageLocation.CORD_STORAGE, "day")["dataset_hash"]
    m.Dataset.objects.filter(dataset_hash=a).update(
        created_at=utc(2024, 1, 1), last_edited_at=utc(2024, 6, 1)
    )
    m.Dataset.objects.filter(dataset_hash=b).update(
        created_at=utc(2025, 1, 1), last_edited_at=utc(2025, 6, 1)
    )

    def hashes(**kw):
        return sorted(str(e["dataset"].dataset_hash) for e in client.get_datasets(**kw))

    assert hashes(title_eq="alpha cars") == [a]
    assert hashes(title_like="%BIKES%") == [b]
    assert hashes(desc_eq="day") == [b]
    assert hashes(desc_like="ni%") == [a]
    assert hashes(created_before=utc(2024, 6, 1, 0, 0, 0, 500000)) == [a]
    assert hashes(created_after="2024-06-01T10:00:00.5Z") == sorted([b, str(dataset.dataset_hash)])
    assert a not in hashes(created_after=dt.datetime(2024, 6, 1))  # naive: read as UTC
    assert hashes(edited_before=utc(2024, 12, 1)) == [a]
    assert b in hashes(edited_after=utc(2025, 1, 1)) and a not in hashes(edited_after=utc(2025, 1, 1))
    [entry] = [e for e in client.get_datasets(title_eq="alpha cars")]
    assert entry["user_role"] == DatasetUserRole.ADMIN
    assert entry["dataset"].description == "night"
    # An organisation admin sees every dataset only when asking for org access, with no role.
    org = sdk_client(org_admin)
    assert a not in [str(e["dataset"].dataset_hash) for e in org.get_datasets()]
    [org_entry] = org.get_datasets(title_eq="alpha cars", include_org_access=True)
    assert org_entry["user_role"] is None


def test_get_cloud_integrations_filters(sdk_client, ds_admin, org_admin):
    mine = [
        CloudIntegrationFactory(title=t, provider=m.IntegrationProvider.S3, owner=ds_admin)
        for t in ("minio-main", "minio b")
    ]
    CloudIntegrationFactory(title="other", provider=m.IntegrationProvider.S3, owner=org_admin)
    client = sdk_client(ds_admin)
    assert sorted(i.title for i in client.get_cloud_integrations()) == ["minio b", "minio-main"]
    assert [i.title for i in client.get_cloud_integrations(filter_integration_titles=["minio b"])] == [
        "minio b"
    ]
    found = client.get_cloud_integrations(filter_integration_uuids=[str(mine[0].integration_uuid).upper()])
    assert [(i.id, i.title) for i in found] == [(str(mine[0].integration_uuid), "minio-main")]
    assert len(sdk_client(org_admin).get_cloud_integrations(include_org_access=True)) == 3


def test_get_dataset_with_rows_and_metadata(sdk_client, ds_admin, dataset, rows):
    client = sdk_client(ds_admin)
    ds = client.get_dataset(str(dataset.dataset_hash).upper())
    assert (ds.dataset_hash, ds.title, ds.description) == (
        str(dataset.dataset_hash),
        dataset.title,
        dataset.description,
    )
    assert ds.storage_location == StorageLocation.CORD_STORAGE
    assert str(ds.backing_folder_uuid) == str(dataset.backing_folder_uuid)
    assert [r.title for r in ds.data_rows] == ["cam1.mp4", "cam2.mp4", "frames"]
    first = ds.data_rows[0]
    assert first.uid == str(rows[0].data_hash) and first.backing_item_uuid == rows[0].backing_item_uuid
    assert (first.width, first.height, first.file_size, first.file_type) == (640, 480, 1234, "video/mp4")
    assert first.created_at == utc(2024, 1, 1, 12)
    assert first.client_metadata is None  # not asked for
    with_meta = client.get_dataset(
        str(dataset.dataset_hash), DatasetAccessSettings(fetch_client_metadata=True)
    )
    assert dict(with_meta.data_rows[0].client_metadata) == {"site": "north"}
    without = client.get_dataset(str(dataset.dataset_hash), include_data_rows=False)
    assert without.title == dataset.title


def test_list_data_rows_filters(sdk_client, ds_user, dataset, rows):
    ds = sdk_client(ds_user).get_dataset(str(dataset.dataset_hash))

    def titles(**kw):
        return [r.title for r in ds.list_data_rows(**kw)]

    assert titles(title_like="cam%") == ["cam1.mp4", "cam2.mp4"]
    assert titles(title_eq="frames") == ["frames"]
    assert titles(data_types=[DataType.IMG_GROUP]) == ["frames"]
    assert titles(created_after=utc(2024, 1, 1, 13), created_before="2024-01-03T00:00:00Z") == ["cam2.mp4"]
    assert titles(data_hashes=[str(rows[1].data_hash)]) == ["cam2.mp4"]
    assert titles(title_like="nothing%") == []


def test_refetch_data_fills_images_and_metadata(sdk_client, ds_user, dataset, rows):
    ds = sdk_client(ds_user).get_dataset(str(dataset.dataset_hash))
    group = next(r for r in ds.data_rows if r.title == "frames")
    group.refetch_data(
        images_data_fetch_options=ImagesDataFetchOptions(fetch_signed_urls=False), client_metadata=True
    )
    assert [i.title for i in group.images_data] == ["0000.jpg", "0001.jpg", "0002.jpg"]
    assert group.images_data[0].file_link == "k/0.jpg" and group.images_data[0].width == 64
    cam = ds.data_rows[0]
    cam.refetch_data(client_metadata=True)
    assert dict(cam.client_metadata) == {"site": "north"}


def test_data_row_save_updates_title_and_metadata(sdk_client, ds_user, dataset, rows):
    ds = sdk_client(ds_user).get_dataset(str(dataset.dataset_hash))
    row = ds.data_rows[1]
    row.title = "renamed.mp4"
    row.client_metadata = {"k": "v"}
    row.save()
    stored = m.DataRow.objects.get(pk=rows[1].pk)
    assert (stored.title, stored.client_metadata) == ("renamed.mp4", {"k": "v"})


def test_update_data_item_renames(sdk_client, ds_user, dataset, rows):
    ds = sdk_client(ds_user).get_dataset(str(dataset.dataset_hash))
    assert ds.update_data_item(str(rows[0].data_hash), "new title") is True
    assert m.DataRow.objects.get(pk=rows[0].pk).title == "new title"
    assert ds.update_data_item(str(uuid.uuid4()), "x") is False


def test_delete_data_removes_rows_and_is_idempotent(sdk_client, ds_admin, dataset, rows):
    other = DataRowFactory(dataset=DatasetFactory())
    ds = sdk_client(ds_admin).get_dataset(str(dataset.dataset_hash))
    ds.delete_data([str(rows[0].data_hash), str(other.data_hash)])
    ds.delete_data(str(rows[0].data_hash))
    assert list(m.DataRow.objects.filter(dataset=dataset).values_list("item__name", flat=True)) == [
        "cam2.mp4",
        "frames",
    ]
    assert m.DataRow.objects.filter(pk=other.pk).exists()


def test_add_list_remove_users(sdk_client, ds_admin, ds_user, dataset):
    newcomer, admin2 = UserFactory(), UserFactory()
    ds = sdk_client(ds_admin).get_dataset(str(dataset.dataset_hash))
    added = ds.add_users([newcomer.email, ds_user.email], DatasetUserRole.ADMIN)
    assert [(u.user_email, u.user_role) for u in added] == [
        (newcomer.email, DatasetUserRole.ADMIN),
        (ds_user.email, DatasetUserRole.USER),  # an existing member keeps their role
    ]
    listed = {u.user_email: u.user_role for u in ds.list_users()}
    assert listed == {
        ds_admin.email: DatasetUserRole.ADMIN,
        ds_user.email: DatasetUserRole.USER,
        newcomer.email: DatasetUserRole.ADMIN,
    }
    # ds_admin is no organisation admin: an unknown address is answered like a known one (issue 11).
    quiet = ds.add_users(["nobody@example.com"], DatasetUserRole.USER)
    assert [(u.user_email, u.user_role) for u in quiet] == [("nobody@example.com", DatasetUserRole.USER)]
    assert dataset.memberships.count() == 3
    org_ds = sdk_client(UserFactory(is_org_admin=True)).get_dataset(str(dataset.dataset_hash))
    with pytest.raises(ResourceNotFoundError, match="nobody@example.com"):
        org_ds.add_users(["nobody@example.com", admin2.email], DatasetUserRole.USER)
    assert not dataset.memberships.filter(user=admin2).exists()
    ds.remove_users([newcomer.email, "stranger@example.com"])
    ds.remove_users([newcomer.email])  # retries are harmless
    assert set(dataset.memberships.values_list("user__email", flat=True)) == {ds_admin.email, ds_user.email}
    with pytest.raises(InvalidArgumentsError, match="at least one ADMIN"):
        ds.remove_users([ds_admin.email])


def test_bearer_token_client_works_on_v1_and_v2(sdk_client, ds_admin, dataset, rows, live_server):
    from encord.user_client import EncordUserClient

    token = sdk_client(ds_admin).get_bearer_token()
    assert not m.BearerToken.objects.filter(token_digest=token).exists()
    client = EncordUserClient.create_with_bearer_token(token, domain=live_server.url)
    assert [e["dataset"].title for e in client.get_datasets()] == [dataset.title]
    assert len(client.get_dataset(str(dataset.dataset_hash)).data_rows) == 3


def test_refetch_signed_url_is_absolute_and_downloads(sdk_client, ds_user, dataset, settings):
    import requests
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    settings.PUBLIC_BASE_URL = ""  # the URL must come from the request, not configuration
    row = DataRowFactory(dataset=dataset, title="clip.mp4", storage_key=f"datasets/{dataset.dataset_hash}/clip.mp4")
    default_storage.save(row.storage_key, ContentFile(b"0123456789"))
    ds = sdk_client(ds_user).get_dataset(str(dataset.dataset_hash))
    [sdk_row] = ds.data_rows
    sdk_row.refetch_data(signed_url=True)
    assert sdk_row.signed_url.startswith("http://")
    got = requests.get(sdk_row.signed_url, headers={"Range": "bytes=2-5"}, timeout=10)
    assert got.status_code == 206 and got.content == b"2345"
