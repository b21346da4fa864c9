"""Migrations 0006-0008 (issue 13) on a POPULATED database: every dataset becomes a mirror of a
folder whose uuid is its old backing_folder_uuid, every row's media becomes an item whose uuid is
its old backing_item_uuid, and no id, hash or media field changes. The "before" state is written
with the historical models of 0005; the "after" state is read with the historical models of the
latest migration (and, for what clients see, through the current models' read-only properties).

Runs on whichever database the suite runs on: SQLite by default, PostgreSQL in CI's second pass
(DATABASE_URL=postgres://...). One migration cycle per test (about a second or two on SQLite)."""

from __future__ import annotations

import datetime as dt

import pytest

from datasets_app import models as m
from tests.migrations import latest, migrate

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

APP = "datasets_app"
BEFORE = [(APP, "0005_token_revocation_key_reveals")]
DATA_MIGRATION = [(APP, "0006_storage_model")]  # migrating here from the latest reverses 0008 and 0007

# Old DataRow column -> StorageItem column (written here, not imported from the migration, so a
# column the migration forgets shows up as a difference).
RENAMED = {"title": "name", "data_type": "item_type", "backing_item_uuid": "item_uuid"}
# Old DataRow columns that stay on the row (the link): compared on the row, not on the item.
ROW_KEEPS = {"id", "data_hash", "dataset_id"}
# Columns both the row and the item keep (the item gets the row's values).
ROW_AND_ITEM = {"created_at", "last_edited_at", "created_by_job_id"}

T0 = dt.datetime(2024, 3, 1, 12, 30, 15, 123456, tzinfo=dt.UTC)


@pytest.fixture
def at_0005(transactional_db):
    """The database at 0005 (historical apps); put back at the latest migration afterwards, so the
    following tests find the schema they expect (the rows are flushed by transactional_db)."""
    try:
        yield migrate(BEFORE)
    finally:
        migrate(latest())


