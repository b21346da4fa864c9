"""The dashboard's "select all matching" (issue 14): the link carries the filter, the confirm page
says how many and which kinds, and delete / link / re-encode / export act on all of them."""

from __future__ import annotations

import csv
import io

import pytest

from datasets_app import models as m
from datasets_app.sdk import dataset_stats
from tests.conftest import signed_in
from tests.factories import DataRowFactory, DatasetFactory, DatasetMembershipFactory

pytestmark = pytest.mark.django_db


def rows(dataset, n, prefix, data_type="VIDEO", size=100):
    return [DataRowFactory(dataset=dataset, title=f"{prefix}-{i}", data_type=data_type, file_size=size) for i in range(n)]


@pytest.fixture
def filled(dataset):
    rows(dataset, 5, "cat")
    rows(dataset, 2, "cat-still", data_type="IMAGE", size=10)
    rows(dataset, 3, "dog")
    dataset_stats.reconcile([dataset.pk])
    return dataset


def url(dataset, tail=""):
    return f"/datasets/{dataset.dataset_hash}{tail}"


def test_the_table_offers_all_matching_with_the_filter_in_the_link(filled, ds_admin):
    body = signed_in(ds_admin).get(url(filled), {"q": "cat"}).content.decode()
    assert "1–7 of 7" in body
    assert f'href="/datasets/{filled.dataset_hash}/rows/all?q=cat"' in body and "Select all 7 matching" in body


def test_the_confirm_page_says_how_many_and_which_kinds(filled, ds_admin):
    body = signed_in(ds_admin).get(url(filled, "/rows/all"), {"q": "cat"}).content.decode()
    assert "7 rows: 5 videos, 2 images" in body
    assert "Delete 7 rows" in body and "Re-encode 5 videos" in body
    everything = signed_in(ds_admin).get(url(filled, "/rows/all")).content.decode()
    assert "10 rows: 8 videos, 2 images" in everything


def test_a_dataset_user_is_not_offered_delete_and_cannot_post_it(filled, ds_user):
    client = signed_in(ds_user)
    assert "Delete 10 rows" not in client.get(url(filled, "/rows/all")).content.decode()
    response = client.post(url(filled, "/rows/all/apply"), {"action": "delete"})
    assert response.status_code in (403, 404)
    assert m.DataRow.objects.filter(dataset=filled).count() == 10


def test_deleting_all_matching_deletes_every_page_not_just_one(filled, ds_admin):
    response = signed_in(ds_admin).post(url(filled, "/rows/all/apply"), {"action": "delete", "q": "cat"}, follow=True)
    assert "Deleted 7 rows." in response.content.decode()
    assert sorted(m.DataRow.objects.filter(dataset=filled).values_list("item__name", flat=True)) == ["dog-0", "dog-1", "dog-2"]
    assert "1–3 of 3" in response.content.decode()


def test_linking_into_a_mirror_is_refused_saying_why(filled, ds_admin):
    other = DatasetFactory(title="Other mirror")
    DatasetMembershipFactory(dataset=other, user=ds_admin, role=m.DatasetUserRole.ADMIN)
    client = signed_in(ds_admin)
    assert "Other mirror (mirrors a folder: cannot link)" in client.get(url(filled, "/rows/all")).content.decode()
    response = client.post(url(filled, "/rows/all/apply"), {"action": "link", "target": str(other.dataset_hash)})
    assert response.status_code == 400 and "mirrors a folder" in response.content.decode()
    assert not m.DataRow.objects.filter(dataset=other).exists()


def test_linking_into_a_plain_dataset_links_every_matching_item(filled, ds_admin):
    plain = DatasetFactory(title="Training", backing_folder=None)
    DatasetMembershipFactory(dataset=plain, user=ds_admin, role=m.DatasetUserRole.ADMIN)
    m.FolderMembership.objects.create(folder=filled.backing_folder, user=ds_admin, role=0)
    response = signed_in(ds_admin).post(
        url(filled, "/rows/all/apply"), {"action": "link", "q": "dog", "target": str(plain.dataset_hash)}, follow=True
    )
    assert "3 items are in the chosen dataset now." in response.content.decode()
    assert m.DataRow.objects.filter(dataset=plain).count() == 3


