"""The organisation overview's figures, for organisation admins (Op.SEE_ORGANISATION): storage by
dataset, items added per day, jobs failed in the last week, videos whose frames may not line up.

Every figure is aggregated in the database (GROUP BY, SUM, COUNT); Python only fills the fixed
number of days a chart shows. `organisation_overview` makes 8 queries whatever the data size."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum, TextField, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from datasets_app import models as m
from datasets_app.media.video import VERDICT_AT_RISK, VERDICT_OK, VERDICT_UNKNOWN

from .policy import Op, Principal, require_org

REFUSAL = "Only organisation admins see the organisation overview."
TOP_DATASETS = 10
ITEM_DAYS = 30
JOB_DAYS = 7
# A video probed by no one yet has no verdict in media_info.
NOT_CHECKED = "not checked"
# Verdicts saying frame N in a browser may not be frame N in Python ("unknown": it could not be checked).
RISKY_VERDICTS = (VERDICT_AT_RISK, VERDICT_UNKNOWN)
VERDICT_ORDER = (VERDICT_AT_RISK, VERDICT_UNKNOWN, NOT_CHECKED, VERDICT_OK)


@dataclass(frozen=True)
class DatasetBytes:
    """One dataset's bytes: the sizes of the items it links, each item once."""

    dataset_hash: str
    title: str
    bytes: int
    items: int


@dataclass(frozen=True)
class OtherDatasets:
    """The datasets beyond the top ten, together."""

    datasets: int
    bytes: int
    items: int


@dataclass(frozen=True)
class DayCount:
    day: dt.date
    count: int


@dataclass(frozen=True)
class FailedJobsDay:
    """Jobs started on `day` that ended in ERROR, or DONE with failed items (the Jobs page's
    "Error" and "Done, some failed"), uploads, imports and re-encodes together."""

    day: dt.date
    errors: int
    with_failures: int

    @property
    def total(self) -> int:
        return self.errors + self.with_failures


@dataclass(frozen=True)
class VerdictCount:
    verdict: str
    count: int

    @property
    def is_risky(self) -> bool:
        return self.verdict in RISKY_VERDICTS


@dataclass(frozen=True)
class AtRiskDataset:
    """A dataset linking videos whose verdict is risky, and how many (each video once)."""

    dataset_hash: str
    title: str
    videos: int


@dataclass(frozen=True)
class Overview:
    storage: list[DatasetBytes]  # the top ten by bytes, largest first
    other: OtherDatasets | None  # the rest, None when there are no more than ten
    linked_bytes: int  # all datasets' bytes added up (an item in two datasets counts twice)
    hosted_bytes: int  # Files' items whose bytes we store, each once
    hosted_items: int
    files_bytes: int  # every item in Files (hosted and cloud), each once
    files_items: int
    items_per_day: list[DayCount]  # the last 30 days, oldest first, zeros included
    failed_jobs: list[FailedJobsDay]  # the last 7 days, oldest first, zeros included
    verdicts: list[VerdictCount]  # every video in Files, by verdict
    at_risk_datasets: list[AtRiskDataset]  # the ten holding most risky videos

    @property
    def is_empty(self) -> bool:
        return not (self.files_items or any(d.total for d in self.failed_jobs))

    @property
    def largest_bytes(self) -> int:
        return max([d.bytes for d in self.storage] + [self.other.bytes if self.other else 0])

    @property
    def largest_day_count(self) -> int:
        return max(d.count for d in self.items_per_day)

    @property
    def items_added(self) -> int:
        return sum(d.count for d in self.items_per_day)

    @property
    def largest_failed_day(self) -> int:
        return max(d.total for d in self.failed_jobs)

    @property
    def failed_errors(self) -> int:
        return sum(d.errors for d in self.failed_jobs)

    @property
    def failed_with_failures(self) -> int:
        return sum(d.with_failures for d in self.failed_jobs)

    @property
    def videos(self) -> int:
        return sum(v.count for v in self.verdicts)

    @property
    def videos_at_risk(self) -> int:
        return sum(v.count for v in self.verdicts if v.is_risky)


