"""A data job's state in Encord's long-polling shape (uploads and private imports alike)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Count

from datasets_app import models as m

from .exceptions import InvalidArgumentError


# ---- return types -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataUnitError:
    object_urls: list[str]
    error: str
    subtask_uuid: str
    action_description: str


@dataclass(frozen=True)
class DatasetDataInfo:
    data_hash: str
    title: str
    backing_item_uuid: str


@dataclass(frozen=True)
class StorageItemWithName:
    item_uuid: str
    name: str


@dataclass(frozen=True)
class DatasetDataLongPolling:
    """Encord's upload-job status: every field the SDK requires, plus `duplicates` (ours)."""

    status: str
    data_hashes_with_titles: list[DatasetDataInfo]
    errors: list[str]
    data_unit_errors: list[DataUnitError]
    units_pending_count: int
    units_done_count: int
    units_error_count: int
    units_cancelled_count: int
    duplicates: list[dict] = field(default_factory=list)
    process_hash: str = ""
    # The items the job created (top-level: groups and series, not their frames), in unit order:
    # the Files poll's items_with_names. Listed once the job is DONE or CANCELLED.
    items_with_names: list[StorageItemWithName] = field(default_factory=list)

    @property
    def is_terminal(self) -> bool:
        return self.status != m.JobStatus.PENDING

    @property
    def units_total(self) -> int:
        return (
            self.units_pending_count
            + self.units_done_count
            + self.units_error_count
            + self.units_cancelled_count
        )



def finished_data_jobs(process_hashes: Iterable[str]) -> set[str]:
    """Which of these jobs are no longer PENDING (one query). For the web tier's waiting long
    polls (api/long_poll.py): each hash comes from a poll the SDK layer already allowed."""
    hashes = list(process_hashes)
    if not hashes:
        return set()
    return {
        str(h)
        for h in m.DataJob.objects.filter(process_hash__in=hashes)
        .exclude(status=m.JobStatus.PENDING)
        .values_list("process_hash", flat=True)
    }



def job_status(job: m.DataJob, *, legacy: bool = False, reveal_duplicates: bool = True) -> DatasetDataLongPolling:
    """Encord's long-polling shape for a job: counts while pending; rows, errors and duplicates
    once terminal (reading results only then keeps a poll cheap). Two queries.

    `reveal_duplicates=False` (a caller that may not read rows: a WRITE-only key) leaves out
    which existing row an upload duplicated (`duplicate_of`): the job's own rows stay listed."""
    counts = {s: 0 for s in m.JobStatus.values}
    for status, n in (
        m.DataJobUnit.objects.filter(job=job).values_list("status").annotate(n=Count("id")).order_by()
    ):
        counts[status] = n
    rows: list[DatasetDataInfo] = []
    errors: list[str] = []
    unit_errors: list[DataUnitError] = []
    duplicates: list[dict] = []
    items: list[StorageItemWithName] = []
    status = job.status
    if status != m.JobStatus.PENDING:
        units = (
            m.DataJobUnit.objects.filter(job=job)
            .exclude(status=m.JobStatus.PENDING)
            .values_list("status", "results", "error", "object_urls", "subtask_uuid", "action_description")
            .order_by("index")
        )
        for unit_status, results, error, urls, subtask, action in units.iterator(chunk_size=2000):
            if unit_status == m.JobStatus.DONE:
                if status in (m.JobStatus.DONE, m.JobStatus.CANCELLED):
                    items += [StorageItemWithName(r["backing_item_uuid"], r["title"]) for r in results or [] if "backing_item_uuid" in r]
                for r in results or []:
                    if "data_hash" in r and status == m.JobStatus.DONE:
                        rows.append(
                            DatasetDataInfo(
                                data_hash=r["data_hash"],
                                title=r["title"],
                                backing_item_uuid=r["backing_item_uuid"],
                            )
                        )
                    if "duplicate_of" in r:
                        duplicate = {"title": r["title"], "skipped": bool(r.get("skipped"))}
                        if reveal_duplicates:
                            duplicate = {"title": r["title"], "duplicate_of": r["duplicate_of"], **duplicate}
                        duplicates.append(duplicate)
            elif unit_status == m.JobStatus.ERROR:
                errors.append(error)
                unit_errors.append(
                    DataUnitError(
                        object_urls=list(urls or []),
                        error=error,
                        subtask_uuid=str(subtask),
                        action_description=action,
                    )
                )
        if job.message and status == m.JobStatus.ERROR and job.message not in errors:
            errors.append(job.message)
    if legacy and status == m.JobStatus.CANCELLED:
        status = m.JobStatus.ERROR
        errors = errors or ["The job was cancelled."]
    return DatasetDataLongPolling(
        status=status,
        data_hashes_with_titles=rows,
        errors=errors,
        data_unit_errors=unit_errors,
        units_pending_count=counts[m.JobStatus.PENDING],
        units_done_count=counts[m.JobStatus.DONE],
        units_error_count=counts[m.JobStatus.ERROR],
        units_cancelled_count=counts[m.JobStatus.CANCELLED],
        duplicates=duplicates,
        process_hash=str(job.process_hash),
        items_with_names=items,
    )


def rows_or_raise(result: DatasetDataLongPolling, *, at_least: int) -> list[DatasetDataInfo]:
    """The rows of a finished job; TimeoutError while it runs, InvalidArgumentError if it failed
    or made fewer than `at_least` rows."""
    if result.status == m.JobStatus.PENDING:
        raise TimeoutError(
            f"Upload job {result.process_hash} is still running; poll it with get_data_job."
        )
    if result.status != m.JobStatus.DONE:
        raise InvalidArgumentError(
            "; ".join(result.errors) or "The upload failed.", process_hash=result.process_hash
        )
    if len(result.data_hashes_with_titles) < at_least:
        raise InvalidArgumentError(
            "; ".join(result.errors) or "The upload created no data row (skipped as a duplicate?).",
            process_hash=result.process_hash,
        )
    return result.data_hashes_with_titles
