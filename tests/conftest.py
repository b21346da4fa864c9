"""Personas and shared fixtures. Every test gets its own DATA_DIR-backed media folder."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from celery.contrib.testing.worker import start_worker
from django.test import Client

from dashboard.celery import app as celery_app
from datasets_app import models as m
from datasets_app.sdk import Dataset, UserClient

from .factories import DatasetFactory, DatasetMembershipFactory, UserFactory
from .cloud_servers import azurite, gcs_emulator, http_media, moto_s3, s3_hosted  # noqa: F401  (loopback storage servers)


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "media")}},
    }


# Queues of the test worker: the app's two, and the trace test's own (tests/production).
TEST_WORKER_QUEUES = ["default", "media", "trace-test"]


@pytest.fixture(scope="module")
def _module_worker_thread(django_db_setup, django_db_blocker):
    """A real Celery worker thread (solo pool, as in production) for the test module that asks for
    one: started by its first test that needs it (~4 s), stopped when the module ends, so tests of
    other modules that queue tasks keep their messages to themselves.

    There must never be two at once: Celery workers in one process share kombu's global event
    loop (celery.worker.components.Hub reuses get_event_loop()), so with Redis two worker threads
    read each other's sockets and both stop taking messages. Hence one fixture, defined here only
    and module-scoped (tests/test_one_worker.py checks that no other test module starts a worker).

    Tests that ran without a worker may have queued tasks (their rows are gone by now): drop them,
    so the worker never spends its time on stale work."""
    with django_db_blocker.unblock():
        celery_app.control.purge()
    with (
        django_db_blocker.unblock(),
        start_worker(
            celery_app,
            pool="solo",
            perform_ping_check=False,
            queues=TEST_WORKER_QUEUES,
            shutdown_timeout=120,
        ),
    ):
        yield
        _wake_for_shutdown()


@celery_app.task(name="tests.wake_worker", ignore_result=True)
def _wake_worker() -> None:
    """Does nothing: its message ends the worker's wait for the next one."""


def _wake_for_shutdown() -> None:
    """Asks the worker to stop, then sends it two messages: otherwise it notices only when a wait
    for messages times out (Celery's loop for brokers without events, as the filesystem one,
    waits up to 2 s, and once more after it has seen the flag), which cost ~4 s at the end of
    each of the ~20 test modules that run a worker (~1 s with Redis). A message left over is
    purged when the next worker starts."""
    from celery.worker import state

    state.should_terminate = 0
    for _ in range(2):
        _wake_worker.apply_async(queue=TEST_WORKER_QUEUES[0])


@pytest.fixture
def data_worker(transactional_db, _module_worker_thread):
    """A real Celery worker takes this test's tasks (committed data: transactional_db)."""
    yield


@pytest.fixture
def dataset(db):
    return DatasetFactory()


def _member(dataset, role):
    return DatasetMembershipFactory(dataset=dataset, role=role).user


@pytest.fixture
def ds(dataset, ds_user):
    """The dataset as its USER member opens it through the SDK."""
    return UserClient.for_user(ds_user).get_dataset(str(dataset.dataset_hash))


def signed_in(user) -> Client:
    """A dashboard client with `user`'s session."""
    client = Client()
    client.force_login(user)
    return client


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


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's, then at the end: threads of the web tier's pools keep their connections
    (the job waiters', the upload database threads'), and PostgreSQL will not drop a database
    others are connected to ("being accessed by other users"): end those sessions first."""
    yield
    from django.db import connection

    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
