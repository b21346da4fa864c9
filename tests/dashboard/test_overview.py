"""The Overview page (/overview): organisation admins only (anyone else gets the site's 404), in the
nav for them only; charts as inline SVG with their numbers in text; "nothing yet" when empty."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from datasets_app import models as m
from tests.factories import DataJobFactory, DataJobUnitFactory, DataRowFactory, DatasetFactory, UserFactory

pytestmark = pytest.mark.django_db

# The session, its user, then the SDK's 8 aggregates.
QUERY_BUDGET = 10


def without_csrf(response) -> str:
    """The page without its masked CSRF tokens (different in every response)."""
    return re.sub(
        r'(X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]*"', "", response.content.decode()
    )


def test_overview_link_is_in_the_nav_for_org_admins_only(as_user, org_admin, ds_admin):
    url = reverse("dashboard:overview")
    assert url == "/overview"
    assert f'href="{url}"' in as_user(org_admin).get(reverse("dashboard:account")).content.decode()
    assert f'href="{url}"' not in as_user(ds_admin).get(reverse("dashboard:account")).content.decode()


@pytest.mark.parametrize("persona", ["ds_admin", "ds_user", "stranger"])
def test_anyone_but_an_org_admin_gets_the_sites_404(request, as_user, persona):
    client = as_user(request.getfixturevalue(persona))
    missing = client.get("/no-such-page")
    response = client.get(reverse("dashboard:overview"))
    assert response.status_code == 404
    assert without_csrf(response) == without_csrf(missing)


def test_a_deactivated_org_admin_is_signed_out_or_refused(as_user):
    gone = UserFactory(is_org_admin=True, is_active=False)
    response = as_user(gone).get(reverse("dashboard:overview"))
    assert response.status_code in (302, 404)


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("dashboard:overview"))
    assert response.status_code == 302 and "/login" in response["Location"]


def test_an_empty_organisation_says_nothing_yet_and_draws_no_chart(as_user, org_admin):
    response = as_user(org_admin).get(reverse("dashboard:overview"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Nothing yet" in html
    assert "<svg" not in html


def test_figures_are_drawn_and_written_out(as_user, org_admin):
    alpha = DatasetFactory(title="Alpha")
    beta = DatasetFactory(title="Beta")
    shared = DataRowFactory(dataset=alpha, file_size=3_000_000, media_info={"verdict": "at risk"}).item
    DataRowFactory(dataset=beta, item=shared)
    job = DataJobFactory(dataset=alpha, status="DONE")
    DataJobUnitFactory(job=job, status="ERROR")
    DataJobFactory(dataset=beta, status="ERROR")

    html = as_user(org_admin).get(reverse("dashboard:overview")).content.decode()

    # Four charts, each an image with a title and a description.
    assert html.count('role="img"') == 4
    assert html.count("<title id=") == 4
    for chart in ("chart-storage", "chart-items", "chart-failed", "chart-verdicts"):
        assert f'id="{chart}"' in html
    # Storage: both datasets, the shared item's bytes in each, once in the hosted total; linked.
    assert "Alpha" in html and "Beta" in html
    assert html.count("2.9\xa0MB") >= 3  # Alpha, Beta, the hosted total
    assert reverse("dashboard:dataset-detail", args=[alpha.dataset_hash]) in html
    assert "counted once in each dataset" in html
    # Failed jobs: the numbers, and links to the Jobs page filtered.
    assert "?status=ERROR&amp;since=week" in html
    assert "?status=FAILED_ITEMS&amp;since=week" in html
    assert "1 ended in error" in html and "1 done with failed items" in html
    # Each day's bars link to that day's jobs, one link per status; the day's count as well.
    today = timezone.now().astimezone(dt.timezone.utc).date().isoformat()
    assert html.count(f'href="/jobs?status=ERROR&amp;day={today}"') == 1
    assert html.count(f'href="/jobs?status=FAILED_ITEMS&amp;day={today}"') == 1
    assert html.count(f'href="/jobs?status=FAILED&amp;day={today}"') == 1  # the day's count: both
    # Videos at risk, linked to the datasets that hold them (videos only).
    assert f"{reverse('dashboard:dataset-detail', args=[beta.dataset_hash])}?data_type=VIDEO" in html
    # Numbers for screen readers and anyone who prefers a table.
    assert "<table" in html and "<caption" in html


def test_dataset_titles_are_escaped_in_the_charts(as_user, org_admin):
    DataRowFactory(dataset=DatasetFactory(title='<script>alert("x")</script>'), file_size=10)
    html = as_user(org_admin).get(reverse("dashboard:overview")).content.decode()
    assert '<script>alert("x")' not in html
    assert "&lt;script&gt;" in html


def _organisation(n: int) -> None:
    for _ in range(n):
        ds = DatasetFactory()
        DataRowFactory(dataset=ds, media_info={"verdict": "unknown"})
        DataJobFactory(dataset=ds, status="ERROR")
        m.StorageItem.objects.create(folder=ds.backing_folder, name="x", item_type="IMAGE", file_size=1)


@pytest.mark.parametrize("size", [3, 25])
def test_the_page_takes_a_fixed_number_of_queries(as_user, org_admin, django_assert_max_num_queries, size):
    _organisation(size)
    client = as_user(org_admin)
    with django_assert_max_num_queries(QUERY_BUDGET):
        response = client.get(reverse("dashboard:overview"))
    assert response.status_code == 200
    assert f"{size} ended in error" in response.content.decode()
