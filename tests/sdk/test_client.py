"""UserClient: datasets, filters, integrations listing and API keys."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from datasets_app import models as m
from datasets_app.sdk import UserClient
from datasets_app.sdk.exceptions import (
    AuthenticationError,
    InvalidArgumentError,
    ResourceNotFoundError,
)
from datasets_app.sdk.orm import DatasetScope, DatasetUserRole, StorageLocation
from tests.factories import CloudIntegrationFactory, DatasetFactory, DatasetMembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

UTC = dt.timezone.utc


@pytest.fixture
def alice():
    return UserFactory(email="alice@example.com")


@pytest.fixture
def client(alice):
    return UserClient.for_user(alice)


def test_create_dataset_makes_creator_admin(client, alice):
    created = client.create_dataset("Traffic", StorageLocation.AWS, "cars at night")
    assert created.title == "Traffic" and created.type == StorageLocation.AWS
    assert created.user_hash == str(alice.user_hash)
    ds = m.Dataset.objects.get(dataset_hash=created.dataset_hash)
    assert ds.description == "cars at night" and ds.storage_location == 1
    assert ds.memberships.get().role == m.DatasetUserRole.ADMIN
    [entry] = client.get_datasets()
    assert entry["user_role"] == DatasetUserRole.ADMIN
    assert entry["dataset"].title == "Traffic" and entry["dataset"].type == StorageLocation.AWS


@pytest.mark.parametrize(
    "title,kind",
    [("", "empty"), ("   ", "empty"), ("x" * 10_000, "long"), (None, "type"), (42, "type"), ("a\x00b", "control")],
)
def test_create_dataset_rejects_bad_titles(client, title, kind):
    with pytest.raises(InvalidArgumentError) as err:
        client.create_dataset(title, 0)
    assert err.value.fields["field"] == "title"
    assert not m.Dataset.objects.exists()


@pytest.mark.parametrize("storage", [7, -1, "NOPE", True, 2.5, None])
def test_create_dataset_rejects_unknown_storage_location(client, storage):
    with pytest.raises(InvalidArgumentError):
        client.create_dataset("t", storage)
    assert not m.Dataset.objects.exists()


@pytest.mark.parametrize("storage,expected", [("AWS", 1), ("GCP_STR", 2), ("S3_COMPATIBLE", 4), (3, 3)])
def test_create_dataset_accepts_storage_location_names(client, storage, expected):
    assert client.create_dataset("t", storage).type == expected


def test_create_dataset_rejects_huge_description(client):
    with pytest.raises(InvalidArgumentError):
        client.create_dataset("t", 0, "d" * 10_001)


def _titles(result):
    return sorted(e["dataset"].title for e in result)


def test_title_like_uses_sql_wildcards_and_escapes(client):
    for title in ("Cars 2024", "cars_day", "carsXday", "100% cars", "Boats"):
        client.create_dataset(title, 0)
    assert _titles(client.get_datasets(title_like="cars%")) == ["Cars 2024", "carsXday", "cars_day"]
    assert _titles(client.get_datasets(title_like="cars_day")) == ["carsXday", "cars_day"]
    assert _titles(client.get_datasets(title_like="cars\\_day")) == ["cars_day"]
    assert _titles(client.get_datasets(title_like="%\\%%")) == ["100% cars"]
    assert _titles(client.get_datasets(title_like="%'; DROP TABLE x; --")) == []
    assert _titles(client.get_datasets(title_eq="Boats")) == ["Boats"]
    assert _titles(client.get_datasets(title_eq="boats")) == []


def test_description_filters(client):
    client.create_dataset("a", 0, "night traffic")
    client.create_dataset("b", 0, "day traffic")
    client.create_dataset("c", 0, "")
    assert _titles(client.get_datasets(desc_like="%night%")) == ["a"]
    assert _titles(client.get_datasets(desc_like="%TRAFFIC")) == ["a", "b"]
    assert _titles(client.get_datasets(desc_eq="day traffic")) == ["b"]


def test_date_filters_are_strict_bounds(client, alice):
    t0 = dt.datetime(2024, 1, 1, tzinfo=UTC)
    for i, title in enumerate(["old", "mid", "new"]):
        client.create_dataset(title, 0)
        m.Dataset.objects.filter(title=title).update(
            created_at=t0 + dt.timedelta(days=i), last_edited_at=t0 + dt.timedelta(days=10 + i)
        )
    mid = t0 + dt.timedelta(days=1)
    assert _titles(client.get_datasets(created_before=mid)) == ["old"]
    assert _titles(client.get_datasets(created_after=mid)) == ["new"]
    assert _titles(client.get_datasets(created_after=t0, created_before=t0 + dt.timedelta(days=2))) == ["mid"]
    assert _titles(client.get_datasets(edited_after=t0 + dt.timedelta(days=10, hours=1))) == ["mid", "new"]
    assert _titles(client.get_datasets(edited_before=t0 + dt.timedelta(days=11))) == ["old"]
    # an aware datetime in another zone means the same instant
    plus2 = dt.timezone(dt.timedelta(hours=2))
    assert _titles(client.get_datasets(created_before=mid.astimezone(plus2))) == ["old"]
    assert _titles(client.get_datasets(created_before="2024-01-02T00:00:00+00:00")) == ["old"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"created_before": dt.datetime(2024, 1, 1)},
        {"edited_after": "2024-01-01T00:00:00"},
        {"created_after": "yesterday"},
        {"created_after": dt.date(2024, 1, 1)},
        {"title_like": 5},
        {"title_eq": ["a"]},
    ],
)
def test_get_datasets_rejects_bad_filters(client, kwargs):
    with pytest.raises(InvalidArgumentError):
        client.get_datasets(**kwargs)


def test_get_datasets_lists_only_memberships_unless_org_access(client, alice):
    other = UserClient.for_user(UserFactory()).create_dataset("theirs", 0)
    mine = client.create_dataset("mine", 0)
    assert _titles(client.get_datasets()) == ["mine"]
    # include_org_access is ignored for non-admins
    assert _titles(client.get_datasets(include_org_access=True)) == ["mine"]
    alice.is_org_admin = True
    alice.save()
    result = {e["dataset"].dataset_hash: e["user_role"] for e in client.get_datasets(include_org_access=True)}
    assert result == {mine.dataset_hash: DatasetUserRole.ADMIN, other.dataset_hash: None}


def test_get_datasets_query_count_is_constant(client, alice, django_assert_num_queries):
    def make(n):
        for i in range(n):
            ds = DatasetFactory(created_by=UserFactory())
            DatasetMembershipFactory(dataset=ds, user=alice, role=i % 2)

    make(3)
    with django_assert_num_queries(1):
        assert len(client.get_datasets(title_like="%")) == 3
    make(27)
    with django_assert_num_queries(1):
        assert len(client.get_datasets(title_like="%")) == 30
    alice.is_org_admin = True
    with django_assert_num_queries(1):
        assert len(client.get_datasets(include_org_access=True)) == 30


def test_get_dataset_not_found_and_malformed(client):
    with pytest.raises(ResourceNotFoundError):
        client.get_dataset("00000000-0000-4000-8000-000000000000")
    for bad in ("not-a-uuid", "", "x" * 5000, None, 42):
        with pytest.raises(InvalidArgumentError):
            client.get_dataset(bad)


def test_get_dataset_accepts_upper_case_hash(client):
    created = client.create_dataset("t", 0)
    assert client.get_dataset(created.dataset_hash.upper()).dataset_hash == created.dataset_hash


def test_inactive_user_cannot_build_a_client():
    user = UserFactory(is_active=False)
    with pytest.raises(AuthenticationError):
        UserClient.for_user(user)


# ---- API keys ---------------------------------------------------------------------------------


def test_api_key_secret_is_encrypted_at_rest(client):
    ds = client.create_dataset("t", 0)
    key = client.create_dataset_api_key(ds.dataset_hash, "ci key", [DatasetScope.READ, "dataset.write"])
    assert set(key.scopes) == {DatasetScope.READ, DatasetScope.WRITE}
    row = m.DatasetAPIKey.objects.get(key_hash=key.key_hash)
    assert key.api_key not in row.secret_encrypted and key.api_key != row.secret_digest
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM datasets_app_datasetapikey")
        dumped = repr(cursor.fetchall())
    assert key.api_key not in dumped
    # the secret stays retrievable by the dataset's ADMINs
    [listed] = client.get_dataset_api_keys(ds.dataset_hash)
    assert listed.api_key == key.api_key and listed.key_hash == key.key_hash
    assert ":" not in key.api_key and not key.api_key.startswith("Bearer ")


@pytest.mark.parametrize("scopes", [[], ["dataset.admin"], "dataset.read", None])
def test_api_key_rejects_bad_scopes(client, scopes):
    ds = client.create_dataset("t", 0)
    with pytest.raises(InvalidArgumentError):
        client.create_dataset_api_key(ds.dataset_hash, "k", scopes)
    assert not m.DatasetAPIKey.objects.exists()


def test_get_or_create_api_key_reuses_full_key(client):
    ds = client.create_dataset("t", 0)
    client.create_dataset_api_key(ds.dataset_hash, "read only", ["dataset.read"])
    first = client.get_or_create_dataset_api_key(ds.dataset_hash)
    assert set(first.scopes) == {DatasetScope.READ, DatasetScope.WRITE}
    assert first.title == f"{ds.dataset_hash} - admin key"
    assert client.get_or_create_dataset_api_key(ds.dataset_hash).key_hash == first.key_hash
    assert m.DatasetAPIKey.objects.count() == 2


def test_revoked_and_expired_keys_do_not_authenticate(client):
    from datasets_app.sdk import Dataset

    ds = client.create_dataset("t", 0)
    key = client.create_dataset_api_key(ds.dataset_hash, "k", ["dataset.read"])
    assert Dataset.from_api_key(ds.dataset_hash, key.api_key).title == "t"
    client.revoke_dataset_api_key(ds.dataset_hash, key.key_hash)
    with pytest.raises(AuthenticationError):
        Dataset.from_api_key(ds.dataset_hash, key.api_key)
    assert client.get_dataset_api_keys(ds.dataset_hash) == []
    soon = client.create_dataset_api_key(
        ds.dataset_hash, "k2", ["dataset.read"], expires_at=dt.datetime.now(UTC) + dt.timedelta(hours=1)
    )
    m.DatasetAPIKey.objects.filter(key_hash=soon.key_hash).update(expires_at=dt.datetime.now(UTC) - dt.timedelta(seconds=1))
    with pytest.raises(AuthenticationError):
        Dataset.from_api_key(ds.dataset_hash, soon.api_key)
    for bad in ("", "nope", "x" * 500, None):
        with pytest.raises(AuthenticationError):
            Dataset.from_api_key(ds.dataset_hash, bad)


def test_only_dataset_admin_manages_keys(client):
    ds = client.create_dataset("t", 0)
    member = UserFactory()
    client.get_dataset(ds.dataset_hash).add_users([member.email], DatasetUserRole.USER)
    from datasets_app.sdk.exceptions import AuthorisationError

    with pytest.raises(AuthorisationError):
        UserClient.for_user(member).create_dataset_api_key(ds.dataset_hash, "k", ["dataset.read"])
    with pytest.raises(ResourceNotFoundError):
        UserClient.for_user(UserFactory()).get_dataset_api_keys(ds.dataset_hash)


# ---- cloud integrations ---------------------------------------------------------------------


def test_cloud_integrations_are_filtered_by_owner_uuid_and_title(client, alice):
    a = CloudIntegrationFactory(title="minio", provider="s3", owner=alice)
    CloudIntegrationFactory(title="gcs", provider="gcs", owner=alice)
    CloudIntegrationFactory(title="theirs", provider="s3")
    assert sorted(i.title for i in client.get_cloud_integrations()) == ["gcs", "minio"]
    assert [i.title for i in client.get_cloud_integrations(filter_integration_uuids=[str(a.integration_uuid)])] == ["minio"]
    assert [i.title for i in client.get_cloud_integrations(filter_integration_titles=["gcs"])] == ["gcs"]
    assert client.get_cloud_integrations(filter_integration_uuids=[str(a.integration_uuid)], filter_integration_titles=["gcs"]) == []
    with pytest.raises(InvalidArgumentError):
        client.get_cloud_integrations(filter_integration_uuids=["nope"])
