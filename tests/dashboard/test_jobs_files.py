"""The Jobs page lists Files jobs: uploads and private imports into a folder (DataJob with no
dataset) and storage re-encodes (ReEncodeTask with no dataset). A folder job is listed for its
starter while they may read its folder and, under "everyone", for whoever may manage the folder
(its ADMINs, inherited from ancestors, and organisation admins); a storage re-encode for its
starter and, under "everyone", organisation admins. Neither offers a retry; their links open pages
that exist; the filters apply to them; the page's queries do not grow with them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from datasets_app import models as m
from datasets_app.sdk.folder_access import folders_where
from datasets_app.sdk.policy import Op, Principal
from tests.factories import (
    DataJobFactory,
    DataJobUnitFactory,
    DatasetFactory,
    ReEncodeTaskFactory,
    StorageFolderFactory,
    StorageItemFactory,
    UserFactory,
)

from .conftest import HX, jobs_page_rounds

ADMIN, USER = m.DatasetUserRole.ADMIN, m.DatasetUserRole.USER


def share(folder, user, role):
    m.FolderMembership.objects.create(folder=folder, user=user, role=role)


def folder_job(folder, user, **kw):
    """A Files upload (or, with kind=private, an import) into `folder`, one unit failed."""
    kw.setdefault("status", "DONE")
    job = DataJobFactory(dataset=None, folder=folder, created_by=user, units_total=2, ignore_errors=True, **kw)
    DataJobUnitFactory(job=job, status="DONE")
    DataJobUnitFactory(job=job, status="ERROR", error="bad.png: not an image")
    return job


def storage_reencode(user, *items, title="nightly fix", status="DONE"):
    task = ReEncodeTaskFactory(dataset=None, created_by=user, title=title, status=status)
    for item in items:
        m.ReEncodeVideo.objects.create(task=task, item=item, item_uuid=item.item_uuid, status=status)
    return task


def shown(body, job):
    if isinstance(job, m.DataJob):
        return str(job.process_hash)[:8] in body
    if job.dataset_id is None:
        return str(job.process_uuid)[:8] in body
    return f"Re-encode #{job.pk}<" in body


@pytest.fixture
def files(db):
    """Alice uploads into Top/Inner (shared with her as USER); Carol administers Top (so Inner by
    inheritance); Dave is a USER of Top; Erin a stranger. Alice also re-encodes an item of Inner."""
    alice = UserFactory(email="alice@example.com")
    carol = UserFactory(email="carol@example.com")
    dave = UserFactory(email="dave@example.com")
    erin = UserFactory(email="erin@example.com")
    top = StorageFolderFactory(name="Top")
    inner = StorageFolderFactory(name="Inner folder", parent=top)
    share(inner, alice, USER)
    share(top, carol, ADMIN)
    share(top, dave, USER)
    item = StorageItemFactory(folder=inner)
    return {
        "alice": alice, "carol": carol, "dave": dave, "erin": erin, "top": top, "inner": inner,
        "upload": folder_job(inner, alice),
        "import": DataJobFactory(dataset=None, folder=inner, created_by=alice, units_total=1,
                                 kind=m.DataJob.KIND_PRIVATE, status="PENDING"),
        "reencode": storage_reencode(alice, item),
    }


def page(client, **params):
    response = client.get(reverse("dashboard:jobs"), params)
    assert response.status_code == 200
    return response.content.decode()


def test_the_starter_lists_their_folder_jobs_and_storage_reencode_with_links_that_open(as_user, files):
    c = as_user(files["alice"])
    body = page(c)
    assert all(shown(body, files[k]) for k in ("upload", "import", "reencode"))
    assert "<th>Where</th>" in body and "<th>Dataset</th>" not in body
    folder_url = reverse("dashboard:folder", args=[files["inner"].folder_uuid])
    assert f'href="{folder_url}">Inner folder</a>' in body
    for key in ("upload", "import"):
        job_url = reverse("dashboard:folder-upload-job", args=[files["inner"].folder_uuid, files[key].process_hash])
        assert f'href="{job_url}"' in body
        assert c.get(job_url).status_code == 200
    assert c.get(folder_url).status_code == 200
    # a storage re-encode has no page: named plainly, with its title, in Files
    assert "nightly fix" in body and "/reencode/" not in body
    assert f'href="{reverse("dashboard:files")}">Files</a>' in body and c.get(reverse("dashboard:files")).status_code == 200
    # no retry for Files jobs, though the upload has a failed item
    assert "Done, 1 failed" in body and "Retry" not in body
    # nobody else's jobs to see: no Whose, no Started by
    assert 'name="whose"' not in body and "Started by" not in body


def test_a_folder_admin_sees_anothers_folder_job_under_everyone_only(as_user, files):
    c = as_user(files["carol"])  # ADMIN of Top, so of Inner
    body = page(c)
    assert shown(body, files["upload"]) and shown(body, files["import"])
    assert not shown(body, files["reencode"])  # storage re-encodes: starter and org admins only
    assert "<th>Started by</th>" in body and "alice@example.com" in body
    assert '<option value="everyone" selected>Everyone</option>' in body
    job_url = reverse("dashboard:folder-upload-job", args=[files["inner"].folder_uuid, files["upload"].process_hash])
    assert f'href="{job_url}"' not in body  # the job's page is its starter's
    folder_url = reverse("dashboard:folder", args=[files["inner"].folder_uuid])
    assert f'href="{folder_url}"' in body and c.get(folder_url).status_code == 200
    assert "Retry" not in body
    mine = page(c, whose="mine")
    assert not shown(mine, files["upload"]) and not shown(mine, files["import"])


def test_folder_users_and_strangers_see_nothing_of_others(as_user, files):
    for who in ("dave", "erin"):  # a USER of the parent folder; nobody
        body = page(as_user(files[who]))
        assert not any(shown(body, files[k]) for k in ("upload", "import", "reencode")), who
        assert "No jobs yet." in body


def test_the_starter_no_longer_sees_a_folder_job_once_the_folder_is_not_theirs(as_user, files):
    m.FolderMembership.objects.filter(user=files["alice"]).delete()
    body = page(as_user(files["alice"]))
    assert not shown(body, files["upload"]) and not shown(body, files["import"])
    assert shown(body, files["reencode"])  # a storage re-encode stays its starter's


def test_an_owner_and_a_mirrored_datasets_admin_manage_by_inheritance(as_user, files):
    owner = UserFactory()
    m.StorageFolder.objects.filter(pk=files["top"].pk).update(owner=owner)
    body = page(as_user(owner))
    assert shown(body, files["upload"]) and "alice@example.com" in body
    mirror = DatasetFactory(title="Mirror")
    m.StorageFolder.objects.filter(pk=files["top"].pk).update(parent=mirror.backing_folder)
    ds_admin = UserFactory()
    m.DatasetMembership.objects.create(dataset=mirror, user=ds_admin, role=ADMIN)
    assert shown(page(as_user(ds_admin)), files["upload"])


def test_org_admin_sees_every_files_job_and_storage_reencode(as_user, org_admin, files):
    c = as_user(org_admin)
    body = page(c)
    assert all(shown(body, files[k]) for k in ("upload", "import", "reencode"))
    assert "Retry" not in body
    assert c.get(reverse("dashboard:folder", args=[files["inner"].folder_uuid])).status_code == 200
    own = storage_reencode(org_admin, StorageItemFactory(folder=files["top"]), title="")
    mine = page(c, whose="mine")
    assert shown(mine, own) and not any(shown(mine, files[k]) for k in ("upload", "import", "reencode"))


def test_filters_apply_to_files_jobs(as_user, org_admin, files, dataset):
    c = as_user(org_admin)
    ds_job = DataJobFactory(dataset=dataset, created_by=files["alice"], units_total=1, status="DONE")
    old = folder_job(files["top"], files["carol"], status="ERROR", message="old")
    m.DataJob.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=3))
    names = ("upload", "import", "reencode")

    def listed(**params):
        body = page(c, **params)
        return {k for k in names if shown(body, files[k])} | ({"old"} if shown(body, old) else set()) | (
            {"ds"} if shown(body, ds_job) else set()
        )

    assert listed() == {"upload", "import", "reencode", "old", "ds"}
    assert listed(kind="upload") == {"upload", "old", "ds"}
    assert listed(kind="import") == {"import"}
    assert listed(kind="re-encode") == {"reencode"}
    assert listed(status="PENDING") == {"import"}
    assert listed(status="FAILED_ITEMS") == {"upload"}
    assert listed(status="FAILED") == {"upload", "old"}
    assert listed(status="DONE") == {"upload", "reencode", "ds"}
    assert listed(since="day") == {"upload", "import", "reencode", "ds"}
    old_day = m.DataJob.objects.get(pk=old.pk).created_at.astimezone(dt.timezone.utc).date().isoformat()
    assert listed(day=old_day) == {"old"}
    assert listed(dataset=str(dataset.dataset_hash)) == {"ds"}
    # the dataset filter offers datasets only, and the page stands with Files jobs in it
    body = page(c)
    assert f'<option value="{dataset.dataset_hash}">' in body and f'value="{files["inner"].folder_uuid}"' not in body
    rows = c.get(reverse("dashboard:jobs"), {"kind": "import"}, **HX).content.decode()
    assert rows.startswith('<section id="job-rows"') and shown(rows, files["import"])


def _many_files_jobs(users: int, per_user: int, admin) -> None:
    for _ in range(users):
        user = UserFactory()
        parent = StorageFolderFactory()
        folder = StorageFolderFactory(parent=parent)
        share(folder, user, USER)
        share(parent, admin, ADMIN)
        for _ in range(per_user):
            folder_job(folder, user)
            DataJobFactory(dataset=None, folder=folder, created_by=user, units_total=1, status="PENDING")
            storage_reencode(user, StorageItemFactory(folder=folder), status="SUBMITTED")


@pytest.mark.parametrize("who", ["org_admin", "folder_admin"])
def test_query_count_does_not_grow_with_files_jobs(as_user, org_admin, who):
    viewer = org_admin if who == "org_admin" else UserFactory()
    counts, rows, made = jobs_page_rounds(
        as_user(viewer), ((2, 1), (10, 3)), lambda users, per_user: _many_files_jobs(users, per_user, viewer)
    )
    per_job = 3 if who == "org_admin" else 2  # storage re-encodes: their starters and org admins only
    assert rows == [per_job * 2, 2, per_job * made, made]
    # session, user, data jobs, re-encodes, waiting queues (2), retryable, whose; + dataset choices
    assert counts[:2] == counts[2:] and max(counts) <= 9, counts


def test_folders_where_follows_inheritance_in_one_query(django_assert_num_queries, org_admin):
    user = UserFactory()
    top = StorageFolderFactory(name="top")
    middle = StorageFolderFactory(name="middle", parent=top)
    bottom = StorageFolderFactory(name="bottom", parent=middle)
    side = StorageFolderFactory(name="side")
    side_child = StorageFolderFactory(name="side child", parent=side)
    owned = StorageFolderFactory(name="owned", owner=user)
    owned_child = StorageFolderFactory(name="owned child", parent=owned)
    mirror = DatasetFactory(title="mirrored")
    mirror_child = StorageFolderFactory(name="mirror child", parent=mirror.backing_folder)
    share(middle, user, ADMIN)
    share(side, user, USER)
    m.DatasetMembership.objects.create(dataset=mirror, user=user, role=USER)
    me = Principal(user=user)

    def names(op):
        with django_assert_num_queries(1):
            return set(folders_where(me, op).values_list("name", flat=True))

    readable = {"middle", "bottom", "side", "side child", "owned", "owned child", "mirrored", "mirror child"}
    managed = {"middle", "bottom", "owned", "owned child"}
    assert names(Op.READ_FILES) == names(Op.WRITE_FILES) == readable
    assert names(Op.MANAGE_FILES) == managed
    everything = set(m.StorageFolder.objects.values_list("name", flat=True))
    with django_assert_num_queries(1):
        assert set(folders_where(Principal(user=org_admin), Op.MANAGE_FILES).values_list("name", flat=True)) == everything
    user.is_active = False
    assert not folders_where(Principal(user=user), Op.READ_FILES).exists()
    with pytest.raises(ValueError):
        folders_where(me, Op.READ)
    assert {top.name, bottom.name} <= everything
