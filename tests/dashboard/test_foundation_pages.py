"""The first pages: sign in, datasets list with HTMX filters, create, dataset page."""

from __future__ import annotations

import datetime as dt

import pytest

from datasets_app import models as m
from tests.factories import DataRowFactory, DatasetFactory, DatasetMembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(dataset, ds_user):
    return ds_user


@pytest.fixture
def signed_in(client, member):
    client.force_login(member)
    return client


def test_pages_require_sign_in(client, dataset):
    for url in ("/datasets", "/datasets/new", f"/datasets/{dataset.dataset_hash}"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login")


def test_sign_in_with_email_and_password(client):
    UserFactory(email="sign@example.com")
    page = client.get("/login")
    assert page.status_code == 200 and b"Sign in" in page.content
    bad = client.post("/login", {"username": "sign@example.com", "password": "wrong"})
    assert bad.status_code in (200, 400) and b"form-error" in bad.content
    good = client.post("/login", {"username": "sign@example.com", "password": "correct horse battery"})
    assert good.status_code == 302 and good["Location"] == "/datasets"


def test_dataset_list_shows_role_badges_and_only_visible_datasets(signed_in, dataset, member):
    DatasetFactory(title="Hidden from member")
    response = signed_in.get("/datasets")
    body = response.content.decode()
    assert dataset.title in body and "Hidden from member" not in body
    assert "badge-user" in body
    assert response["Vary"].count("HX-Request") == 1


def test_dataset_list_filters_as_partial_and_full_page(signed_in, member):
    for title in ("Night cars", "Day boats"):
        ds = DatasetFactory(title=title)
        DatasetMembershipFactory(dataset=ds, user=member, role=m.DatasetUserRole.ADMIN)
    partial = signed_in.get("/datasets?q=cars", headers={"HX-Request": "true"})
    body = partial.content.decode()
    assert body.lstrip().startswith('<section id="dataset-rows"') and "<html" not in body
    assert "Night cars" in body and "Day boats" not in body
    full = signed_in.get("/datasets?q=cars").content.decode()
    assert "<html" in full and "Night cars" in full and "Day boats" not in full
    # the user's own % is literal, not a wildcard
    assert "Night cars" not in signed_in.get("/datasets?q=%25", headers={"HX-Request": "true"}).content.decode()
    assert "No dataset matches" in signed_in.get("/datasets?q=zzz").content.decode()


def test_dataset_list_created_range_is_inclusive_of_days(signed_in, member):
    ds = DatasetFactory(title="Dated")
    DatasetMembershipFactory(dataset=ds, user=member, role=m.DatasetUserRole.ADMIN)
    m.Dataset.objects.filter(pk=ds.pk).update(created_at=dt.datetime(2024, 3, 5, 12, tzinfo=dt.timezone.utc))
    assert "Dated" in signed_in.get("/datasets?created_after=2024-03-05&created_before=2024-03-05").content.decode()
    assert "Dated" not in signed_in.get("/datasets?created_after=2024-03-06").content.decode()
    # a malformed date is ignored, not a 500
    assert signed_in.get("/datasets?created_after=not-a-date").status_code == 200


def test_dataset_list_query_count_is_constant(signed_in, member, django_assert_max_num_queries):
    def make(n):
        for _ in range(n):
            DatasetMembershipFactory(user=member, role=m.DatasetUserRole.USER)

    make(3)
    with django_assert_max_num_queries(8) as small:
        signed_in.get("/datasets")
    make(30)
    with django_assert_max_num_queries(len(small.captured_queries)):
        signed_in.get("/datasets")


def test_only_organisation_admins_get_the_whole_organisation_filter(client, member, org_admin):
    client.force_login(member)
    assert "Whole organisation" not in client.get("/datasets").content.decode()
    client.force_login(org_admin)
    assert "Whole organisation" in client.get("/datasets").content.decode()


def test_create_dataset_form(signed_in, member):
    response = signed_in.post("/datasets/new", {"title": "Fresh", "description": "d", "storage_location": "0"})
    ds = m.Dataset.objects.get(title="Fresh")
    assert response.status_code == 302 and response["Location"] == f"/datasets/{ds.dataset_hash}"
    assert ds.memberships.get().user == member


@pytest.mark.parametrize(
    "data", [{"title": "", "storage_location": "0"}, {"title": "x" * 5000, "storage_location": "0"}, {"title": "t", "storage_location": "9"}]
)
def test_create_dataset_form_shows_errors(signed_in, data):
    before = m.Dataset.objects.count()
    response = signed_in.post("/datasets/new", data)
    assert response.status_code == 200 and b"field-error" in response.content
    assert m.Dataset.objects.count() == before


def test_dataset_page_lists_rows_and_filters(signed_in, dataset):
    DataRowFactory(dataset=dataset, title="clip.mp4")
    DataRowFactory(dataset=dataset, title="group", data_type=m.DataType.IMG_GROUP)
    body = signed_in.get(f"/datasets/{dataset.dataset_hash}").content.decode()
    assert "clip.mp4" in body and "group" in body and "640×480" in body
    partial = signed_in.get(f"/datasets/{dataset.dataset_hash}?data_type=IMG_GROUP", headers={"HX-Request": "true"}).content.decode()
    assert "group" in partial and "clip.mp4" not in partial and "<html" not in partial


def test_dataset_page_is_404_for_strangers_missing_and_malformed(client, dataset):
    client.force_login(UserFactory())
    assert client.get(f"/datasets/{dataset.dataset_hash}").status_code == 404
    assert client.get("/datasets/00000000-0000-4000-8000-000000000000").status_code == 404
    assert client.get("/datasets/not-a-uuid").status_code in (400, 404)


def test_dataset_page_query_count_is_constant(signed_in, dataset, django_assert_max_num_queries):
    DataRowFactory.create_batch(3, dataset=dataset)
    with django_assert_max_num_queries(10) as small:
        signed_in.get(f"/datasets/{dataset.dataset_hash}")
    DataRowFactory.create_batch(30, dataset=dataset)
    with django_assert_max_num_queries(len(small.captured_queries)):
        signed_in.get(f"/datasets/{dataset.dataset_hash}")


def test_dataset_page_paginates_by_keyset_without_count(signed_in, dataset, django_assert_max_num_queries):
    from dashboard.views import dataset as dataset_view

    rows = DataRowFactory.create_batch(dataset_view.PAGE_SIZE + 5, dataset=dataset)
    first = signed_in.get(f"/datasets/{dataset.dataset_hash}").content.decode()
    assert rows[0].title in first and rows[-1].title not in first
    import re

    [next_href] = re.findall(r'href="\?(after=[^"]+)"', first)
    second = signed_in.get(f"/datasets/{dataset.dataset_hash}?{next_href.replace('&amp;', '&')}")
    body = second.content.decode()
    assert rows[-1].title in body and rows[0].title not in body and "First page" in body
    # a tampered cursor starts again from the first page instead of failing
    assert rows[0].title in signed_in.get(f"/datasets/{dataset.dataset_hash}?after=garbage").content.decode()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        signed_in.get(f"/datasets/{dataset.dataset_hash}?{next_href.replace('&amp;', '&')}")
    assert not any("COUNT(" in q["sql"].upper() and "datarow" in q["sql"].lower() for q in ctx.captured_queries)
