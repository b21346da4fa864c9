"""The Jobs page's listing: uploads, imports and re-encodes, newest first, narrowed by filters
(kind, status, dataset, since or one day, whose) each checked here so a bad value is a clear error.

Whose jobs: everyone lists the jobs they started in the datasets they can still open (Op.READ);
"everyone" (the default) adds every job on the datasets where they hold Op.SEE_JOBS: all datasets
for organisation admins, the ones they administer for dataset ADMINs, none for dataset USERs.

Files jobs have no dataset. An upload or import into a folder is listed for its starter while they
may still Op.READ_FILES on its folder; "everyone" adds those of the folders where one may
Op.MANAGE_FILES (folder ADMINs, inherited from ancestors, and organisation admins). A storage
re-encode (folder.re_encode_videos) is its starter's; "everyone" adds all of them for whoever the
organisation-wide grants let Op.SEE_JOBS (organisation admins). Neither is retried from here.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Mapping

from django.db.models import BooleanField, Case, Count, Exists, OuterRef, Q, QuerySet, Subquery, Value, When
from django.utils import timezone

from datasets_app import models as m

from . import orm
from .exceptions import InvalidArgumentError
from .folder_access import folders_where
from .policy import Op, Principal, datasets_where, may, parse_hash

JOB_KINDS = ("upload", "import", "re-encode")
# FAILED: ERROR or FAILED_ITEMS, the Overview's "failed" (its per-day counts link here).
JOB_STATUSES = ("PENDING", "DONE", "FAILED_ITEMS", "ERROR", "CANCELLED", "FAILED")
WHOSE = ("everyone", "mine")
SINCE = {
    "hour": dt.timedelta(hours=1),
    "day": dt.timedelta(days=1),
    "week": dt.timedelta(days=7),
    "all": None,
}


@dataclass(frozen=True)
class JobFilters:
    """The Jobs page's filters; empty strings mean "any". FAILED_ITEMS: done with failed items.
    `day` is a UTC day (the Overview's days), on top of `since`."""

    kind: str = ""
    status: str = ""
    dataset_hash: str = ""
    since: str = "all"
    day: dt.date | None = None
    whose: str = "everyone"

    @property
    def since_time(self) -> dt.datetime | None:
        delta = SINCE[self.since]
        return timezone.now() - delta if delta else None

    @property
    def active(self) -> bool:
        narrowed = self.kind or self.status or self.dataset_hash or self.day or self.whose != "everyone"
        return bool(narrowed or self.since != "all")


def clean_job_filters(params: Mapping[str, Any]) -> JobFilters:
    """JobFilters from GET parameters; InvalidArgumentError names the bad value and the choices."""

    def pick(name: str, choices: tuple[str, ...], default: str = "") -> str:
        value = str(params.get(name) or default).strip()
        if value and value not in choices:
            raise InvalidArgumentError(f"{name} {shorten(value)!r} is not one of: {', '.join(choices)}.", field=name)
        return value

    dataset = str(params.get("dataset") or "").strip()
    if dataset:
        dataset = str(parse_hash(dataset, "dataset"))
    return JobFilters(
        kind=pick("kind", JOB_KINDS),
        status=pick("status", JOB_STATUSES),
        dataset_hash=dataset,
        since=pick("since", tuple(SINCE), "all"),
        day=clean_day(str(params.get("day") or "").strip()),
        whose=pick("whose", WHOSE, "everyone"),
    )


def shorten(value: str) -> str:
    return value if len(value) <= 40 else value[:37] + "..."


def clean_day(value: str) -> dt.date | None:
    if not value:
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError
        return dt.datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise InvalidArgumentError(f"day {shorten(value)!r} is not a date (YYYY-MM-DD).", field="day") from None


def sees_others_jobs(principal: Principal) -> bool:
    """Whether `principal` may list others' jobs (the page then offers "Whose" and a "Started by"
    column): organisation admins (no query); else whoever holds Op.SEE_JOBS on some dataset, or
    manages a folder holding a Files job someone else started. One query."""
    if sees_every_storage_job(principal):
        return True
    others_files = m.DataJob.objects.filter(
        dataset__isnull=True, folder__in=folders_where(principal, Op.MANAGE_FILES).values("pk")
    ).exclude(created_by=principal.user)
    either = Exists(datasets_where(principal, Op.SEE_JOBS)) | Exists(others_files)
    return m.User.objects.filter(either, pk=principal.user.pk).exists()


def sees_every_storage_job(principal: Principal) -> bool:
    """Whether the principal lists everyone's storage re-encodes, which no dataset or folder
    governs (Op.SEE_STORAGE_JOBS in the policy). No query."""
    return may(principal, Op.SEE_STORAGE_JOBS)


def files_jobs(model: type, principal: Principal, whose: str) -> Q:
    """The Files jobs (no dataset) of `model` the principal may list (module docstring), as a
    condition: DataJobs by their folder, ReEncodeTasks (storage re-encodes) by who started them."""
    if principal.api_key is not None:
        return Q(pk__in=[])
    own = Q(created_by=principal.user)
    if model is m.DataJob:
        shown = own & Q(folder__in=folders_where(principal, Op.READ_FILES).values("pk"))
        if whose != "mine":
            shown |= Q(folder__in=folders_where(principal, Op.MANAGE_FILES).values("pk"))
        return Q(dataset__isnull=True) & shown
    if whose != "mine" and sees_every_storage_job(principal):
        return Q(dataset__isnull=True)
    return Q(dataset__isnull=True) & own


def visible(jobs: QuerySet, principal: Principal, whose: str) -> QuerySet:
    """`jobs` (DataJob or ReEncodeTask rows) the principal may list, annotated `own` and
    `may_retry` (job_retry.may_retry as a condition: RETRY_JOB on the dataset, or one's own job
    while one may WRITE_DATA there; never for a Files job, which has no dataset). No query until
    evaluated."""
    user = principal.user
    own = Q(created_by=user)
    shown = own & Q(dataset__in=datasets_where(principal, Op.READ).values("pk"))
    if whose != "mine":
        shown |= Q(dataset__in=datasets_where(principal, Op.SEE_JOBS).values("pk"))
    shown |= files_jobs(jobs.model, principal, whose)
    retry = Q(dataset__in=datasets_where(principal, Op.RETRY_JOB).values("pk")) | (
        own & Q(dataset__in=datasets_where(principal, Op.WRITE_DATA).values("pk"))
    )
    return jobs.filter(shown).annotate(
        own=Case(When(own, then=Value(True)), default=Value(False), output_field=BooleanField()),
        may_retry=Case(When(retry, then=Value(True)), default=Value(False), output_field=BooleanField()),
    )


def narrowed(jobs: QuerySet, f: JobFilters) -> QuerySet:
    """Jobs narrowed by the filters every kind shares: status, dataset, since, day. A re-encode's
    SUBMITTED is the PENDING of data jobs; FAILED and FAILED_ITEMS are decided by `failed`."""
    if f.status and f.status not in ("FAILED_ITEMS", "FAILED"):
        jobs = jobs.filter(status__in=[f.status, "SUBMITTED"] if f.status == "PENDING" else [f.status])
    if f.dataset_hash:
        jobs = jobs.filter(dataset__dataset_hash=f.dataset_hash)
    if f.since_time is not None:
        jobs = jobs.filter(created_at__gte=f.since_time)
    if f.day is not None:
        start = dt.datetime.combine(f.day, dt.time.min, tzinfo=dt.timezone.utc)
        jobs = jobs.filter(created_at__gte=start, created_at__lt=start + dt.timedelta(days=1))
    return jobs


def failed(jobs: QuerySet, status: str) -> QuerySet:
    """Jobs annotated `n_error` narrowed to FAILED_ITEMS (DONE with failed parts) or FAILED (that
    or ERROR), as the Overview counts them; any other status leaves them be."""
    with_failures = Q(status=m.JobStatus.DONE, n_error__gt=0)
    if status == "FAILED_ITEMS":
        return jobs.filter(with_failures)
    if status == "FAILED":
        return jobs.filter(with_failures | Q(status=m.JobStatus.ERROR))
    return jobs


def started_by(user: m.User | None, key: m.DatasetAPIKey | None = None) -> str:
    if user is not None:
        return user.email
    return f"API key {key.title}" if key is not None else ""


def list_jobs(principal: Principal, *, limit: int = 100, filters: JobFilters | None = None) -> list[orm.JobSummary]:
    """The jobs `principal` may list (module docstring), newest first, at most `limit`, narrowed by
    `filters`. Two queries whatever the number of jobs or of their starters."""
    limit = max(1, min(int(limit), 500))
    f = filters or JobFilters()
    done, error = m.JobStatus.DONE, m.JobStatus.ERROR
    first_error = Subquery(
        m.DataJobUnit.objects.filter(job=OuterRef("pk"), status=error).order_by("index").values("error")[:1]
    )
    data_jobs = (
        narrowed(visible(m.DataJob.objects.all(), principal, f.whose), f)
        .select_related("dataset", "folder", "created_by", "api_key")
        .annotate(
            n_done=Count("units", filter=Q(units__status=done)),
            n_error=Count("units", filter=Q(units__status=error)),
            first_error=first_error,
        )
    )
    if f.kind in ("upload", "import"):
        data_jobs = data_jobs.filter(kind=m.DataJob.KIND_UPLOAD if f.kind == "upload" else m.DataJob.KIND_PRIVATE)
    data_jobs = failed(data_jobs, f.status).order_by("-created_at", "-id")[:limit] if f.kind != "re-encode" else []
    tasks = (
        narrowed(visible(m.ReEncodeTask.objects.all(), principal, f.whose), f)
        .select_related("dataset", "created_by")
        .annotate(
            n_total=Count("videos"),
            n_done=Count("videos", filter=Q(videos__status="DONE")),
            n_error=Count("videos", filter=Q(videos__status="ERROR")),
        )
    )
    tasks = failed(tasks, f.status).order_by("-created_at", "-id")[:limit] if f.kind in ("", "re-encode") else []
    jobs = [data_job_summary(j) for j in data_jobs] + [task_summary(t) for t in tasks]
    jobs.sort(key=lambda j: j.created_at, reverse=True)
    return jobs[:limit]


def data_job_summary(j: m.DataJob) -> orm.JobSummary:
    """A dataset's job names its dataset; a Files upload or import (no dataset) its folder."""
    folder = j.folder if j.dataset is None else None
    return orm.JobSummary(
        kind="upload" if j.kind == m.DataJob.KIND_UPLOAD else "import",
        job_id=str(j.process_hash),
        dataset_hash=str(j.dataset.dataset_hash) if j.dataset else "",
        dataset_title=j.dataset.title if j.dataset else "",
        folder_uuid=str(folder.folder_uuid) if folder else "",
        folder_name=folder.name if folder else "",
        status=j.status,
        message=j.message,
        created_at=j.created_at,
        finished_at=j.finished_at,
        units_total=j.units_total,
        units_done=j.n_done,
        units_error=j.n_error,
        first_error=j.first_error or "",
        started_by=started_by(j.created_by, j.api_key),
        own=j.own,
        may_retry=j.may_retry,
    )


def task_summary(t: m.ReEncodeTask) -> orm.JobSummary:
    """A dataset's re-encode is known by its task id; a storage one (no dataset) by its process
    uuid, as folder.get_re_encoding_status names it."""
    return orm.JobSummary(
        kind="re-encode",
        job_id=str(t.pk) if t.dataset else str(t.process_uuid),
        dataset_hash=str(t.dataset.dataset_hash) if t.dataset else "",
        dataset_title=t.dataset.title if t.dataset else "",
        title=t.title,
        status=t.status,
        message=t.message,
        created_at=t.created_at,
        finished_at=t.finished_at,
        units_total=t.n_total,
        units_done=t.n_done,
        units_error=t.n_error,
        started_by=started_by(t.created_by),
        own=t.own,
        may_retry=t.may_retry,
    )


def job_datasets(principal: Principal, *, whose: str = "everyone", limit: int = 200) -> list[tuple[str, str]]:
    """(dataset_hash, title) of the datasets holding jobs `principal` may list (`whose` as in
    list_jobs), by title: the Jobs page's dataset filter. One query."""
    user = principal.user
    own = Q(pk__in=m.DataJob.objects.filter(created_by=user).values("dataset_id")) | Q(
        pk__in=m.ReEncodeTask.objects.filter(created_by=user).values("dataset_id")
    )
    shown = own & Q(pk__in=datasets_where(principal, Op.READ).values("pk"))
    if whose != "mine":
        any_job = Q(pk__in=m.DataJob.objects.values("dataset_id")) | Q(pk__in=m.ReEncodeTask.objects.values("dataset_id"))
        shown |= any_job & Q(pk__in=datasets_where(principal, Op.SEE_JOBS).values("pk"))
    rows = m.Dataset.objects.filter(shown).order_by("title").values_list("dataset_hash", "title")[:limit]
    return [(str(h), t) for h, t in rows]
