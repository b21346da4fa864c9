"""Fuzz the v2 routes with schemathesis against our own OpenAPI document: no 500s, every status
documented, every response matching its schema. Bounded (few examples per route) to stay fast."""

from __future__ import annotations

import os
import re
from types import SimpleNamespace

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from datasets_app.api.v2.openapi import document
from datasets_app.sdk import UserClient, accounts, storage_folders
from tests.factories import DatasetFactory, UserFactory

# One rule for routes this server declines by design (dataset groups: 405; migrate-storage: 501):
# a refusal status the operation DOCUMENTS is a valid answer, so the two checks that read it as a
# fault (5xx = server error; "valid data must be accepted") are skipped for that answer only. Every
# other check still runs: the status must be documented and the body must match its schema. An
# undocumented 405/501, or any 500, still fails.
DOCUMENTED_REFUSALS = {405, 501}
# Storage re-encode (protocol §7) answers unknown or hidden items, and an unknown process, with a
# 400 naming them: a well-formed request of made-up uuids is refused there, not accepted.
UNKNOWN_IS_400 = {"/v2/public/storage/items/reencode", "/v2/public/storage/items/reencode/{process_uuid}"}
schema = schemathesis.openapi.from_dict(document())


def checks_not_applying(case, response) -> list:
    documented = case.operation.definition.raw.get("responses", {})
    if response.status_code in DOCUMENTED_REFUSALS and str(response.status_code) in documented:
        return [not_a_server_error, positive_data_acceptance]
    if response.status_code == 400 and case.operation.path in UNKNOWN_IS_400:
        return [positive_data_acceptance]
    return []


def test_only_a_documented_refusal_skips_the_fault_checks():
    migrate = schema["/v2/public/storage/items/migrate-storage"]["POST"].Case(body={})
    get_folder = schema["/v2/public/storage/folders/{folder_uuid}"]["GET"].Case(
        path_parameters={"folder_uuid": "00000000-0000-4000-8000-000000000000"}
    )
    assert checks_not_applying(migrate, SimpleNamespace(status_code=501)) == [
        not_a_server_error,
        positive_data_acceptance,
    ]
    assert checks_not_applying(migrate, SimpleNamespace(status_code=500)) == []
    assert checks_not_applying(get_folder, SimpleNamespace(status_code=501)) == []
    assert checks_not_applying(get_folder, SimpleNamespace(status_code=405)) == []


@pytest.fixture
def fuzz_user(transactional_db):
    user = UserFactory()
    # Give the caller something to list, so list responses are not always empty.
    UserClient(user).create_dataset("fuzz target", 0, "desc")
    DatasetFactory()
    return user


@pytest.fixture
def fuzz_headers(fuzz_user):
    return {"Authorization": f"Bearer {accounts.issue_bearer_token(fuzz_user)}"}


@schema.parametrize()
@settings(
    # FUZZ_EXAMPLES=100 for a deeper run while changing a route; 15 keeps the suite fast.
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "15")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
)
def test_v2_routes_survive_fuzzing(case, live_server, fuzz_headers, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 0
    response = case.call(base_url=live_server.url, headers=fuzz_headers)
    case.validate_response(response, excluded_checks=checks_not_applying(case, response))


# The Files upload routes again, in a folder the caller may write (random folder uuids only reach
# the 403). Every check runs, except that a well-formed job start may still be refused with its
# documented 400: its placeholders were never issued, or its integration does not exist.
UPLOAD_START = "/v2/public/storage/folders/{folder_uuid}/data-upload-jobs"


@pytest.fixture
def writable_folder(fuzz_user, settings):
    settings.UPLOAD_MAX_OPEN_SLOTS = 0
    return str(storage_folders.create_storage_folder(UserClient(fuzz_user).principal, "fuzz uploads").uuid)


@schema.include(path_regex=r"/upload-signed-urls$|/data-upload-jobs").parametrize()
@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "15")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
)
def test_upload_routes_survive_fuzzing_in_a_writable_folder(case, live_server, fuzz_headers, writable_folder, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 0
    case.path_parameters = {**case.path_parameters, "folder_uuid": writable_folder}
    response = case.call(base_url=live_server.url, headers=fuzz_headers)
    excluded = checks_not_applying(case, response)
    if not any(case.meta.is_negative_at(where) for where in (ParameterLocation.BODY, ParameterLocation.QUERY)):
        # Whatever was generated invalid (the path, the auth header) was replaced above.
        excluded.append(negative_data_rejection)
    if case.operation.path == UPLOAD_START and response.status_code == 400:
        excluded.append(positive_data_acceptance)
    case.validate_response(response, excluded_checks=excluded)


def test_openapi_document_is_served_and_lists_every_v2_route(live_server, db):
    import requests

    from datasets_app.api import urls

    served = requests.get(f"{live_server.url}/v2/public/openapi.json", timeout=10).json()
    routes = {"/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(p.pattern)) for p in urls.urlpatterns}
    documented = set(served["paths"])
    v2_routes = {r for r in routes if r.startswith("/v2/public/") and "(?P" not in r and "openapi" not in r}
    assert v2_routes <= documented, v2_routes - documented


def test_unknown_v2_paths_answer_json_404_even_with_a_newline(client, db):
    # Fuzzing found it: "." in the catch-all did not match %0A, so the dashboard's HTML 404 answered.
    for path in ("/v2/public/storage/folders/a%0Ab/groups", "/v2/public/nowhere"):
        response = client.post(path, data="1", content_type="application/json")
        assert (response.status_code, response["Content-Type"]) == (404, "application/json"), path