def test_reencode_all_matching_videos_opens_the_task(filled, ds_admin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        response = signed_in(ds_admin).post(url(filled, "/rows/all/apply"), {"action": "reencode", "q": "cat"})
    task = m.ReEncodeTask.objects.get(dataset=filled)
    assert response.status_code == 302 and response["Location"].endswith(f"/reencode/{task.pk}")
    assert m.ReEncodeVideo.objects.filter(task=task).count() == 5


def test_export_streams_the_matching_rows(filled, ds_user):
    response = signed_in(ds_user).get(url(filled, "/rows/all/export"), {"format": "csv", "q": "dog"})
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert table[0][:4] == ["data_hash", "title", "type", "size"] and [r[1] for r in table[1:]] == ["dog-0", "dog-1", "dog-2"]
    assert signed_in(ds_user).get(url(filled, "/rows/all/export"), {"format": "xml"}).status_code == 400


def test_the_datasets_list_and_page_show_counts_by_kind_and_bytes_from_the_counters(filled, ds_admin):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = signed_in(ds_admin)
    with CaptureQueriesContext(connection) as ctx:
        body = client.get("/datasets").content.decode()
    assert "8 videos, 2 images" in body and "820\xa0bytes" in body and "folder " in body
    assert not any("COUNT(" in q["sql"].upper() and "datarow" in q["sql"].lower() for q in ctx.captured_queries)
    page = client.get(url(filled)).content.decode()
    assert "10 items: 8 videos, 2 images · 820\xa0bytes" in page


def test_metadata_keys_chosen_in_the_url_become_columns(filled, ds_admin):
    row = m.DataRow.objects.filter(dataset=filled, item__name="dog-1").get()
    m.StorageItem.objects.filter(pk=row.item_id).update(client_metadata={"camera": "front-left", "speed": 31})
    body = signed_in(ds_admin).get(url(filled), {"q": "dog", "col": "camera,speed"}).content.decode()
    assert '<th class="col-meta" title="Metadata key camera">camera</th>' in body
    assert '<td class="col-meta">front-left</td>' in body and '<td class="col-meta">31</td>' in body
    assert 'value="camera,speed"' in body  # the filter form keeps the choice


def test_the_row_page_shows_metadata_as_a_key_value_table(filled, ds_user):
    row = m.DataRow.objects.filter(dataset=filled, item__name="dog-0").get()
    m.StorageItem.objects.filter(pk=row.item_id).update(client_metadata={"weather": "rain", "tags": ["a", "b"]})
    body = signed_in(ds_user).get(url(filled, f"/rows/{row.data_hash}")).content.decode()
    assert "<code>weather</code></th><td class=\"kv-value\">rain</td>" in body
    assert '<td class="kv-value">[&quot;a&quot;, &quot;b&quot;]</td>' in body
    assert "Edit metadata" in body  # a dataset USER may write data


def test_editing_metadata_writes_the_item_so_every_linking_dataset_shows_it(filled, ds_user):
    row = m.DataRow.objects.filter(dataset=filled, item__name="dog-0").get()
    plain = DatasetFactory(backing_folder=None)
    DataRowFactory(dataset=plain, item=row.item)
    client = signed_in(ds_user)
    edit = client.get(url(filled, f"/rows/{row.data_hash}/metadata"), {"edit": "1"}, HTTP_HX_REQUEST="true")
    assert "data-json-editor" in edit.content.decode()
    done = client.post(url(filled, f"/rows/{row.data_hash}/metadata"), {"client_metadata": '{"camera": "rear"}'}, HTTP_HX_REQUEST="true")
    assert done.status_code == 200 and "<code>camera</code>" in done.content.decode()
    assert m.StorageItem.objects.get(pk=row.item_id).client_metadata == {"camera": "rear"}
    assert m.DataRow.objects.get(dataset=plain).client_metadata == {"camera": "rear"}


def test_invalid_metadata_is_refused_with_where_and_nothing_written(filled, ds_user):
    row = m.DataRow.objects.filter(dataset=filled, item__name="dog-0").get()
    client = signed_in(ds_user)
    bad = client.post(url(filled, f"/rows/{row.data_hash}/metadata"), {"client_metadata": '{"camera": }'})
    assert bad.status_code == 400 and "not valid JSON" in bad.content.decode() and "line 1, column 12" in bad.content.decode()
    not_object = client.post(url(filled, f"/rows/{row.data_hash}/metadata"), {"client_metadata": "[1]"}, HTTP_HX_REQUEST="true")
    assert "must be a JSON object" in not_object.content.decode() and 'aria-invalid="true"' in not_object.content.decode()
    assert m.StorageItem.objects.get(pk=row.item_id).client_metadata == {}


def test_someone_without_access_cannot_read_or_write_metadata(filled, stranger):
    row = m.DataRow.objects.filter(dataset=filled, item__name="dog-0").get()
    client = signed_in(stranger)
    assert client.get(url(filled, f"/rows/{row.data_hash}/metadata")).status_code == 404
    assert client.post(url(filled, f"/rows/{row.data_hash}/metadata"), {"client_metadata": "{}"}).status_code == 404
