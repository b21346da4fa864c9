"""Dataset settings and deletion (ADMIN), inline row rename (HTMX), deleting selected rows."""

from __future__ import annotations

import pytest
from django.urls import reverse

from datasets_app import models as m
from tests.factories import DataRowFactory

from .conftest import HX

pytestmark = pytest.mark.django_db


def url(name, dataset, *args):
    return reverse(f"dashboard:{name}", args=[dataset.dataset_hash, *args])


@pytest.mark.parametrize(
    "persona,status", [("org_admin", 200), ("ds_admin", 200), ("ds_user", 404), ("stranger", 404)]
)
def test_dataset_settings_only_for_admins(request, as_user, dataset, persona, status):
    c = as_user(request.getfixturevalue(persona))
    assert c.get(url("dataset-settings", dataset)).status_code == status
    assert c.get(url("dataset-delete", dataset)).status_code == status
    assert c.post(url("dataset-delete", dataset), {"confirm_title": dataset.title}).status_code in (status, 302)
    assert m.Dataset.objects.filter(pk=dataset.pk).exists() == (status == 404)


def test_dataset_settings_renames(as_user, dataset, ds_admin):
    c = as_user(ds_admin)
    response = c.post(url("dataset-settings", dataset), {"title": "Renamed", "description": "new words"})
    assert response.status_code == 302
    dataset.refresh_from_db()
    assert (dataset.title, dataset.description) == ("Renamed", "new words")
    assert "Dataset settings saved." in c.get(response["Location"]).content.decode()


def test_dataset_settings_shows_error_next_to_title(as_user, dataset, ds_admin):
    response = as_user(ds_admin).post(url("dataset-settings", dataset), {"title": "   ", "description": ""})
    assert response.status_code == 200
    assert 'id="id_title_error"' in response.content.decode()


def test_dataset_delete_confirms_then_deletes(as_user, dataset, ds_admin):
    c = as_user(ds_admin)
    page = c.get(url("dataset-delete", dataset)).content.decode()
    assert "cannot be undone" in page and 'method="post"' in page and 'name="confirm_title"' in page
    response = c.post(url("dataset-delete", dataset), {"confirm_title": f"  {dataset.title} "})
    assert response.status_code == 302 and response["Location"] == reverse("dashboard:dataset-list")
    assert not m.Dataset.objects.filter(pk=dataset.pk).exists()


@pytest.mark.parametrize("typed", [None, "", "wrong title", "__TITLE__x", "__UPPER__"])
def test_dataset_delete_refuses_without_its_title(as_user, dataset, ds_admin, typed):
    """One click no longer deletes: the title must be typed (as GitHub asks for a repository's name)."""
    dataset.title = "Street scenes"
    dataset.save()
    typed = {"__TITLE__x": dataset.title + "x", "__UPPER__": dataset.title.upper()}.get(typed, typed)
    data = {} if typed is None else {"confirm_title": typed}
    response = as_user(ds_admin).post(url("dataset-delete", dataset), data)
    assert response.status_code == 200  # the form again, its error next to the field
    body = response.content.decode()
    assert 'id="id_confirm_title_error"' in body and "Type the dataset’s title" in body
    assert m.Dataset.objects.filter(pk=dataset.pk).exists()


def test_dataset_create_form_says_what_storage_location_means(as_user, ds_admin):
    body = as_user(ds_admin).get(reverse("dashboard:dataset-create")).content.decode()
    assert "id_storage_location_help" in body and "Import from cloud" in body


@pytest.mark.parametrize("location,noted", [(m.StorageLocation.AWS, True), (m.StorageLocation.CORD_STORAGE, False)])
def test_cloud_storage_location_is_explained_on_data_and_upload_tabs(as_user, dataset, ds_admin, location, noted):
    dataset.storage_location = location
    dataset.save()
    c = as_user(ds_admin)
    for name in ("dataset-detail", "upload"):
        body = c.get(url(name, dataset)).content.decode()
        assert ('id="storage-note"' in body) == noted, name
        if noted:
            assert "stored on this server" in body and url("private-data-import", dataset) in body


def test_user_sees_no_admin_tabs_admin_does(as_user, dataset, ds_user, ds_admin):
    user_page = as_user(ds_user).get(url("dataset-detail", dataset)).content.decode()
    admin_page = as_user(ds_admin).get(url("dataset-detail", dataset)).content.decode()
    for target in ("members", "api-keys", "dataset-settings"):
        assert url(target, dataset) not in user_page
        assert url(target, dataset) in admin_page