def organisation_overview(principal: Principal, *, now: dt.datetime | None = None) -> Overview:
    """The overview's figures as of `now` (days in UTC); AuthorisationError unless `principal` may
    SEE_ORGANISATION. 8 queries, each one aggregate, whatever the number of rows."""
    require_org(principal, Op.SEE_ORGANISATION, REFUSAL)
    today = (now or timezone.now()).astimezone(dt.timezone.utc).date()
    storage, other, linked_bytes = storage_by_dataset()
    # Hosted: we store its bytes (no url); an item linked by many datasets is one file.
    hosted = Q(url="")
    files = m.StorageItem.objects.aggregate(
        bytes=Sum("file_size"),
        items=Count("pk"),
        hosted_bytes=Sum("file_size", filter=hosted),
        hosted_items=Count("pk", filter=hosted),
    )
    return Overview(
        storage=storage,
        other=other,
        linked_bytes=linked_bytes,
        hosted_bytes=files["hosted_bytes"] or 0,
        hosted_items=files["hosted_items"],
        files_bytes=files["bytes"] or 0,
        files_items=files["items"],
        items_per_day=items_per_day(today),
        failed_jobs=failed_jobs_per_day(today),
        verdicts=video_verdicts(),
        at_risk_datasets=at_risk_datasets(),
    )


def distinct_links() -> QuerySet[m.DataRow]:
    """Rows, leaving out a dataset's second link to an item it already links (so each dataset
    counts an item once); an anti-join on the (dataset, item) index."""
    earlier = m.DataRow.objects.filter(
        dataset=OuterRef("dataset"), item=OuterRef("item"), pk__lt=OuterRef("pk")
    )
    return m.DataRow.objects.filter(~Exists(earlier)).order_by()


def storage_by_dataset() -> tuple[list[DatasetBytes], OtherDatasets | None, int]:
    """The top ten datasets by bytes, the rest together, and all datasets' bytes. Two queries."""
    links = distinct_links()
    per_dataset = (
        links.values("dataset_id", "dataset__dataset_hash", "dataset__title")
        .annotate(bytes=Coalesce(Sum("item__file_size"), 0), items=Count("pk"))
        .order_by("-bytes", "dataset__title", "dataset_id")
    )
    top = [
        DatasetBytes(
            dataset_hash=str(row["dataset__dataset_hash"]),
            title=row["dataset__title"],
            bytes=row["bytes"],
            items=row["items"],
        )
        for row in per_dataset[:TOP_DATASETS]
    ]
    totals = links.aggregate(
        datasets=Count("dataset_id", distinct=True), bytes=Sum("item__file_size"), items=Count("pk")
    )
    linked_bytes = totals["bytes"] or 0
    other = None
    if totals["datasets"] > len(top):
        other = OtherDatasets(
            datasets=totals["datasets"] - len(top),
            bytes=linked_bytes - sum(d.bytes for d in top),
            items=totals["items"] - sum(d.items for d in top),
        )
    return top, other, linked_bytes


def day_counts(rows: QuerySet, *, first: dt.date, days: int) -> dict[dt.date, dict]:
    """{day: row} for rows carrying a `day` value, from `first` for `days` days."""
    by_day = {row["day"]: row for row in rows}
    return {first + dt.timedelta(days=i): by_day.get(first + dt.timedelta(days=i), {}) for i in range(days)}


def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.timezone.utc)


def items_per_day(today: dt.date) -> list[DayCount]:
    """Storage items created on each of the last 30 days (UTC), oldest first. One query."""
    first = today - dt.timedelta(days=ITEM_DAYS - 1)
    rows = (
        m.StorageItem.objects.filter(
            created_at__gte=day_start(first), created_at__lt=day_start(today + dt.timedelta(days=1))
        )
        .annotate(day=TruncDate("created_at", tzinfo=dt.timezone.utc))
        .order_by()
        .values("day")
        .annotate(count=Count("pk"))
    )
    per_day = day_counts(rows, first=first, days=ITEM_DAYS)
    return [DayCount(day, row.get("count", 0)) for day, row in per_day.items()]


