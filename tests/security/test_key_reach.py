"""Item 3 of issue 11: a dataset API key reaches no further than its dataset may.

A key acts for the user who created it, and used to inherit all of that user's reach: a key made
by an organisation admin could import through every cloud integration of the organisation (other
users' buckets and credentials), READ keys listed their creator's integrations, and a key kept
using its creator's integrations after the creator was deactivated or removed from the dataset.

The rule (sdk/policy.py, `usable_integrations`): a key may list and use only the integrations its
creator owns (never widened by the creator's organisation-admin flag), only with the WRITE scope,
and only while the creator is an active user who may still import into the key's dataset. A
refusal is word for word what a missing integration gives. All requests here are real v1 requests
signed with `Authorization: <key>` as SDK 0.1.145 sends them (0.1.211 cannot send keys)."""

from __future__ import annotations

import uuid

import pytest

from datasets_app import models as m
from datasets_app.sdk import private_data
from datasets_app.sdk.client import UserClient
from tests.api.conftest import error_code, fresh_rate_limits, wire_client  # noqa: F401
from tests.conftest import KeyPersona
from tests.factories import UserFactory

MD = {"mime_type": "image/png", "file_size": 1, "width": 1, "height": 1}
DOC = {"images": [{"objectUrl": "s3://bucket/a.png", "imageMetadata": MD}]}


def make_key(dataset, creator, scopes=("dataset.read", "dataset.write")) -> KeyPersona:
    created = UserClient.for_user(creator).create_dataset_api_key(str(dataset.dataset_hash), "k", list(scopes))
    return KeyPersona(model=m.DatasetAPIKey.objects.get(key_hash=created.key_hash), secret=created.api_key)


def integration_of(owner, title: str) -> m.CloudIntegration:
    return private_data.integration_create(owner=owner, title=title, provider="s3")


def start(client, dataset, integration_id):
    return client.v1(
        "datasetdatalongpolling",
        "POST",
        str(dataset.dataset_hash),
        {"integrationId": str(integration_id), "files": DOC, "ignoreErrors": False},
        resource_id=str(dataset.dataset_hash),
    )


def list_integrations(client, dataset):
    return client.v1("cloudintegration", "GET", None, None, resource_id=str(dataset.dataset_hash))


def refusal(envelope, integration_id) -> tuple:
    return error_code(envelope), str(envelope.get("payload")).replace(str(integration_id), "<id>")


def assert_refused_like_missing(client, dataset, integration):
    missing = uuid.uuid4()
    got = refusal(start(client, dataset, integration.integration_uuid), integration.integration_uuid)
    want = refusal(start(client, dataset, missing), missing)
    assert want[0] == "RESOURCE_NOT_FOUND_ERROR"
    assert got == want
    assert not m.DataRow.objects.filter(dataset=dataset).exists()


def test_org_admin_key_cannot_import_through_another_users_integration(wire_client, dataset, org_admin):
    someone = UserFactory()
    theirs = integration_of(someone, "someone else's bucket")
    mine = integration_of(org_admin, "the org admin's own bucket")
    key = wire_client(api_key=make_key(dataset, org_admin).secret)
    assert_refused_like_missing(key, dataset, theirs)
    # Its creator's own integration stays usable.
    assert error_code(start(key, dataset, mine.integration_uuid)) is None
    assert m.DataRow.objects.filter(dataset=dataset).count() == 1


def test_org_admin_key_lists_only_its_creators_integrations(wire_client, dataset, org_admin):
    integration_of(UserFactory(), "someone else's bucket")
    integration_of(org_admin, "the org admin's own bucket")
    key = wire_client(api_key=make_key(dataset, org_admin).secret)
    envelope = list_integrations(key, dataset)
    assert error_code(envelope) is None, envelope
    assert [i["title"] for i in envelope["response"]] == ["the org admin's own bucket"]


def test_read_key_does_not_list_integrations(wire_client, dataset, ds_admin, read_key):
    integration_of(ds_admin, "admin's bucket")
    envelope = list_integrations(wire_client(api_key=read_key.secret), dataset)
    assert error_code(envelope) == "OPERATION_NOT_ALLOWED", envelope
    assert "admin's bucket" not in str(envelope)


def test_write_key_lists_its_creators_integrations(wire_client, dataset, ds_admin, write_key):
    integration_of(ds_admin, "admin's bucket")
    integration_of(UserFactory(), "someone else's bucket")
    envelope = list_integrations(wire_client(api_key=write_key.secret), dataset)
    assert [i["title"] for i in envelope["response"]] == ["admin's bucket"]


def test_key_of_a_deactivated_creator_uses_no_integration(wire_client, dataset, ds_admin, rw_key):
    bucket = integration_of(ds_admin, "admin's bucket")
    key = wire_client(api_key=rw_key.secret)
    # Deactivated directly in the database: the key itself stays valid (whatever else deactivation
    # may revoke), so this checks the integration rule alone.
    m.User.objects.filter(pk=ds_admin.pk).update(is_active=False)
    assert_refused_like_missing(key, dataset, bucket)
    envelope = list_integrations(key, dataset)
    assert error_code(envelope) is None and envelope["response"] == []


def test_key_of_a_creator_removed_from_the_dataset_uses_no_integration(wire_client, dataset, ds_admin, rw_key):
    bucket = integration_of(ds_admin, "admin's bucket")
    key = wire_client(api_key=rw_key.secret)
    assert error_code(list_integrations(key, dataset)) is None
    m.DatasetMembership.objects.filter(dataset=dataset, user=ds_admin).delete()
    assert_refused_like_missing(key, dataset, bucket)
    envelope = list_integrations(key, dataset)
    assert error_code(envelope) is None and envelope["response"] == []


def test_key_of_a_creator_no_longer_org_admin_uses_no_integration(wire_client, dataset, org_admin):
    """An org admin who was never a member made the key; taking the flag away ends its reach."""
    bucket = integration_of(org_admin, "bucket")
    key = wire_client(api_key=make_key(dataset, org_admin).secret)
    m.User.objects.filter(pk=org_admin.pk).update(is_org_admin=False)
    assert_refused_like_missing(key, dataset, bucket)


def test_a_key_deletes_no_integration_not_even_its_creators(dataset, org_admin):
    from datasets_app.sdk.exceptions import AuthorisationError
    from datasets_app.sdk.policy import Principal

    key = make_key(dataset, org_admin)
    own = integration_of(org_admin, "creator's own")
    with pytest.raises(AuthorisationError, match="Dataset API keys cannot delete integrations"):
        private_data.integration_delete(Principal(api_key=key.model), str(own.integration_uuid))
    assert m.CloudIntegration.objects.filter(pk=own.pk).exists()
    private_data.integration_delete(Principal(user=org_admin), str(own.integration_uuid))
    assert not m.CloudIntegration.objects.filter(pk=own.pk).exists()
