"""Whose jobs a user lists (sdk/job_listing) and the policy helper it reads the table through
(policy.datasets_where): organisation admins everyone's, dataset ADMINs those on the datasets they
administer, anyone their own where they may still READ; a deactivated account nothing."""

from __future__ import annotations

import pytest

from datasets_app import models as m
from datasets_app.sdk.job_listing import JobFilters, list_jobs, sees_others_jobs
from datasets_app.sdk.policy import POLICY, Grant, Op, Principal, allowed, datasets_where
from tests.factories import DataJobFactory, DataJobUnitFactory, DatasetFactory, ReEncodeTaskFactory, UserFactory

PERSONAS = ("org_admin", "ds_admin", "ds_user", "stranger")


@pytest.mark.parametrize("op", [op for op in POLICY if op in (Op.READ, Op.WRITE_DATA, Op.RETRY_JOB, Op.SEE_JOBS)])
@pytest.mark.parametrize("persona", PERSONAS)
def test_datasets_where_follows_the_table(request, dataset, persona, op):
    other = DatasetFactory()
    who = request.getfixturevalue(persona)
    grant = {"org_admin": Grant.ORG_ADMIN, "ds_admin": Grant.DS_ADMIN, "ds_user": Grant.DS_USER}.get(persona)
    expected = set()
    if grant is not None and allowed(op, frozenset({grant})):
        expected = {dataset.pk, other.pk} if persona == "org_admin" else {dataset.pk}
    assert set(datasets_where(Principal(user=who), op).values_list("pk", flat=True)) == expected


def test_datasets_where_a_key_holds_its_own_dataset_only_for_its_scopes(dataset, read_key):
    key = Principal(api_key=read_key.model)
    assert list(datasets_where(key, Op.READ)) == [dataset]
    assert not datasets_where(key, Op.SEE_JOBS).exists()


def test_datasets_where_refuses_organisation_ops():
    with pytest.raises(ValueError):
        datasets_where(Principal(user=m.User(is_active=True)), Op.SEE_ORGANISATION)


def _jobs(dataset, ds_user, ds_admin):
    other_ds = DatasetFactory()
    failed = DataJobFactory(dataset=dataset, created_by=ds_user, units_total=1, status="DONE", ignore_errors=True)
    DataJobUnitFactory(job=failed, status="ERROR", error="bad")
    return {
        "user_failed": failed,
        "admin_task": ReEncodeTaskFactory(dataset=dataset, created_by=ds_admin),
        "elsewhere": DataJobFactory(dataset=other_ds, created_by=UserFactory(), units_total=1),
    }


def _ids(jobs):
    return {j.job_id for j in jobs}


def test_whose_decides_what_each_persona_lists(dataset, org_admin, ds_admin, ds_user, stranger):
    jobs = _jobs(dataset, ds_user, ds_admin)
    user_failed, admin_task = str(jobs["user_failed"].process_hash), str(jobs["admin_task"].pk)
    elsewhere = str(jobs["elsewhere"].process_hash)
    listed = {p: list_jobs(Principal(user=u)) for p, u in
              (("org", org_admin), ("admin", ds_admin), ("user", ds_user), ("stranger", stranger))}
    assert _ids(listed["org"]) == {user_failed, admin_task, elsewhere}
    assert _ids(listed["admin"]) == {user_failed, admin_task}
    assert _ids(listed["user"]) == {user_failed} and _ids(listed["stranger"]) == set()
    assert _ids(list_jobs(Principal(user=ds_admin), filters=JobFilters(whose="mine"))) == {admin_task}
    # who started it, whether it is the lister's, and whether they may retry it (job_retry.may_retry)
    row = next(j for j in listed["admin"] if j.job_id == user_failed)
    assert (row.started_by, row.own, row.may_retry) == (ds_user.email, False, True)
    row = next(j for j in listed["user"] if j.job_id == user_failed)
    assert (row.own, row.may_retry) == (True, True)
    assert [sees_others_jobs(Principal(user=u)) for u in (org_admin, ds_admin, ds_user, stranger)] == [
        True, True, False, False
    ]


def test_a_deactivated_admin_lists_nothing(dataset, ds_admin, ds_user):
    _jobs(dataset, ds_user, ds_admin)
    ds_admin.is_active = False
    assert list_jobs(Principal(user=ds_admin)) == []
