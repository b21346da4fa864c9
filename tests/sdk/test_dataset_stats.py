"""The per-dataset counters (issue 14) stay exact through every SDK write that adds or removes rows,
and the reconcile task fixes a counter that drifted."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from datasets_app import models as m
from datasets_app.periodic import reconcile_dataset_stats_task
from datasets_app.sdk import UserClient, dataset_stats, jobs
from datasets_app.sdk import storage_item_changes as changes
from datasets_app.sdk.item_links import link_items
from datasets_app.sdk.policy import Principal
from tests.factories import DataRowFactory, DatasetFactory, DatasetMembershipFactory, StorageItemFactory, UserFactory
from tests.media.mediagen import make_image

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice():
    return UserFactory(email="alice@example.com")


def figures(ds_model) -> dataset_stats.Figures:
    return dataset_stats.figures_for([ds_model.pk])[ds_model.pk]


def exact(ds_model) -> bool:
    """The maintained counter equals a recount."""
    return figures(ds_model) == dataset_stats.recount(ds_model.pk)


def uploaded(tmp_path, ds, names, capture):
    for name in names:
        with capture(execute=False):
            process_hash = ds.upload_image_start(make_image(tmp_path / name), title=name)
        jobs.run_data_job(m.DataJob.objects.get(process_hash=process_hash).pk)


def test_uploads_count_rows_by_type_and_bytes(tmp_path, alice, django_capture_on_commit_callbacks):
    client = UserClient.for_user(alice)
    ds = client.get_dataset(client.create_dataset("Mirror").dataset_hash)
    uploaded(tmp_path, ds, ["a.jpg", "b.jpg"], django_capture_on_commit_callbacks)
    got = figures(ds.model)
    assert got.images == 2 and got.rows == 2
    assert got.total_bytes == sum(r.item.file_size for r in m.DataRow.objects.filter(dataset=ds.model)) > 0
    assert exact(ds.model)


def test_deleting_rows_takes_them_off_the_counter(tmp_path, alice, django_capture_on_commit_callbacks):
    client = UserClient.for_user(alice)
    ds = client.get_dataset(client.create_dataset("Mirror").dataset_hash)
    uploaded(tmp_path, ds, ["a.jpg", "b.jpg", "c.jpg"], django_capture_on_commit_callbacks)
    first = m.DataRow.objects.filter(dataset=ds.model).first()
    assert ds.delete_data([str(first.data_hash)]) == 1
    assert figures(ds.model).images == 2 and exact(ds.model)


def test_linking_items_counts_them_in_the_plain_dataset(alice):
    plain = DatasetFactory(backing_folder=None)
    DatasetMembershipFactory(dataset=plain, user=alice, role=m.DatasetUserRole.ADMIN)
    source = DatasetFactory()
    DatasetMembershipFactory(dataset=source, user=alice, role=m.DatasetUserRole.ADMIN)
    m.FolderMembership.objects.create(folder=source.backing_folder, user=alice, role=0)
    items = [
        StorageItemFactory(folder=source.backing_folder, item_type=t, file_size=s)
        for t, s in [("VIDEO", 100), ("VIDEO", 50), ("IMAGE", 7)]
    ]
    link_items(Principal(user=alice), str(plain.dataset_hash), [str(i.item_uuid) for i in items])
    # SKIP: linking again adds nothing
    link_items(Principal(user=alice), str(plain.dataset_hash), [str(i.item_uuid) for i in items])
    got = figures(plain)
    assert (got.videos, got.images, got.total_bytes) == (2, 1, 157) and exact(plain)


def test_moving_items_between_mirror_folders_moves_the_counts(alice):
    a, b = DatasetFactory(), DatasetFactory()
    for ds in (a, b):
        m.FolderMembership.objects.create(folder=ds.backing_folder, user=alice, role=0)
    rows = [DataRowFactory(dataset=a, file_size=10) for _ in range(3)]
    dataset_stats.reconcile([a.pk, b.pk])
    moved = changes.move_items(
        Principal(user=alice),
        str(a.backing_folder.folder_uuid),
        [str(r.item.item_uuid) for r in rows[:2]],
        str(b.backing_folder.folder_uuid),
        allow_synced_dataset_move=True,
    )
    assert moved == 2
    assert figures(a).rows == 1 and figures(b).rows == 2 and figures(b).total_bytes == 20
    assert exact(a) and exact(b)


def test_deleting_items_of_a_mirror_folder_takes_their_rows_off(alice):
    a = DatasetFactory()
    m.FolderMembership.objects.create(folder=a.backing_folder, user=alice, role=0)
    rows = [DataRowFactory(dataset=a) for _ in range(3)]
    dataset_stats.reconcile([a.pk])
    changes.delete_items(Principal(user=alice), str(a.backing_folder.folder_uuid), [str(rows[0].item.item_uuid)])
    assert figures(a).rows == 2 and exact(a)


def test_an_item_changing_size_moves_the_bytes_of_every_dataset_linking_it():
    a, b = DatasetFactory(), DatasetFactory(backing_folder=None)
    row = DataRowFactory(dataset=a, file_size=1000, data_type="VIDEO")
    DataRowFactory(dataset=b, item=row.item)
    dataset_stats.reconcile([a.pk, b.pk])
    m.StorageItem.objects.filter(pk=row.item_id).update(file_size=400)
    dataset_stats.item_resized(row.item_id, 1000, 400)
    assert figures(a).total_bytes == figures(b).total_bytes == 400
    assert figures(a).videos == 1 and exact(a) and exact(b)


def test_the_reconcile_task_fixes_a_drifted_counter_and_leaves_exact_ones():
    a, b = DatasetFactory(), DatasetFactory()
    for _ in range(4):
        DataRowFactory(dataset=a, file_size=5)
    DataRowFactory(dataset=b)
    assert reconcile_dataset_stats_task() == 2  # factories wrote rows behind the counters' back
    m.DatasetStats.objects.filter(dataset=a).update(images=99, videos=-3, total_bytes=1)
    assert reconcile_dataset_stats_task() == 1
    assert exact(a) and exact(b) and figures(a).rows == 4 and figures(a).total_bytes == 20
    assert reconcile_dataset_stats_task() == 0  # twice: the same end state


def test_the_management_command_reconciles(capsys):
    a = DatasetFactory()
    DataRowFactory(dataset=a)
    call_command("reconcile_dataset_stats")
    assert "1 fixed" in capsys.readouterr().out and exact(a)


def test_figures_name_the_kinds_largest_first():
    got = dataset_stats.Figures(videos=1000, images=204)
    assert got.rows == 1204 and got.kinds() == [("videos", 1000), ("images", 204)]


def test_a_private_import_with_metadata_counts_its_bulk_inserted_rows(org_admin, moto_s3, django_capture_on_commit_callbacks):
    dataset = DatasetFactory()
    ds = UserClient.for_user(org_admin).get_dataset(str(dataset.dataset_hash))
    integration = moto_s3.integration(org_admin)
    md = {"mime_type": "image/jpeg", "file_size": 10, "width": 4, "height": 3}
    doc = {"images": [{"objectUrl": f"s3://nowhere/i{i}.jpg", "imageMetadata": md} for i in range(5)]}
    with django_capture_on_commit_callbacks():
        process_hash = ds.add_private_data_to_dataset_start(str(integration.integration_uuid), json.dumps(doc), False)
    assert ds.add_private_data_to_dataset_get_result(process_hash, 0).status == "DONE"
    got = figures(dataset)
    assert (got.images, got.total_bytes) == (5, 50) and exact(dataset)


def test_a_real_reencode_keeps_the_counts_and_moves_the_bytes_to_the_new_file(
    tmp_path, alice, django_capture_on_commit_callbacks
):
    from datasets_app.sdk import reencode_jobs
    from tests.factories import hosted_video_row
    from tests.media.mediagen import make_video

    dataset = DatasetFactory()
    DatasetMembershipFactory(dataset=dataset, user=alice, role=m.DatasetUserRole.ADMIN)
    row = hosted_video_row(dataset, make_video(tmp_path / "v.mp4", frames=24, fps=12))
    dataset_stats.reconcile([dataset.pk])
    before = figures(dataset)
    ds = UserClient.for_user(alice).get_dataset(str(dataset.dataset_hash))
    with django_capture_on_commit_callbacks(execute=False):
        task_id = ds.re_encode_data([str(row.data_hash)])
    assert reencode_jobs.run_reencode(task_id) == "DONE"
    assert reencode_jobs.run_reencode(task_id) == "DONE"  # a redelivery changes nothing
    after = figures(dataset)
    assert after.videos == before.videos == 1 and after.rows == before.rows
    assert after.total_bytes == m.StorageItem.objects.get(pk=row.item_id).file_size != before.total_bytes
    assert exact(dataset)
