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
