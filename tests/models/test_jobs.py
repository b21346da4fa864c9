"""The Job base: each kind keeps its own status words on the same column; moves are conditional."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from datasets_app import models as m
from tests.factories import DataJobFactory, ReEncodeTaskFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("model", "initial", "words"),
    [
        (m.DataJob, "PENDING", {"PENDING", "DONE", "ERROR", "CANCELLED"}),
        (m.ReEncodeTask, "SUBMITTED", {"SUBMITTED", "DONE", "ERROR"}),
    ],
)
def test_each_job_kind_keeps_its_own_status_words(model, initial, words):
    field = model._meta.get_field("status")
    assert model.INITIAL_STATUS == initial
    assert field.default == initial
    assert {value for value, _label in field.choices} == words
    assert model().status == initial
    assert not model().is_terminal
    assert model(status="DONE").is_terminal


def test_the_job_base_changes_no_schema():
    out = StringIO()
    call_command("makemigrations", "datasets_app", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


def test_move_happens_once_and_stamps_finished_at():
    task = ReEncodeTaskFactory()
    assert task.finished_at is None
    assert m.ReEncodeTask.move(task.pk, m.ReEncodeStatus.SUBMITTED, m.ReEncodeStatus.DONE, message="ok")
    task.refresh_from_db()
    assert (task.status, task.message) == ("DONE", "ok")
    assert task.finished_at is not None
    # a second run (or a concurrent one) finds nothing to move
    assert not m.ReEncodeTask.move(task.pk, m.ReEncodeStatus.SUBMITTED, m.ReEncodeStatus.ERROR)
    task.refresh_from_db()
    assert task.status == "DONE"


def test_move_accepts_several_from_statuses_and_keeps_a_given_finished_at():
    job = DataJobFactory()
    when = timezone.now() - dt.timedelta(days=1)
    assert m.DataJob.move(job.pk, [m.JobStatus.PENDING, m.JobStatus.ERROR], m.JobStatus.CANCELLED, finished_at=when)
    job.refresh_from_db()
    assert (job.status, job.finished_at) == ("CANCELLED", when)


def test_claim_stuck_claims_an_untouched_job_once():
    job = DataJobFactory()
    now = timezone.now() + dt.timedelta(hours=2)
    cutoff = now - dt.timedelta(hours=1)
    assert m.DataJob.claim_stuck(job.pk, cutoff=cutoff, now=now)
    assert not m.DataJob.claim_stuck(job.pk, cutoff=cutoff, now=now)
    m.DataJob.objects.filter(pk=job.pk).update(status=m.JobStatus.DONE, updated_at=cutoff - dt.timedelta(hours=1))
    assert not m.DataJob.claim_stuck(job.pk, cutoff=cutoff, now=now)
