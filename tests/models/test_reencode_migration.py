"""Migration 0012 (storage re-encoding) on a POPULATED database: every existing re-encode task
keeps its integer id and every column, and gets a process_uuid of its own (distinct, never
shared); every part keeps its row and data_hash. Going back to 0011 drops only the storage tasks
that schema cannot hold. Runs on whichever database the suite runs on (SQLite, or PostgreSQL with
DATABASE_URL), as tests/models/test_storage_migration.py does."""

from __future__ import annotations

import uuid

import pytest

from tests.migrations import latest, migrate

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

APP = "datasets_app"
BEFORE = [(APP, "0011_dataset_stats")]
AFTER = [(APP, "0012_storage_reencode")]


@pytest.fixture
def at_0011(transactional_db):
    try:
        yield migrate(BEFORE)
    finally:
        migrate(latest())


def columns(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def populate(apps) -> list:
    """Two datasets' rows and 30 re-encode tasks (with gaps in their ids) of every status."""
    User, Dataset = apps.get_model(APP, "User"), apps.get_model(APP, "Dataset")
    Folder, Item, Row = (apps.get_model(APP, n) for n in ("StorageFolder", "StorageItem", "DataRow"))
    Task, Part = apps.get_model(APP, "ReEncodeTask"), apps.get_model(APP, "ReEncodeVideo")
    alice = User.objects.create(username="alice@example.com", email="alice@example.com")
    rows = []
    for d in range(2):
        folder = Folder.objects.create(name=f"ds{d}", owner=alice)
        dataset = Dataset.objects.create(title=f"ds{d}", created_by=alice, backing_folder=folder)
        for n in range(3):
            item = Item.objects.create(folder=folder, name=f"v{n}.mp4", item_type="VIDEO", storage_key=f"k/{d}/{n}")
            rows.append(Row.objects.create(dataset=dataset, item=item))
    tasks = []
    for n in range(30):
        row = rows[n % len(rows)]
        task = Task.objects.create(
            dataset_id=row.dataset_id, created_by=alice if n % 4 else None, request_digest=f"{n:064x}",
            status=("SUBMITTED", "DONE", "ERROR")[n % 3], message=f"m{n}",
        )
        Part.objects.create(task=task, data_row=row, data_hash=row.data_hash, status=task.status, output_key=f"o/{n}")
        if n % 2:
            Part.objects.create(task=task, data_row=None, data_hash=uuid.uuid4(), status="ERROR", error="row deleted")
        tasks.append(task)
    Task.objects.filter(pk__in=[t.pk for t in tasks[::5]]).delete()  # gaps in the ids
    return tasks


def snapshot(apps) -> dict:
    return {
        name: {o.pk: columns(o) for o in apps.get_model(APP, name).objects.all()}
        for name in ("ReEncodeTask", "ReEncodeVideo", "DataRow", "StorageItem")
    }


def test_existing_tasks_keep_their_ids_and_get_distinct_process_uuids(at_0011):
    populate(at_0011)
    old = snapshot(at_0011)
    assert len(old["ReEncodeTask"]) == 24 and len(old["ReEncodeVideo"]) == 36

    new_apps = migrate(AFTER)
    new = snapshot(new_apps)

    assert set(new["ReEncodeTask"]) == set(old["ReEncodeTask"])
    uuids = [cols["process_uuid"] for cols in new["ReEncodeTask"].values()]
    assert all(isinstance(u, uuid.UUID) for u in uuids) and len(set(uuids)) == len(uuids)
    for pk, before in old["ReEncodeTask"].items():
        after = dict(new["ReEncodeTask"][pk])
        after.pop("process_uuid")
        assert after == {**before, "title": ""}
    for pk, before in old["ReEncodeVideo"].items():
        assert new["ReEncodeVideo"][pk] == {**before, "item_id": None, "item_uuid": None}
    assert new["DataRow"] == old["DataRow"] and new["StorageItem"] == old["StorageItem"]

    # A task made after the migration gets a fresh uuid from the default.
    Task = new_apps.get_model(APP, "ReEncodeTask")
    fresh = Task.objects.create(dataset_id=None, title="storage")
    assert fresh.process_uuid not in uuids


def test_going_back_drops_only_storage_tasks_and_forward_again_keeps_the_rest(at_0011):
    populate(at_0011)
    old = snapshot(at_0011)
    new_apps = migrate(AFTER)
    Task, Part = new_apps.get_model(APP, "ReEncodeTask"), new_apps.get_model(APP, "ReEncodeVideo")
    item = new_apps.get_model(APP, "StorageItem").objects.first()
    storage = Task.objects.create(dataset_id=None, title="storage", status="SUBMITTED")
    Part.objects.create(task=storage, item_id=item.pk, item_uuid=item.item_uuid)

    back = snapshot(migrate(BEFORE))
    assert back == old  # the storage task and its part are gone, nothing else changed

    again = snapshot(migrate(AFTER))
    assert set(again["ReEncodeTask"]) == set(old["ReEncodeTask"])
    assert len({cols["process_uuid"] for cols in again["ReEncodeTask"].values()}) == len(old["ReEncodeTask"])
