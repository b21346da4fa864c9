"""Every cell of the who-may-do-what table, generated from the declared POLICY."""

from __future__ import annotations

import pytest

from datasets_app.sdk.exceptions import (
    AuthorisationError,
    OperationNotAllowed,
    ResourceNotFoundError,
)
from datasets_app.sdk.policy import (
    FOLDER_OPS,
    ORG_OPS,
    POLICY,
    Grant,
    Op,
    Principal,
    may,
    may_see_server_diagnostics,
    require,
    require_key_dataset,
    require_org,
)
from tests.conftest import PERSONAS, KeyPersona
from tests.factories import DatasetFactory, UserFactory

PERSONA_GRANTS = {
    "org_admin": {Grant.ORG_ADMIN},
    "ds_admin": {Grant.DS_ADMIN},
    "ds_user": {Grant.DS_USER},
    "read_key": {Grant.READ_KEY},
    "write_key": {Grant.WRITE_KEY},
    "rw_key": {Grant.READ_KEY, Grant.WRITE_KEY},
    "stranger": set(),
}


def _principal(who):
    return Principal(api_key=who.model) if isinstance(who, KeyPersona) else Principal(user=who)


DATASET_OPS = [op for op in Op if op not in ORG_OPS | FOLDER_OPS]


@pytest.mark.parametrize("op", DATASET_OPS)
@pytest.mark.parametrize("persona", PERSONAS)
def test_policy_cell(request, dataset, persona, op):
    who = request.getfixturevalue(persona)
    grants = PERSONA_GRANTS[persona]
    principal = _principal(who)
    if POLICY[op] & grants:
        assert require(principal, str(dataset.dataset_hash), op).pk == dataset.pk
    elif not grants:
        with pytest.raises(ResourceNotFoundError) as err:
            require(principal, str(dataset.dataset_hash), op)
        # word for word what a missing dataset gives
        missing = "00000000-0000-4000-8000-000000000000"
        with pytest.raises(ResourceNotFoundError) as err_missing:
            require(principal, missing, op)
        assert err.value.message.replace(str(dataset.dataset_hash), "X") == err_missing.value.message.replace(missing, "X")
    else:
        expected = OperationNotAllowed if isinstance(who, KeyPersona) else AuthorisationError
        with pytest.raises(expected):
            require(principal, str(dataset.dataset_hash), op)


def test_policy_table_matches_issue():
    """The declared table, read back as the issue's table (guards against an accidental edit)."""
    assert POLICY[Op.READ] == {Grant.ORG_ADMIN, Grant.DS_ADMIN, Grant.DS_USER, Grant.READ_KEY}
    assert POLICY[Op.WRITE_DATA] == {Grant.ORG_ADMIN, Grant.DS_ADMIN, Grant.DS_USER, Grant.WRITE_KEY}
    assert POLICY[Op.DELETE_DATA] == {Grant.ORG_ADMIN, Grant.DS_ADMIN, Grant.WRITE_KEY}
    assert POLICY[Op.MANAGE] == {Grant.ORG_ADMIN, Grant.DS_ADMIN}
    # issue 11, item 3: READ keys neither list nor use cloud integrations
    assert POLICY[Op.USE_INTEGRATION] == {Grant.ORG_ADMIN, Grant.DS_ADMIN, Grant.DS_USER, Grant.WRITE_KEY}


def test_key_of_another_dataset_is_refused_without_lookup(dataset, read_key, db):
    other = DatasetFactory(title="other")
    with pytest.raises(AuthorisationError):
        require(Principal(api_key=read_key.model), str(other.dataset_hash), Op.READ)


@pytest.mark.parametrize("op", sorted(ORG_OPS))
@pytest.mark.parametrize("persona", PERSONAS)
def test_org_policy_cell(request, dataset, persona, op):
    """Organisation-wide operations: only an account's own flags count; a dataset role or a key
    never grants one."""
    who = request.getfixturevalue(persona)
    principal = _principal(who)
    grants = set() if isinstance(who, KeyPersona) else {Grant.ACCOUNT}
    if persona == "org_admin":
        grants |= PERSONA_GRANTS[persona]
    assert may(principal, op) is bool(POLICY[op] & grants)
    if POLICY[op] & grants:
        require_org(principal, op, "refused")
    else:
        with pytest.raises(AuthorisationError, match="refused"):
            require_org(principal, op, "refused")


def test_org_ops_are_not_asked_per_dataset(dataset, org_admin):
    with pytest.raises(ValueError):
        require(Principal(user=org_admin), str(dataset.dataset_hash), Op.MANAGE_INTEGRATIONS)
    with pytest.raises(ValueError):
        may(Principal(user=org_admin), Op.READ)


def test_org_policy_table():
    assert POLICY[Op.LOOK_UP_ACCOUNTS] == {Grant.ORG_ADMIN}
    assert POLICY[Op.MANAGE_INTEGRATIONS] == {Grant.ORG_ADMIN}
    assert POLICY[Op.SEE_ORGANISATION] == {Grant.ORG_ADMIN}
    assert POLICY[Op.SEE_SERVER_DIAGNOSTICS] == {Grant.ORG_ADMIN, Grant.STAFF}
    assert POLICY[Op.CREATE_FOLDERS] == {Grant.ORG_ADMIN, Grant.ACCOUNT}
    assert POLICY[Op.SEE_STORAGE_JOBS] == {Grant.ORG_ADMIN}


def test_staff_see_diagnostics_but_gain_nothing_on_datasets(dataset, db):
    staff = UserFactory(is_staff=True)
    assert may_see_server_diagnostics(staff)
    with pytest.raises(ResourceNotFoundError):
        require(Principal(user=staff), str(dataset.dataset_hash), Op.READ)


def test_key_dataset_check_refuses_a_missing_or_other_hash(dataset, read_key, db):
    other = DatasetFactory(title="other")
    assert require_key_dataset(read_key.model, dataset.dataset_hash).pk == dataset.pk
    for asked in (None, other.dataset_hash):
        with pytest.raises(AuthorisationError, match="another dataset: hint"):
            require_key_dataset(read_key.model, asked, hint=": hint")
