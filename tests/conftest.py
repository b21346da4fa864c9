"""Personas and shared fixtures. Every test gets its own DATA_DIR-backed media folder."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from datasets_app import models as m
from datasets_app.sdk import Dataset, UserClient

from .factories import DatasetFactory, UserFactory
from .cloud_servers import azurite, gcs_emulator, http_media, moto_s3  # noqa: F401  (loopback storage servers)


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "media")}},
    }


@pytest.fixture
def dataset(db):
    return DatasetFactory()


def _member(dataset, role):
    user = UserFactory()
    m.DatasetMembership.objects.create(dataset=dataset, user=user, role=role)
    return user


@pytest.fixture
def org_admin(db):
    return UserFactory(is_org_admin=True)


@pytest.fixture
def ds_admin(dataset):
    return _member(dataset, m.DatasetUserRole.ADMIN)


@pytest.fixture
def ds_user(dataset):
    return _member(dataset, m.DatasetUserRole.USER)


@pytest.fixture
def stranger(db):
    return UserFactory()


@dataclass
class KeyPersona:
    model: m.DatasetAPIKey
    secret: str


def _key(dataset, admin, scopes):
    created = UserClient.for_user(admin).create_dataset_api_key(str(dataset.dataset_hash), "test key", scopes)
    return KeyPersona(model=m.DatasetAPIKey.objects.get(key_hash=created.key_hash), secret=created.api_key)


@pytest.fixture
def read_key(dataset, ds_admin):
    return _key(dataset, ds_admin, ["dataset.read"])


@pytest.fixture
def write_key(dataset, ds_admin):
    return _key(dataset, ds_admin, ["dataset.write"])


@pytest.fixture
def rw_key(dataset, ds_admin):
    return _key(dataset, ds_admin, ["dataset.read", "dataset.write"])


PERSONAS = ["org_admin", "ds_admin", "ds_user", "read_key", "write_key", "rw_key", "stranger"]


@pytest.fixture
def open_as(request, dataset):
    """open_as("ds_user") -> the SDK Dataset as that persona sees it (raises as the SDK would)."""

    def _open(persona: str) -> Dataset:
        who = request.getfixturevalue(persona)
        if isinstance(who, KeyPersona):
            return Dataset.from_api_key(str(dataset.dataset_hash), who.secret)
        return UserClient.for_user(who).get_dataset(str(dataset.dataset_hash))

    return _open
