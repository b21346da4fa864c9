"""The policy table (datasets_app.sdk.policy.POLICY) x personas, over the wire.

Users go through the real 0.1.211 SDK; API keys (which 0.1.211 cannot send) through raw v1
requests with `Authorization: <key>` as 0.1.145 sends them. Expected outcomes are computed from
the same table the server uses, never written cell by cell."""

from __future__ import annotations

import pytest
from encord import exceptions as enc
from encord.orm.dataset import DatasetUserRole

from datasets_app import models as m
from datasets_app.sdk.policy import Op, Principal, allowed, grants_of
from tests.conftest import PERSONAS, KeyPersona
from tests.factories import DataRowFactory, DatasetMembershipFactory, UserFactory

from .conftest import error_code

# operation name -> the policy op it needs (list_users needs MANAGE from a key, READ from a user)
OPERATIONS = {
    "get_dataset": Op.READ,
    "list_data_rows": Op.READ,
    "refetch_row": Op.READ,
    "cloud_integrations": Op.USE_INTEGRATION,
    "save_row": Op.WRITE_DATA,
    "update_data_item": Op.WRITE_DATA,
    "delete_data": Op.DELETE_DATA,
    "add_users": Op.MANAGE,
    "list_users": Op.READ,
    "remove_users": Op.MANAGE,
}
V2_ONLY = {"list_users", "remove_users"}


def expected(persona_obj, dataset, op: Op) -> str | None:
    """None (allowed) or the protocol error code the table implies."""
    if isinstance(persona_obj, KeyPersona):
        principal, role = Principal(api_key=persona_obj.model), None
    else:
        principal = Principal(user=persona_obj)
        ms = dataset.memberships.filter(user=persona_obj).first()
        role = ms.role if ms else None
    grants = grants_of(principal, dataset, role)
    if not grants:
        return "RESOURCE_NOT_FOUND_ERROR"
    if allowed(op, grants):
        return None
    return "OPERATION_NOT_ALLOWED" if principal.is_key else "AUTHORISATION_ERROR"


SDK_ERRORS = {
    "RESOURCE_NOT_FOUND_ERROR": enc.ResourceNotFoundError,
    "AUTHORISATION_ERROR": enc.AuthorisationError,
}


def run_with_sdk(client, dataset, row, other_user, name):
    ds = client.get_dataset(str(dataset.dataset_hash))
    if name == "get_dataset":
        return
    if name == "list_data_rows":
        ds.list_data_rows()
    elif name == "refetch_row":
        ds.data_rows[0].refetch_data(client_metadata=True)
    elif name == "cloud_integrations":
        return  # user-level in 0.1.211 (v2); dataset-level only for keys
    elif name == "save_row":
        r = ds.data_rows[0]
        r.title = "saved"
        r.save()
    elif name == "update_data_item":
        assert ds.update_data_item(str(row.data_hash), "renamed")
    elif name == "delete_data":
        ds.delete_data([str(row.data_hash)])
    elif name == "add_users":
        ds.add_users([other_user.email], DatasetUserRole.USER)
    elif name == "list_users":
        list(ds.list_users())  # a generator: iterate to send the request
    elif name == "remove_users":
        ds.remove_users([other_user.email])


def run_with_key(raw, dataset, row, other_user, name):
    ds = str(dataset.dataset_hash)
    calls = {
        "get_dataset": (
            "dataset",
            "GET",
            None,
            {"dataset_access_settings": {"fetch_client_metadata": False}},
        ),
        "list_data_rows": (
            "datarows",
            "GET",
            None,
            {
                "title_eq": None,
                "title_like": None,
                "created_before": None,
                "created_after": None,
                "data_types": None,
                "data_hashes": None,
            },
        ),
        "refetch_row": ("datarow", "GET", str(row.data_hash), {"additional_data": {"client_metadata": True}}),
        "cloud_integrations": ("cloudintegration", "GET", None, None),
        "save_row": ("datarow", "POST", str(row.data_hash), {"data_title": "saved"}),
        "update_data_item": ("video", "POST", ds, [{"video_hash": str(row.data_hash), "title": "renamed"}]),
        "delete_data": ("video", "DELETE", [str(row.data_hash)], None),
        "add_users": ("datasetusers", "POST", ds, {"user_emails": [other_user.email], "user_role": 1}),
    }
    envelope = raw.v1(*calls[name], resource_id=ds)
    return error_code(envelope)


def snapshot(dataset):
    return (
        list(m.DataRow.objects.filter(dataset=dataset).order_by("id").values_list("item__name", flat=True)),
        sorted(dataset.memberships.values_list("user_id", "role")),
    )


USER_PERSONAS = [p for p in PERSONAS if not p.endswith("_key")]
KEY_PERSONAS = [p for p in PERSONAS if p.endswith("_key")]


def prepare(dataset, name):
    row = DataRowFactory(dataset=dataset, title="row.mp4")
    other_user = UserFactory()
    if name == "remove_users":
        DatasetMembershipFactory(dataset=dataset, user=other_user, role=m.DatasetUserRole.USER)
    return row, other_user


@pytest.mark.django_db
@pytest.mark.parametrize("name", [n for n in OPERATIONS if n not in V2_ONLY])
@pytest.mark.parametrize("persona", KEY_PERSONAS)
def test_policy_for_api_keys(request, persona, name, dataset, wire_client):
    """Keys in-process (the wire format is the same; the DB rolls back, which keeps this fast)."""
    key = request.getfixturevalue(persona)
    row, other_user = prepare(dataset, name)
    want = expected(key, dataset, Op.MANAGE if name == "list_users" else OPERATIONS[name])
    before = snapshot(dataset)
    assert run_with_key(wire_client(api_key=key.secret), dataset, row, other_user, name) == want
    if want is not None:
        assert snapshot(dataset) == before, "a refused call changed the database"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("persona", USER_PERSONAS)
def test_policy_for_users_through_the_sdk(request, persona, dataset, sdk_client):
    """Every operation for one persona in one test (one live server, one database flush)."""
    who = request.getfixturevalue(persona)
    client = sdk_client(who)
    wrong = []
    for name, op in OPERATIONS.items():
        row, other_user = prepare(dataset, name)
        want = expected(who, dataset, op)
        before = snapshot(dataset)
        try:
            run_with_sdk(client, dataset, row, other_user, name)
            got = None
        except (enc.ResourceNotFoundError, enc.AuthorisationError) as exc:
            got = next(code for code, cls in SDK_ERRORS.items() if isinstance(exc, cls))
        if got != want:
            wrong.append(f"{name}: expected {want or 'allowed'}, got {got or 'allowed'}")
        elif want is not None and snapshot(dataset) != before:
            wrong.append(f"{name}: refused but the database changed")
    assert not wrong, wrong
