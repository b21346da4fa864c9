"""Dataset: data rows, their filters and updates, deletion with hosted files, members."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from datasets_app import models as m
from datasets_app.sdk import UserClient
from datasets_app.sdk.exceptions import (
    AuthorisationError,
    InvalidArgumentError,
    OperationNotAllowed,
    ResourceNotFoundError,
)
from datasets_app.sdk.orm import DatasetUserRole, DataType
from tests.factories import CloudIntegrationFactory, DataRowFactory, DataRowMemberFactory, DatasetFactory, UserFactory

pytestmark = pytest.mark.django_db
UTC = dt.timezone.utc


@pytest.fixture
def admin_ds(dataset, ds_admin):
    return UserClient.for_user(ds_admin).get_dataset(str(dataset.dataset_hash))


def test_list_data_rows_filters_combine(admin_ds, dataset):
    t0 = dt.datetime(2024, 5, 1, tzinfo=UTC)
    rows = [
        DataRowFactory(dataset=dataset, title="cam1.mp4"),
        DataRowFactory(dataset=dataset, title="cam2.mp4"),
        DataRowFactory(dataset=dataset, title="frames", data_type=m.DataType.IMG_GROUP),
        DataRowFactory(dataset=dataset, title="scan", data_type=m.DataType.DICOM),
    ]
    for i, row in enumerate(rows):
        m.DataRow.objects.filter(pk=row.pk).update(created_at=t0 + dt.timedelta(days=i))
    DataRowFactory(title="cam3.mp4")  # another dataset
    titles = lambda result: [r.title for r in result]  # noqa: E731
    assert titles(admin_ds.data_rows) == ["cam1.mp4", "cam2.mp4", "frames", "scan"]
    assert titles(admin_ds.list_data_rows(title_like="cam%")) == ["cam1.mp4", "cam2.mp4"]
    assert titles(admin_ds.list_data_rows(title_eq="scan")) == ["scan"]
    assert titles(admin_ds.list_data_rows(data_types=[DataType.IMG_GROUP, "dicom"])) == ["frames", "scan"]
    assert titles(admin_ds.list_data_rows(created_after=t0, created_before=t0 + dt.timedelta(days=3))) == ["cam2.mp4", "frames"]
    assert titles(admin_ds.list_data_rows(data_hashes=[str(rows[1].data_hash).upper()], title_like="cam%")) == ["cam2.mp4"]
    [row] = admin_ds.list_data_rows(title_eq="cam1.mp4")
    assert row.data_type == DataType.VIDEO and row.width == 640 and row.frames_per_second == 25.0
    assert row.file_link == rows[0].storage_key and row.backing_item_uuid == str(rows[0].backing_item_uuid)


@pytest.mark.parametrize(
    "kwargs", [{"data_types": ["AUDIO"]}, {"data_types": "VIDEO"}, {"data_hashes": ["x"]}, {"created_after": dt.datetime(2024, 1, 1)}]
)
def test_list_data_rows_rejects_bad_filters(admin_ds, kwargs):
    with pytest.raises(InvalidArgumentError):
        admin_ds.list_data_rows(**kwargs)


def test_list_data_rows_query_count_is_constant(admin_ds, dataset, django_assert_num_queries):
    DataRowFactory.create_batch(3, dataset=dataset)
    with django_assert_num_queries(2):
        assert len(admin_ds.list_data_rows()) == 3
    DataRowFactory.create_batch(27, dataset=dataset)
    with django_assert_num_queries(2):
        assert len(admin_ds.list_data_rows()) == 30


def test_update_data_item_and_row(admin_ds, dataset):
    row = DataRowFactory(dataset=dataset, title="a.mp4")
    other = DataRowFactory(title="b.mp4")
    assert admin_ds.update_data_item(str(row.data_hash), "renamed.mp4") is True
    assert admin_ds.update_data_item(str(other.data_hash), "stolen") is False
    other.refresh_from_db()
    assert other.title == "b.mp4"
    updated, data_row = admin_ds.update_data_row(str(row.data_hash), client_metadata={"k": "v"})
    assert updated == ["client_metadata"] and data_row.client_metadata == {"k": "v"}
    updated, data_row = admin_ds.update_data_row(str(row.data_hash), client_metadata={"only": 1})
    assert data_row.client_metadata == {"only": 1}  # replaced, not merged
    assert data_row.title == "renamed.mp4"
    assert admin_ds.update_data_row(str(row.data_hash))[0] == []
    with pytest.raises(InvalidArgumentError):
        admin_ds.update_data_row(str(row.data_hash), title="")
    with pytest.raises(InvalidArgumentError):
        admin_ds.update_data_row(str(row.data_hash), client_metadata=["not", "a", "dict"])


def test_delete_data_removes_rows_and_hosted_files_but_ignores_other_datasets(
    admin_ds, dataset, django_capture_on_commit_callbacks
):
    row = DataRowFactory(dataset=dataset, storage_key="datasets/x/a.mp4", thumbnail_key="datasets/x/a.jpg")
    member_row = DataRowFactory(dataset=dataset, data_type=m.DataType.IMG_GROUP, storage_key="")
    DataRowMemberFactory(data_row=member_row, data_sequence=0, title="0.jpg", storage_key="datasets/x/0.jpg")
    external = DataRowFactory(dataset=dataset, storage_key="", url="s3://bucket/keep.mp4")
    foreign = DataRowFactory(storage_key="datasets/y/b.mp4")
    for key in ("datasets/x/a.mp4", "datasets/x/a.jpg", "datasets/x/0.jpg", "datasets/y/b.mp4"):
        default_storage.save(key, ContentFile(b"data"))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        gone = admin_ds.delete_data([str(row.data_hash), str(member_row.data_hash), str(external.data_hash), str(foreign.data_hash)])
    assert gone == 3 and len(callbacks) == 1
    assert list(m.DataRow.objects.values_list("pk", flat=True)) == [foreign.pk]
    # the files go when the task queued on commit runs (tests/tasks runs it on a real worker);
    # here the job function itself runs, twice, as a redelivery would
    from datasets_app.sdk.jobs import run_delete_files

    keys = ["datasets/x/0.jpg", "datasets/x/a.jpg", "datasets/x/a.mp4"]
    assert run_delete_files(keys) == 3
    assert run_delete_files(keys) == 0  # idempotent
    assert default_storage.exists("datasets/y/b.mp4")
    # deleting again is not an error
    assert admin_ds.delete_data(str(row.data_hash)) == 0


def test_delete_data_refuses_users_and_read_keys(open_as, dataset):
    row = DataRowFactory(dataset=dataset)
    with pytest.raises(AuthorisationError):
        open_as("ds_user").delete_data([str(row.data_hash)])
    with pytest.raises(OperationNotAllowed):
        open_as("read_key").delete_data([str(row.data_hash)])
    assert open_as("write_key").delete_data([str(row.data_hash)]) == 1


def test_write_only_key_cannot_read(open_as, dataset):
    DataRowFactory(dataset=dataset)
    with pytest.raises(OperationNotAllowed):
        open_as("write_key").list_data_rows()
    assert len(open_as("rw_key").list_data_rows()) == 1


def test_stranger_cannot_open(open_as):
    with pytest.raises(ResourceNotFoundError):
        open_as("stranger")


# ---- members --------------------------------------------------------------------------------


def test_add_users_keeps_existing_roles_and_refuses_unknown(admin_ds, ds_admin, ds_user):
    newcomer = UserFactory(email="New@Example.com")
    added = admin_ds.add_users([ds_user.email, "new@example.com"], DatasetUserRole.ADMIN)
    assert [(u.user_email, u.user_role) for u in added] == [
        (ds_user.email, DatasetUserRole.USER),
        ("new@example.com", DatasetUserRole.ADMIN),  # as given: the stored spelling would reveal the account
    ]
    assert m.DatasetMembership.objects.get(user=newcomer).role == m.DatasetUserRole.ADMIN
    before = m.DatasetMembership.objects.count()
    # A dataset ADMIN who is not an organisation admin is not told which addresses have accounts.
    quiet = admin_ds.add_users(["ghost@example.com", ds_user.email], DatasetUserRole.USER)
    assert [(u.user_email, u.user_role) for u in quiet] == [
        ("ghost@example.com", DatasetUserRole.USER),
        (ds_user.email, DatasetUserRole.USER),
    ]
    assert m.DatasetMembership.objects.count() == before
    for bad_role in (2, "boss", None):
        with pytest.raises(InvalidArgumentError):
            admin_ds.add_users([ds_user.email], bad_role)
    with pytest.raises(InvalidArgumentError):
        admin_ds.add_users(["not-an-email"], 1)


def test_list_and_remove_users_keep_last_admin(admin_ds, ds_admin, ds_user):
    assert {(u.user_email, u.user_role) for u in admin_ds.list_users()} == {
        (ds_admin.email, DatasetUserRole.ADMIN),
        (ds_user.email, DatasetUserRole.USER),
    }
    with pytest.raises(InvalidArgumentError):
        admin_ds.remove_users([ds_admin.email])
    with pytest.raises(InvalidArgumentError):
        admin_ds.set_user_role(ds_admin.email, DatasetUserRole.USER)
    admin_ds.remove_users([ds_user.email, "nobody@example.com"])
    admin_ds.remove_users([ds_user.email])  # idempotent
    assert [u.user_email for u in admin_ds.list_users()] == [ds_admin.email]


def test_set_user_role_promotes_then_allows_demotion(admin_ds, ds_admin, ds_user):
    admin_ds.set_user_role(ds_user.email, DatasetUserRole.ADMIN)
    admin_ds.set_user_role(ds_admin.email, DatasetUserRole.USER)
    roles = {u.user_email: u.user_role for u in admin_ds.list_users()}
    assert roles == {ds_admin.email: DatasetUserRole.USER, ds_user.email: DatasetUserRole.ADMIN}
    # the demoted admin has lost the right at once
    with pytest.raises(AuthorisationError):
        admin_ds.set_user_role(ds_user.email, DatasetUserRole.USER)
    new_admin = UserClient.for_user(ds_user).get_dataset(admin_ds.dataset_hash)
    with pytest.raises(ResourceNotFoundError):
        new_admin.set_user_role("ghost@example.com", 1)


def test_dataset_user_cannot_manage_members(open_as, ds_admin):
    with pytest.raises(AuthorisationError):
        open_as("ds_user").add_users([ds_admin.email], 1)
    with pytest.raises(AuthorisationError):
        open_as("ds_user").remove_users([ds_admin.email])


# ---- the dataset itself -----------------------------------------------------------------------


def test_rename_and_delete_dataset(admin_ds, dataset, open_as, django_capture_on_commit_callbacks):
    admin_ds.rename(title="New name", description="new desc")
    dataset.refresh_from_db()
    assert (dataset.title, dataset.description) == ("New name", "new desc")
    with pytest.raises(InvalidArgumentError):
        admin_ds.rename(title=" ")
    with pytest.raises(AuthorisationError):
        open_as("ds_user").rename(title="nope")
    with pytest.raises(OperationNotAllowed):
        open_as("rw_key").delete()
    DataRowFactory(dataset=dataset)
    with django_capture_on_commit_callbacks(execute=False):
        admin_ds.delete()
    assert not m.Dataset.objects.filter(pk=dataset.pk).exists()
    assert not m.DataRow.objects.exists()


def test_membership_change_applies_to_an_open_dataset(dataset, ds_user):
    opened = UserClient.for_user(ds_user).get_dataset(str(dataset.dataset_hash))
    m.DatasetMembership.objects.filter(user=ds_user).delete()
    with pytest.raises(ResourceNotFoundError):
        opened.list_data_rows()


def test_org_admin_can_open_any_dataset(org_admin, dataset):
    opened = UserClient.for_user(org_admin).get_dataset(str(dataset.dataset_hash))
    assert opened.user_role is None and opened.title == dataset.title


def test_data_rows_of_empty_dataset(admin_ds):
    assert admin_ds.data_rows == []
    assert DatasetFactory() is not None


def test_fast_row_conversion_matches_model_conversion(admin_ds, dataset, db):
    from datasets_app.sdk import convert

    integ = CloudIntegrationFactory(title="s3", provider="s3", config={"endpoint_url": "http://x"})
    DataRowFactory(dataset=dataset, client_metadata={"a": 1}, media_info={"verdict": "ok"})
    DataRowFactory(dataset=dataset, storage_key="", url="s3://b/k.mp4", integration=integ)
    DataRowFactory(dataset=dataset, data_type=m.DataType.DICOM)
    qs = admin_ds.data_rows_queryset()
    assert list(convert.data_rows_fast(qs)) == [convert.data_row(r) for r in qs]
    assert [r.storage_location for r in admin_ds.data_rows] == [0, 4, 0]


def test_list_members_marks_admins_and_the_last_admin(dataset, ds_admin, ds_user):
    from datasets_app.sdk import UserClient

    members = {u.user_email: u for u in UserClient.for_user(ds_admin).get_dataset(str(dataset.dataset_hash)).list_members()}
    assert members[ds_admin.email].is_admin and members[ds_admin.email].is_last_admin
    assert not members[ds_user.email].is_admin and not members[ds_user.email].is_last_admin
