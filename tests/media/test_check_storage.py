"""check_storage reports orphan files and rows whose file is gone; delete_data removes hosted files."""

from __future__ import annotations

import io

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command

from datasets_app import models as m
from datasets_app.sdk import UserClient
from tests.media.mediagen import make_image


def run_check() -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("check_storage", stdout=out)
        return 0, out.getvalue()
    except SystemExit as exc:
        return exc.code, out.getvalue()


def test_check_storage_reports_orphans_and_missing_files(
    tmp_path, dataset, ds_admin, django_capture_on_commit_callbacks
):
    from datasets_app.sdk import jobs

    ds = UserClient.for_user(ds_admin).get_dataset(str(dataset.dataset_hash))
    with django_capture_on_commit_callbacks(execute=False):
        process_hash = ds.upload_image_start(make_image(tmp_path / "a.jpg"))
    jobs.run_data_job(m.DataJob.objects.get(process_hash=process_hash).pk)
    row = m.DataRow.objects.get(dataset=dataset)
    assert run_check() == (0, "0 orphan file(s), 0 missing file(s)\n")

    default_storage.save("uploads/stray", ContentFile(b"x"))
    default_storage.delete(row.thumbnail_key)
    code, text = run_check()
    assert code == 1
    assert "orphan file (no row): uploads/stray" in text
    assert f"missing thumbnail of item {row.backing_item_uuid}: {row.thumbnail_key}" in text


def test_delete_data_removes_hosted_files_after_commit(
    tmp_path, dataset, ds_admin, django_capture_on_commit_callbacks
):
    from datasets_app.sdk import jobs

    ds = UserClient.for_user(ds_admin).get_dataset(str(dataset.dataset_hash))
    files = [make_image(tmp_path / f"{i}.jpg", color=(i * 60, 0, 0)) for i in range(2)]
    with django_capture_on_commit_callbacks(execute=False):
        process_hash = ds.create_image_group_start(files)
    jobs.run_data_job(m.DataJob.objects.get(process_hash=process_hash).pk)
    row = m.DataRow.objects.get(dataset=dataset)
    keys = [k for mem in row.members.all() for k in (mem.storage_key, mem.thumbnail_key)]
    assert all(default_storage.exists(k) for k in keys)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert ds.delete_data([str(row.data_hash)]) == 1
    assert len(callbacks) == 1  # the deletion task, queued on commit
    # the rows went at once; the files go when the queued task runs (called here, twice: a redelivery)
    from datasets_app.tasks import delete_stored_files_task

    assert not m.DataRow.objects.filter(dataset=dataset).exists()
    assert delete_stored_files_task(keys) == len(keys)
    assert delete_stored_files_task(keys) == 0
    assert not any(default_storage.exists(k) for k in keys)
    assert run_check()[0] == 0
