from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client


@pytest.fixture(autouse=True)
def clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def as_user(db):
    """as_user(user) -> a test client signed in as that user."""

    def _client(user) -> Client:
        c = Client()
        c.force_login(user)
        return c

    return _client


HX = {"HTTP_HX_REQUEST": "true"}


def jobs_page_rounds(client: Client, rounds, make_jobs) -> tuple[list[int], list[int], int]:
    """For each (users, per_user) round: make_jobs(users, per_user), then the Jobs page whole and
    its FAILED/everyone htmx partial. Returns the queries and the rows of each page, and how many
    jobs per kind were made: what the query-count tests compare across rounds."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    counts, rows, made = [], [], 0
    for users, per_user in rounds:
        make_jobs(users, per_user)
        made += users * per_user
        for params, headers in (({}, {}), ({"status": "FAILED", "whose": "everyone"}, HX)):
            with CaptureQueriesContext(connection) as queries:
                body = client.get(reverse("dashboard:jobs"), params, **headers).content.decode()
            counts.append(len(queries))
            rows.append(body.count("<tr data-kind="))
    return counts, rows, made