def test_inline_rename_round_trip_with_htmx(as_user, dataset, ds_user):
    row = DataRowFactory(dataset=dataset, title="old.mp4")
    c = as_user(ds_user)
    form = c.get(url("data-row-rename", dataset, row.data_hash), **HX)
    assert form.status_code == 200
    body = form.content.decode()
    assert body.lstrip().startswith(f'<tr id="row-{row.data_hash}"') and 'name="title"' in body
    saved = c.post(url("data-row-rename", dataset, row.data_hash), {"title": "new.mp4"}, **HX)
    assert (
        saved.status_code == 200
        and "new.mp4" in saved.content.decode()
        and 'name="title"' not in saved.content.decode()
    )
    row.refresh_from_db()
    assert row.title == "new.mp4"
    # cancelling asks for the plain row
    plain = c.get(url("data-row", dataset, row.data_hash), **HX).content.decode()
    assert plain.lstrip().startswith("<tr") and "new.mp4" in plain


def test_inline_rename_error_stays_in_the_row(as_user, dataset, ds_user):
    row = DataRowFactory(dataset=dataset, title="old.mp4")
    response = as_user(ds_user).post(url("data-row-rename", dataset, row.data_hash), {"title": ""}, **HX)
    assert response.status_code == 200
    assert "field-error" in response.content.decode()
    row.refresh_from_db()
    assert row.title == "old.mp4"


def test_rename_without_js_is_a_page_and_redirects(as_user, dataset, ds_user):
    row = DataRowFactory(dataset=dataset, title="old.mp4")
    c = as_user(ds_user)
    assert "<html" in c.get(url("data-row-rename", dataset, row.data_hash)).content.decode()
    too_long = c.post(url("data-row-rename", dataset, row.data_hash), {"title": "x" * 2000})
    assert too_long.status_code == 200 and "field-error" in too_long.content.decode()
    response = c.post(url("data-row-rename", dataset, row.data_hash), {"title": "plain.mp4"})
    assert response.status_code == 302


def test_rename_is_404_for_strangers_and_other_datasets_rows(as_user, dataset, ds_admin, stranger):
    row = DataRowFactory(dataset=dataset)
    other = DataRowFactory()
    assert as_user(stranger).get(url("data-row-rename", dataset, row.data_hash)).status_code == 404
    assert as_user(ds_admin).get(url("data-row-rename", dataset, other.data_hash)).status_code == 404
    assert (
        as_user(ds_admin).get(f"/datasets/{dataset.dataset_hash}/rows/not-a-hash/rename").status_code == 404
    )


def test_delete_selected_rows_confirms_then_deletes_only_this_datasets(as_user, dataset, ds_admin):
    rows = DataRowFactory.create_batch(3, dataset=dataset)
    foreign = DataRowFactory()
    c = as_user(ds_admin)
    chosen = [str(rows[0].data_hash), str(rows[1].data_hash), str(foreign.data_hash)]
    confirm = c.get(url("data-rows-delete", dataset), {"data_hash": chosen})
    assert confirm.status_code == 200
    text = confirm.content.decode()
    assert rows[0].title in text and rows[1].title in text and foreign.title not in text
    assert m.DataRow.objects.filter(dataset=dataset).count() == 3
    done = c.post(url("data-rows-delete", dataset), {"data_hash": chosen})
    assert done.status_code == 302
    assert list(m.DataRow.objects.filter(dataset=dataset)) == [rows[2]]
    assert m.DataRow.objects.filter(pk=foreign.pk).exists()
    assert "Deleted 2 data items." in c.get(done["Location"]).content.decode()


def test_delete_selection_errors_are_messages_not_500(as_user, dataset, ds_admin):
    c = as_user(ds_admin)
    for params in ({}, {"data_hash": ["nonsense"]}):
        response = c.get(url("data-rows-delete", dataset), params)
        assert response.status_code == 302
    page = c.get(url("data-rows-delete", dataset), {"data_hash": ["nonsense"]}, follow=True).content.decode()
    assert "unknown item" in page


def test_user_cannot_delete_rows(as_user, dataset, ds_user):
    row = DataRowFactory(dataset=dataset)
    c = as_user(ds_user)
    assert c.get(url("data-rows-delete", dataset), {"data_hash": [str(row.data_hash)]}).status_code == 404
    assert c.post(url("data-rows-delete", dataset), {"data_hash": [str(row.data_hash)]}).status_code == 404
    assert m.DataRow.objects.filter(pk=row.pk).exists()
    assert "Delete…" not in c.get(url("dataset-detail", dataset)).content.decode()


def test_data_row_page(as_user, dataset, ds_user):
    row = DataRowFactory(dataset=dataset, title="clip.mp4")
    page = as_user(ds_user).get(url("data-row", dataset, row.data_hash))
    assert (
        page.status_code == 200 and "clip.mp4" in page.content.decode() and "<html" in page.content.decode()
    )
    assert page["Vary"] and "HX-Request" in page["Vary"]


@pytest.mark.parametrize("count", [3, 30])
def test_dataset_page_queries_are_constant(as_user, dataset, ds_admin, count, django_assert_max_num_queries):
    DataRowFactory.create_batch(count, dataset=dataset)
    c = as_user(ds_admin)
    with django_assert_max_num_queries(8):
        response = c.get(url("dataset-detail", dataset))
    assert response.content.decode().count('name="data_hash"') == count
