"""dashboard/errors.py: one map from SDK errors to pages, and pages that ask the policy once."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dashboard.errors import status_for
from datasets_app.sdk import exceptions as exc
from tests.factories import DataRowFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "error,status",
    [
        (exc.ResourceNotFoundError("gone"), 404),
        (exc.AuthorisationError("not yours"), 404),
        (exc.OperationNotAllowed(), 404),
        (exc.AuthenticationError("who?"), 401),
        (exc.InvalidArgumentError("bad", field="title"), 400),
    ],
)
def test_each_sdk_error_has_one_status(error, status):
    assert status_for(error) == status


def test_a_member_refused_a_page_gets_the_same_not_found_page_as_a_stranger(as_user, dataset, ds_user, stranger):
    page = reverse("dashboard:dataset-settings", args=[dataset.dataset_hash])
    refused, unknown = as_user(ds_user).get(page), as_user(stranger).get(page)
    assert refused.status_code == unknown.status_code == 404
    for response in (refused, unknown):  # the same not-found page, which never says why
        assert "does not exist, or you do not have access to it" in response.content.decode()
    assert b"Your role" not in refused.content


def _permission_queries(ctx) -> int:
    """Reads of the dataset with the asking user's membership role: the policy's one query."""
    return sum(
        1
        for q in ctx.captured_queries
        if q["sql"].startswith('SELECT "datasets_app_dataset"') and "datasets_app_datasetmembership" in q["sql"]
    )


@pytest.mark.parametrize(
    "name,data",
    [
        ("dataset-settings", {"title": "Renamed", "description": ""}),
        ("api-keys", {"title": "CI", "scopes": ["dataset.read"]}),
        ("upload-start", {"file_name": "a.png", "size": "3", "mode": "images"}),
    ],
)
def test_a_post_asks_the_policy_once_in_the_view_and_once_in_the_sdk(as_user, dataset, ds_admin, name, data):
    client = as_user(ds_admin)
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(reverse(f"dashboard:{name}", args=[dataset.dataset_hash]), data)
    assert response.status_code in (200, 201, 302)
    assert _permission_queries(ctx) == 2


def test_renaming_a_row_asks_the_policy_once_per_step(as_user, dataset, ds_admin):
    row = DataRowFactory(dataset=dataset)
    url = reverse("dashboard:data-row-rename", args=[dataset.dataset_hash, row.data_hash])
    with CaptureQueriesContext(connection) as ctx:
        response = as_user(ds_admin).post(url, {"title": "Renamed"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Renamed" in response.content.decode()
    assert _permission_queries(ctx) == 3  # open, the SDK's rename, the renamed row read back