def columns(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def populate(apps) -> dict:
    """Users, datasets (members, API keys), an integration, a data job whose units' results name
    rows, and rows of every kind a 0005 database holds; returns what was made, by role."""
    User = apps.get_model(APP, "User")
    Dataset = apps.get_model(APP, "Dataset")
    DataRow = apps.get_model(APP, "DataRow")
    Member = apps.get_model(APP, "DataRowMember")

    alice = User.objects.create(username="alice@example.com", email="alice@example.com")
    bob = User.objects.create(username="bob@example.com", email="bob@example.com")
    carol = User.objects.create(username="carol@example.com", email="carol@example.com")
    videos = Dataset.objects.create(title="Traffic cams — Zürich", description="d", created_by=alice)
    scans = Dataset.objects.create(title="Scans " + "x" * 1000, created_by=bob)
    orphan = Dataset.objects.create(title="Creator gone", created_by=None)  # created_by SET_NULL
    empty = Dataset.objects.create(title="Empty", created_by=carol)
    Membership = apps.get_model(APP, "DatasetMembership")
    Membership.objects.create(dataset=videos, user=carol, role=2)
    Membership.objects.create(dataset=scans, user=alice, role=1)
    Key = apps.get_model(APP, "DatasetAPIKey")
    Key.objects.create(dataset=videos, title="ci key", can_write=True, created_by=alice,
                       secret_encrypted="enc", secret_digest="d" * 64)
    integration = apps.get_model(APP, "CloudIntegration").objects.create(
        owner=alice, title="bucket", provider="s3", config={"bucket": "cams", "region": "eu-west-1"},
        credentials_encrypted="enc",
    )
    job = apps.get_model(APP, "DataJob").objects.create(
        kind="private", status="DONE", dataset=videos, created_by=alice, integration=integration, units_total=2,
    )
    Unit = apps.get_model(APP, "DataJobUnit")
    unit = Unit.objects.create(job=job, index=0, spec={"objectUrl": "s3://cams/a.mp4"}, status="DONE")

    def row(ds, **fields):
        defaults = {"created_at": T0, "last_edited_at": T0 + dt.timedelta(minutes=5)}
        return DataRow.objects.create(dataset=ds, **{**defaults, **fields})

    video = row(
        videos, title="cam1.mp4", data_type="VIDEO", file_size=5_000_000_123, mime_type="video/mp4",
        width=1920, height=1080, fps=29.97002997, duration=61.394, frame_count=1840,
        client_metadata={"site": "Zürich", "lanes": [1, 2], "night": False, "score": 0.25, "none": None},
        storage_key="data/v/cam1.mp4", sha256="a" * 64, thumbnail_key="thumbs/cam1.jpg",
    )
    reencoded = row(
        videos, title="cam2.mov", data_type="VIDEO", mime_type="video/mp4", width=1280, height=720, fps=25.0,
        duration=10.0, frame_count=250, storage_key="data/v/cam2.reencoded.mp4",
        original_storage_key="data/v/cam2.mov", thumbnail_key="thumbs/cam2.jpg",
        media_info={"verdict": "ok", "codec": "h264", "reasons": [], "frame_table": [0, 40, 80]},
    )
    private = row(
        videos, title="a.mp4", data_type="VIDEO", url="s3://cams/a.mp4", integration=integration,
        original_url="s3://cams/a-original.mp4", created_by_job=unit, file_size=77, mime_type="video/mp4",
        media_info={"verdict": "at risk", "reasons": ["variable frame rate"]},
    )
    sequence = row(
        videos, title="frames", data_type="IMG_GROUP", is_optimised_image_group=True,
        sequence_video_status="DONE", sequence_video_key="data/seq/frames.mp4", width=640, height=480,
    )
    pending = row(videos, title="frames-2", data_type="IMG_GROUP", is_optimised_image_group=True,
                  sequence_video_status="PENDING")
    group = row(scans, title="group", data_type="IMG_GROUP", is_optimised_image_group=False,
                client_metadata={"patient": {"age": 61}})
    dicom = row(scans, title="CT chest", data_type="DICOM", client_metadata={"modality": "CT"})
    image = row(orphan, title="cat.png", data_type="IMAGE", storage_key="data/i/cat.png", mime_type="image/png",
                width=10, height=12, file_size=512, sha256="b" * 64)
    rows = [video, reencoded, private, sequence, pending, group, dicom, image]
    for i, parent in enumerate([sequence, pending, group, group, group, dicom, dicom]):
        Member.objects.create(
            data_row=parent, data_sequence=i, title=f"m{i}.png", storage_key=f"data/m/{i}.png",
            url="" if i else "https://example.com/0.png", mime_type="image/png", file_size=100 + i,
            width=640, height=480, sha256=f"{i}" * 64, thumbnail_key=f"thumbs/m{i}.jpg",
            created_at=T0, last_edited_at=T0,
        )
    # Unit results name rows by data_hash and backing_item_uuid, as the job-status API reports them.
    Unit.objects.filter(pk=unit.pk).update(results=[
        {"data_hash": str(private.data_hash), "title": private.title, "backing_item_uuid": str(private.backing_item_uuid)},
    ])
    Unit.objects.create(job=job, index=1, spec={}, status="DONE", results=[
        {"data_hash": str(video.data_hash), "title": video.title, "backing_item_uuid": str(video.backing_item_uuid)},
    ])
    task = apps.get_model(APP, "ReEncodeTask").objects.create(dataset=videos, created_by=alice, status="DONE")
    apps.get_model(APP, "ReEncodeVideo").objects.create(
        task=task, data_row=reencoded, data_hash=reencoded.data_hash, status="DONE", output_key="data/v/cam2.reencoded.mp4",
    )
    return {"datasets": [videos, scans, orphan, empty], "rows": rows, "users": [alice, bob, carol]}


def snapshot(apps) -> dict:
    """Every column of every row of the tables the migration touches or must leave alone."""
    names = ["User", "Dataset", "DataRow", "DataRowMember", "DatasetMembership", "DatasetAPIKey",
             "CloudIntegration", "DataJob", "DataJobUnit", "ReEncodeTask", "ReEncodeVideo"]
    return {name: {o.pk: columns(o) for o in apps.get_model(APP, name).objects.all()} for name in names}


def test_populated_database_migrates_without_loss(at_0005):
    made = populate(at_0005)
    old = snapshot(at_0005)
    assert len(old["DataRow"]) == 8 and len(old["DataRowMember"]) == 7

    new_apps = migrate(latest())
    new = snapshot(new_apps)
    Folder = new_apps.get_model(APP, "StorageFolder")
    Item = new_apps.get_model(APP, "StorageItem")

    # Tables the migration must not change at all.
    # (Later migrations add columns with defaults: 0010 gives jobs a folder and a file name, 0012
    # gives re-encode tasks a title and a process_uuid of their own, checked in test_reencode_migration.)
    added_later = {
        "DataJob": {"folder_id": None, "file_name": ""},
        "ReEncodeTask": {"title": ""},
        "ReEncodeVideo": {"item_id": None, "item_uuid": None},
    }
    unique_later = {"ReEncodeTask": {"process_uuid"}}
    for name in ["User", "DatasetMembership", "DatasetAPIKey", "CloudIntegration", "DataJob", "DataJobUnit",
                 "ReEncodeTask", "ReEncodeVideo"]:
        extra, fresh = added_later.get(name, {}), unique_later.get(name, set())
        kept = {pk: {k: v for k, v in cols.items() if k not in extra and k not in fresh} for pk, cols in new[name].items()}
        assert kept == old[name], name
        assert all({k: cols[k] for k in extra} == extra for cols in new[name].values()), name
        assert all(cols[k] is not None for k in fresh for cols in new[name].values()), name

    # Every dataset is a mirror of a new top-level folder carrying its old backing_folder_uuid.
    assert Folder.objects.count() == len(old["Dataset"]) == 4
    for pk, before in old["Dataset"].items():
        after = new["Dataset"][pk]
        assert {k: v for k, v in after.items() if k != "backing_folder_id"} == {
            k: v for k, v in before.items() if k != "backing_folder_uuid"
        }
        folder = Folder.objects.get(pk=after["backing_folder_id"])
        assert folder.folder_uuid == before["backing_folder_uuid"]
        assert (folder.name, folder.owner_id, folder.parent_id) == (before["title"], before["created_by_id"], None)
        assert (folder.description, folder.client_metadata) == ("", None)

    # Every row keeps its id, data_hash and dataset, and links an item holding every old media field.
    assert Item.objects.count() == len(old["DataRow"])
    moved = set(old["DataRow"][made["rows"][0].pk]) - ROW_KEEPS
    assert moved == (set(columns(made["rows"][0])) - ROW_KEEPS), "an old row column is not compared"
    for pk, before in old["DataRow"].items():
        after = new["DataRow"][pk]
        assert {k: after[k] for k in ROW_KEEPS | ROW_AND_ITEM} == {k: before[k] for k in ROW_KEEPS | ROW_AND_ITEM}
        item = columns(Item.objects.get(pk=after["item_id"]))
        assert {RENAMED.get(k, k): before[k] for k in moved} == {RENAMED.get(k, k): item[RENAMED.get(k, k)] for k in moved}
        assert item["folder_id"] == new["Dataset"][before["dataset_id"]]["backing_folder_id"]
        assert item["owner_id"] == old["Dataset"][before["dataset_id"]]["created_by_id"]

    # Members keep ids, image hashes and every column; they belong to their row's item.
    assert set(new["DataRowMember"]) == set(old["DataRowMember"])
    for pk, before in old["DataRowMember"].items():
        after = dict(new["DataRowMember"][pk])
        assert after.pop("item_id") == new["DataRow"][before["data_row_id"]]["item_id"]
        assert after == {k: v for k, v in before.items() if k != "data_row_id"}

    # What clients see, through the current models: the uuids handed out before now resolve.
    for pk, before in old["DataRow"].items():
        row = m.DataRow.objects.select_related("item", "dataset__backing_folder").get(data_hash=before["data_hash"])
        assert (row.pk, row.backing_item_uuid, row.title) == (pk, before["backing_item_uuid"], before["title"])
        assert m.StorageItem.objects.get(item_uuid=before["backing_item_uuid"]).rows.get() == row
        assert row.dataset.backing_folder_uuid == old["Dataset"][before["dataset_id"]]["backing_folder_uuid"]
    for unit in m.DataJobUnit.objects.exclude(results=[]):
        for result in unit.results:
            assert str(m.DataRow.objects.get(data_hash=result["data_hash"]).backing_item_uuid) == result["backing_item_uuid"]
    group = m.DataRow.objects.get(pk=made["rows"][5].pk)
    assert [x.data_sequence for x in group.members.all()] == [2, 3, 4]


def test_stepping_back_over_the_data_migration_refuses_and_loses_nothing(at_0005):
    made = populate(at_0005)
    old = snapshot(at_0005)
    migrate(latest())
    with pytest.raises(RuntimeError, match="cannot be reversed once storage items exist"):
        migrate(DATA_MIGRATION)
    # Whatever the refusal left applied, going forward again gives back every id and uuid.
    migrate(latest())
    for pk, before in old["DataRow"].items():
        row = m.DataRow.objects.select_related("item").get(pk=pk)
        assert (row.data_hash, row.backing_item_uuid, row.title) == (
            before["data_hash"], before["backing_item_uuid"], before["title"])
    for ds in made["datasets"]:
        assert m.Dataset.objects.get(pk=ds.pk).backing_folder_uuid == old["Dataset"][ds.pk]["backing_folder_uuid"]
    assert m.DataRowMember.objects.count() == len(old["DataRowMember"])

