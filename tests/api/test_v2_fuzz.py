"""Fuzz the v2 routes with schemathesis against our own OpenAPI document: no 500s, every status
documented, every response matching its schema. Bounded (few examples per route) to stay fast."""

from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings

from datasets_app.api.v2.openapi import document
from datasets_app.sdk import accounts
from tests.factories import DatasetFactory, UserFactory

# The groups routes are documented as always-405 (not supported), which "valid data must be
# accepted" would flag; test_dataset_groups_are_method_not_allowed covers them.
# Storage re-encoding is documented as always-501 (not supported, storage protocol §8.3), which
# the server-error check would flag; tests/api/test_storage_items.py covers it.
schema = (
    schemathesis.openapi.from_dict(document())
    .exclude(path_regex="/groups$")
    .exclude(path_regex="^/v2/public/storage/items/reencode")
)


@pytest.fixture
def fuzz_headers(transactional_db):
    user = UserFactory()
    # Give the caller something to list, so list responses are not always empty.
    from datasets_app.sdk import UserClient

    UserClient(user).create_dataset("fuzz target", 0, "desc")
    DatasetFactory()
    return {"Authorization": f"Bearer {accounts.issue_bearer_token(user)}"}


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
)
def test_v2_routes_survive_fuzzing(case, live_server, fuzz_headers, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 0
    response = case.call(base_url=live_server.url, headers=fuzz_headers)
    case.validate_response(response)


def test_openapi_document_is_served_and_lists_every_v2_route(live_server, db):
    import requests

    from datasets_app.api import urls

    served = requests.get(f"{live_server.url}/v2/public/openapi.json", timeout=10).json()
    routes = {"/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(p.pattern)) for p in urls.urlpatterns}
    documented = set(served["paths"])
    v2_routes = {r for r in routes if r.startswith("/v2/public/") and "(?P" not in r and "openapi" not in r}
    assert v2_routes <= documented, v2_routes - documented
