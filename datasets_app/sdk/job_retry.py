"""Retrying the failed items of a data job (an upload or a private-data import). The Jobs page's
filters and listing are job_listing's.

Who may retry: the one who started the job (while they may still add data: Op.WRITE_DATA), and
whoever holds Op.RETRY_JOB on its dataset (dataset ADMINs, organisation admins).
"""

from __future__ import annotations

from django.db import transaction

from datasets_app import models as m
from datasets_app.media import storage

from .exceptions import AuthorisationError, InvalidArgumentError, ResourceNotFoundError
from .policy import Op, Principal, allowed, grants_of, parse_hash, require
from .unit_outcomes import enqueue_data_job
from .units import KIND_VIDEO


def may_retry(principal: Principal, dataset: m.Dataset, started_by_id: int | None) -> bool:
    """Whether `principal` may retry a job of `dataset` started by user `started_by_id` (no query;
    `dataset` carries my_role as policy.require leaves it)."""
    grants = grants_of(principal, dataset, getattr(dataset, "my_role", None))
    own = principal.user is not None and principal.user.pk == started_by_id
    return allowed(Op.RETRY_JOB, grants) or (own and allowed(Op.WRITE_DATA, grants))


def may_retry_own(principal: Principal, dataset: m.Dataset) -> bool:
    """Whether `principal` may retry a job it started in `dataset` (a job's page is its starter's)."""
    return may_retry(principal, dataset, principal.user.pk if principal.user is not None else None)


def retryable(process_hashes: list[str], *, max_checks: int = 100) -> set[str]:
    """Of these finished data jobs with failed items, those a retry would run something of: an
    import always; an upload while one failed item still has its stored files (a failed upload's
    files are removed, so a retry could only be refused, unless someone put the file back). One
    query, then at most `max_checks` storage look-ups (beyond them a job is offered: the retry
    itself says what it cannot run)."""
    if not process_hashes:
        return set()
    units = (
        m.DataJobUnit.objects.filter(job__process_hash__in=process_hashes, status=m.JobStatus.ERROR)
        .order_by("job_id", "index")
        .values_list("job__process_hash", "job__kind", "object_urls")
    )
    offered: set[str] = set()
    checks = 0
    for process_hash, kind, keys in units.iterator():
        job_id = str(process_hash)
        if job_id in offered:
            continue
        if kind != m.DataJob.KIND_UPLOAD or checks >= max_checks:
            offered.add(job_id)
            continue
        checks += len(keys or []) or 1
        if item_can_run_again(keys):
            offered.add(job_id)
    return offered


def item_can_run_again(keys: list[str] | None) -> bool:
    """Whether a failed item's files are still there: a bucket's URL is read again (an import);
    a hosted key must still be stored (a failed upload's files are removed)."""
    return all("://" in k or storage.exists(k) for k in keys or [])


def errors_retryable(errors, *, max_checks: int = 100) -> bool:
    """Whether a retry of a job with these failed items (job_status's data_unit_errors, each with
    its object_urls) would run one of them; no query. Past `max_checks` items: assumed so."""
    return any(i >= max_checks or item_can_run_again(e.object_urls) for i, e in enumerate(errors))


def retry_data_job(principal: Principal, dataset_hash: object, process_hash: object) -> int:
    """Moves the job's failed items (ERROR; for a job that added nothing, also the items rolled back
    or never run) back to PENDING with their errors cleared, the job back to PENDING, and queues it.
    Returns how many items will run again. An upload's item whose file is gone is left as it is (all
    of them gone: refused, naming them). Conditional updates: a second click while the first
    retry runs finds no failed items and is refused with InvalidArgumentError, as is a job with none."""
    dataset = require(principal, dataset_hash, Op.READ)
    job_uuid = parse_hash(process_hash, "process_hash")
    job = m.DataJob.objects.filter(dataset=dataset, process_hash=job_uuid).first()
    if job is None:
        raise ResourceNotFoundError(f"Job {job_uuid} not found in this dataset.")
    if not may_retry(principal, dataset, job.created_by_id):
        raise AuthorisationError(
            "Only the one who started this job, the dataset's ADMINs and organisation admins may retry it."
        )
    if not job.is_terminal:
        raise InvalidArgumentError(
            "This job is still running; retry its failed items once it ends.", field="job"
        )
    statuses = [m.JobStatus.ERROR]
    if job.status == m.JobStatus.ERROR and not job.ignore_errors:
        statuses.append(m.JobStatus.CANCELLED)
    failed = list(
        m.DataJobUnit.objects.filter(job=job, status__in=statuses).only("pk", "index", "spec", "object_urls")
    )
    if not failed:
        raise InvalidArgumentError("This job has no failed items to retry.", field="job")
    gone = [u for u in failed if files_gone(job, u)]
    if len(gone) == len(failed):
        names = ", ".join(unit_name(u) for u in gone[:5])
        names += f" and {len(gone) - 5} more" if len(gone) > 5 else ""
        raise InvalidArgumentError(
            f"Nothing to retry: the uploaded file of {names} was removed when it failed; upload it again.",
            field="job",
        )
    with transaction.atomic():
        units = m.DataJobUnit.objects.filter(job=job, status__in=statuses).exclude(
            pk__in=[u.pk for u in gone]
        )
        video = any(
            s.get("type") == KIND_VIDEO and not s.get("metadata")
            for s in units.values_list("spec", flat=True)
        )
        moved = units.update(status=m.JobStatus.PENDING, error="", started_at=None, finished_at=None)
        if not moved:
            raise InvalidArgumentError("This job has no failed items to retry.", field="job")
        if not m.DataJob.move(job.pk, job.status, m.JobStatus.PENDING, message="", finished_at=None):
            raise InvalidArgumentError("This job changed while retrying; reload and try again.", field="job")
        enqueue_data_job(job, video=video)
    return moved


def unit_name(unit: m.DataJobUnit) -> str:
    return str(unit.spec.get("title") or f"item {unit.index + 1}")


def files_gone(job: m.DataJob, unit: m.DataJobUnit) -> bool:
    """Whether an upload's failed item has lost its stored files (a failed upload's files are
    removed: running it again could only fail). Imports read the bucket again: never."""
    if job.kind != m.DataJob.KIND_UPLOAD:
        return False
    return not item_can_run_again(unit.object_urls)