def failed_per_day(jobs: QuerySet, failed_part: Exists, *, first: dt.date, end: dt.date) -> QuerySet:
    """Per day started (from `first`, before `end`), jobs that ended in ERROR and jobs DONE with
    a `failed_part` (a unit or video in ERROR). One query when evaluated."""
    return (
        jobs.filter(created_at__gte=day_start(first), created_at__lt=day_start(end))
        .filter(Q(status=m.JobStatus.ERROR) | Q(failed_part, status=m.JobStatus.DONE))
        .annotate(day=TruncDate("created_at", tzinfo=dt.timezone.utc))
        .order_by()
        .values("day")
        .annotate(
            errors=Count("pk", filter=Q(status=m.JobStatus.ERROR)),
            with_failures=Count("pk", filter=Q(status=m.JobStatus.DONE)),
        )
    )


def failed_jobs_per_day(today: dt.date) -> list[FailedJobsDay]:
    """Data jobs and re-encodes that failed, per day started, the last 7 days. Two queries."""
    first, end = today - dt.timedelta(days=JOB_DAYS - 1), today + dt.timedelta(days=1)
    failed_unit = Exists(m.DataJobUnit.objects.filter(job=OuterRef("pk"), status=m.JobStatus.ERROR))
    failed_video = Exists(m.ReEncodeVideo.objects.filter(task=OuterRef("pk"), status=m.ReEncodeStatus.ERROR))
    data = day_counts(
        failed_per_day(m.DataJob.objects.all(), failed_unit, first=first, end=end), first=first, days=JOB_DAYS
    )
    tasks = day_counts(
        failed_per_day(m.ReEncodeTask.objects.all(), failed_video, first=first, end=end),
        first=first,
        days=JOB_DAYS,
    )
    return [
        FailedJobsDay(
            day=day,
            errors=data[day].get("errors", 0) + tasks[day].get("errors", 0),
            with_failures=data[day].get("with_failures", 0) + tasks[day].get("with_failures", 0),
        )
        for day in data
    ]


def video_verdicts() -> list[VerdictCount]:
    """Every video in Files by frame-sync verdict (media_info["verdict"]; none yet: "not
    checked"), the four known verdicts always, in VERDICT_ORDER, then any other. One query."""
    rows = (
        m.StorageItem.objects.filter(item_type=m.DataType.VIDEO)
        .annotate(
            verdict=Coalesce(
                KeyTextTransform("verdict", "media_info"), Value(NOT_CHECKED), output_field=TextField()
            )
        )
        .order_by()
        .values("verdict")
        .annotate(count=Count("pk"))
    )
    counts = {row["verdict"]: row["count"] for row in rows}
    if not counts:
        return []
    known = [VerdictCount(v, counts.pop(v, 0)) for v in VERDICT_ORDER]
    return known + [VerdictCount(v, n) for v, n in sorted(counts.items())]


def at_risk_datasets() -> list[AtRiskDataset]:
    """The ten datasets linking most videos with a risky verdict (each video once). One query."""
    rows = (
        m.DataRow.objects.filter(
            item__item_type=m.DataType.VIDEO, item__media_info__verdict__in=RISKY_VERDICTS
        )
        .order_by()
        .values("dataset_id", "dataset__dataset_hash", "dataset__title")
        .annotate(videos=Count("item_id", distinct=True))
        .order_by("-videos", "dataset__title", "dataset_id")[:TOP_DATASETS]
    )
    return [
        AtRiskDataset(
            dataset_hash=str(r["dataset__dataset_hash"]), title=r["dataset__title"], videos=r["videos"]
        )
        for r in rows
    ]
