"""Each error of protocol §4 reaches the real SDK as the exception it documents."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
from encord import exceptions as enc
from encord.user_client import EncordUserClient

from datasets_app import models as m
from datasets_app.api import v1
from datasets_app.api.errors import http_status
from datasets_app.sdk import exceptions as sdk_exc
from tests.factories import DataRowFactory, DatasetMembershipFactory, UserFactory

from .conftest import error_code, openssh_private, private_key_for

LIVE = pytest.mark.django_db(transaction=True)


class Nosuchoperation:
    """The SDK routes on the lower-cased class name: this sends query_type "nosuchoperation"."""


class Boomfortest:
    pass


@pytest.fixture
def exploding_operation():
    """A real registered operation that fails unexpectedly (then removed from the table)."""

    @v1.v1_operation("boomfortest", "GET")
    def boom(call):
        raise RuntimeError("kaboom")

    yield
    v1.OPERATIONS.pop(("public", "boomfortest", "GET"))


@LIVE
def test_unregistered_key_is_authentication_error_on_v1_and_v2(live_server, dataset):
    stranger_key = openssh_private(private_key_for("never registered"))
    client = EncordUserClient.create_with_ssh_private_key(stranger_key, domain=live_server.url)
    with pytest.raises(enc.AuthenticationError):
        client.get_datasets()
    with pytest.raises(enc.AuthenticationError):
        client.get_dataset(str(dataset.dataset_hash))


@LIVE
def test_member_without_right_is_authorisation_error(sdk_client, ds_user, dataset):
    ds = sdk_client(ds_user).get_dataset(str(dataset.dataset_hash))
    with pytest.raises(enc.AuthorisationError):
        ds.add_users([UserFactory().email], 1)


@LIVE
def test_invisible_dataset_is_not_found_with_its_hash(sdk_client, stranger, dataset, live_server):
    with pytest.raises(enc.ResourceNotFoundError, match=str(dataset.dataset_hash)):
        sdk_client(stranger).get_dataset(str(dataset.dataset_hash))
    missing = str(uuid.uuid4())
    with pytest.raises(enc.ResourceNotFoundError, match=missing):
        sdk_client(stranger).get_dataset(missing)
    # v2: a dataset the caller cannot see is 404 too, never 403.
    import requests

    from datasets_app.sdk import accounts

    token = accounts.issue_bearer_token(stranger)
    response = requests.get(
        f"{live_server.url}/v2/public/datasets/{dataset.dataset_hash}/users",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 404 and response.json()["message"].startswith("Dataset")


@LIVE
def test_invalid_arguments_v1_and_v2(sdk_client, ds_admin, dataset):
    client = sdk_client(ds_admin)
    with pytest.raises(enc.InvalidArgumentsError, match="cannot be empty"):
        client.create_dataset("   ", 0)
    row = DataRowFactory(dataset=dataset)
    ds = client.get_dataset(str(dataset.dataset_hash))
    data_row = ds.data_rows[0]
    data_row.title = "x" * 100_000
    with pytest.raises(enc.InvalidArgumentsError, match="limit is 1024"):
        data_row.save()
    assert m.DataRow.objects.get(pk=row.pk).title == row.title


@LIVE
def test_unknown_operation_is_method_not_allowed(sdk_client, ds_admin, dataset):
    ds = sdk_client(ds_admin).get_dataset(str(dataset.dataset_hash))
    with pytest.raises(enc.MethodNotAllowedError):
        ds._client._querier.basic_getter(Nosuchoperation, uid=None)


class Flakydatabasefortest:
    def __init__(self, item):
        self.item = item


@LIVE
def test_database_unavailable_is_a_503_the_sdk_retries(sdk_client, ds_admin, dataset, caplog):
    # A database that drops out for a moment (fail-over, a killed connection) answers 503 with
    # Retry-After, which the encord SDK retries for its getters: the caller sees no error.
    from django.db import OperationalError

    calls = []

    @v1.v1_operation("flakydatabasefortest", "GET")
    def flaky(call):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return {"answered": len(calls)}

    try:
        ds = sdk_client(ds_admin).get_dataset(str(dataset.dataset_hash))
        with caplog.at_level(logging.WARNING, logger="datasets_app"):
            result = ds._client._querier.basic_getter(Flakydatabasefortest, uid=None)
    finally:
        v1.OPERATIONS.pop(("public", "flakydatabasefortest", "GET"))
    assert result.item == {"answered": 2} and len(calls) == 2
    assert "database unavailable" in caplog.text


@LIVE
def test_unhandled_error_is_unknown_error_and_logged_with_trace(
    sdk_client, ds_admin, dataset, exploding_operation, caplog
):
    ds = sdk_client(ds_admin).get_dataset(str(dataset.dataset_hash))
    with (
        caplog.at_level(logging.ERROR, logger="datasets_app.api"),
        pytest.raises(enc.UnknownException) as info,
    ):
        ds._client._querier.basic_getter(Boomfortest, uid=None)
    trace = info.value.context.trace_id if info.value.context else None
    [record] = [r for r in caplog.records if r.name == "datasets_app.api"]
    assert "kaboom" in record.exc_text and "X-Cloud-Trace-Context" in record.getMessage()
    if trace:
        assert trace in record.getMessage()


@pytest.mark.django_db
def test_v2_unhandled_error_is_json_500(rf, ds_admin, caplog):
    from datasets_app.api.v2.base import v2_endpoint
    from datasets_app.sdk import accounts

    @v2_endpoint(methods=["GET"])
    def broken(call):
        raise ZeroDivisionError("nope")

    token = accounts.issue_bearer_token(ds_admin)
    request = rf.get(
        "/v2/public/x", HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_X_CLOUD_TRACE_CONTEXT="abc/1;o=1"
    )
    with caplog.at_level(logging.ERROR, logger="datasets_app.api"):
        response = broken(request)
    assert response.status_code == 500 and response["Content-Type"] == "application/json"
    assert "abc/1;o=1" in json.loads(response.content)["message"]
    assert "Traceback" not in response.content.decode() and "abc/1;o=1" in caplog.text


@LIVE
def test_rate_limit_is_429_with_retry_after(sdk_client, raw_client, ds_admin, dataset, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    client = sdk_client(ds_admin)
    client.create_dataset("one", 0)
    client.create_dataset("two", 0)
    client.create_dataset("three", 0)
    with pytest.raises(enc.RateLimitExceededError):
        client.create_dataset("four", 0)  # v2 create is never retried by the SDK
    response = raw_client(ds_admin).post_raw("/public", b'{"query_type": "dataset"}')
    assert response.status_code == 429 and 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.json()["response"] == ["RATE_LIMIT_ERROR"]
    assert m.Dataset.objects.filter(title="four").count() == 0


@LIVE
def test_body_over_limit_is_payload_too_large(sdk_client, ds_admin, dataset, settings):
    settings.API_MAX_BODY_BYTES = 2000
    client = sdk_client(ds_admin)
    with pytest.raises(enc.PayloadTooLargeError):
        client.create_dataset("big", 0, "d" * 5000)
    ds = client.get_dataset(str(dataset.dataset_hash))
    with pytest.raises(enc.PayloadTooLargeError):
        ds.add_users([f"user{i}@example.com" for i in range(200)], 1)
    assert not m.Dataset.objects.filter(title="big").exists()


@pytest.mark.django_db
def test_api_key_scope_refusal_code(wire_client, read_key, dataset):
    envelope = wire_client(api_key=read_key.secret).v1(
        "video", "DELETE", [str(uuid.uuid4())], None, resource_id=str(dataset.dataset_hash)
    )
    assert envelope["status"] == 403 and error_code(envelope) == "OPERATION_NOT_ALLOWED"


@pytest.mark.parametrize(
    "error,code,status",
    [
        (sdk_exc.AuthenticationError(), "AUTHENTICATION_ERROR", 401),
        (sdk_exc.AuthorisationError(), "AUTHORISATION_ERROR", 403),
        (sdk_exc.ResourceNotFoundError(), "RESOURCE_NOT_FOUND_ERROR", 404),
        (sdk_exc.InvalidArgumentError(), "INVALID_ARGUMENTS_ERROR", 400),
        (sdk_exc.OperationNotAllowed(), "OPERATION_NOT_ALLOWED", 403),
        (sdk_exc.ResourceExistsError(), "RESOURCE_EXISTS_ERROR", 409),
        (sdk_exc.MethodNotAllowedError(), "METHOD_NOT_ALLOWED_ERROR", 405),
        (sdk_exc.DuplicateSshKeyError(), "DUPLICATE_SSH_KEY_ERROR", 409),
        (sdk_exc.FileTypeNotSupportedError(), "FILE_TYPE_NOT_SUPPORTED_ERROR", 400),
        (sdk_exc.UploadOperationNotSupportedError(), "UPLOAD_OPERATION_NOT_SUPPORTED_ERROR", 400),
    ],
)
def test_every_typed_error_maps_to_the_sdk_exception(error, code, status):
    """The v1 envelope we build makes the real SDK raise its documented exception (§4.1)."""
    from encord.http.error_utils import check_error_response

    from datasets_app.api.errors import v1_error

    body = json.loads(v1_error(error).content)
    assert body["response"] == [code] and http_status(error) == status
    expected = {
        "AUTHENTICATION_ERROR": enc.AuthenticationError,
        "AUTHORISATION_ERROR": enc.AuthorisationError,
        "RESOURCE_NOT_FOUND_ERROR": enc.ResourceNotFoundError,
        "INVALID_ARGUMENTS_ERROR": enc.InvalidArgumentsError,
        "OPERATION_NOT_ALLOWED": enc.OperationNotAllowed,
        "RESOURCE_EXISTS_ERROR": enc.ResourceExistsError,
        "METHOD_NOT_ALLOWED_ERROR": enc.MethodNotAllowedError,
        "DUPLICATE_SSH_KEY_ERROR": enc.DuplicateSshKeyError,
        "FILE_TYPE_NOT_SUPPORTED_ERROR": enc.FileTypeNotSupportedError,
        "UPLOAD_OPERATION_NOT_SUPPORTED_ERROR": enc.UploadOperationNotSupportedError,
    }[code]
    with pytest.raises(expected):
        check_error_response(body["response"], None, body["payload"])


@LIVE
def test_v2_dataset_no_longer_visible_is_not_found(sdk_client, ds_admin, dataset):
    # given an SDK Dataset opened while the caller was a member
    ds = sdk_client(ds_admin).get_dataset(str(dataset.dataset_hash))
    DatasetMembershipFactory(dataset=dataset, role=m.DatasetUserRole.ADMIN)
    dataset.memberships.filter(user=ds_admin).delete()
    # then the v2 routes answer 404, which the SDK raises as ResourceNotFoundError
    with pytest.raises(enc.ResourceNotFoundError):
        list(ds.list_users())  # a generator: iterate to send the request
    with pytest.raises(enc.ResourceNotFoundError):
        ds.remove_users(["someone@example.com"])


@LIVE
def test_dataset_groups_are_method_not_allowed(sdk_client, ds_admin, dataset):
    ds = sdk_client(ds_admin).get_dataset(str(dataset.dataset_hash))
    with pytest.raises(enc.MethodNotAllowedError):
        list(ds.list_groups())
