"""The jobs page (uploads, imports and re-encodes across datasets and Files, filtered by kind, status,
dataset, time or one day, and whose in the URL) and one data job's page, whose status partial
polls itself every 2 s while the job runs (conventions §4). POSTing "retry" to a data job's page retries its failed items."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods
from django.views.decorators.vary import vary_on_headers

from datasets_app.sdk import job_listing, job_retry, workers
from datasets_app.sdk.exceptions import InvalidArgumentError

from .common import dataset_page, is_partial, open_dataset, user_client

SINCE_LABELS = {"hour": "Last hour", "day": "Last day", "week": "Last week", "all": "All time"}
STATUS_LABELS = {
    "PENDING": "Running",
    "DONE": "Done",
    "FAILED_ITEMS": "Done, some failed",
    "ERROR": "Error",
    "CANCELLED": "Cancelled",
    "FAILED": "Failed (error or some items)",
}
WHOSE_LABELS = {"everyone": "Everyone", "mine": "Mine"}


@login_required
@vary_on_headers("HX-Request")
def job_list(request):
    """The jobs this user may list (organisation admins everyone's, dataset and folder ADMINs those
    of the datasets and folders they administer, everyone their own: sdk/job_listing), filtered by
    the URL. Files jobs name their folder (or Files) where dataset jobs name their dataset."""
    client = user_client(request)
    try:
        filters = job_listing.clean_job_filters(request.GET)
    except InvalidArgumentError as error:
        messages.error(request, f"{error} Showing all jobs instead.")
        filters = job_listing.JobFilters()
    jobs = client.get_jobs(limit=200, filters=filters)
    waiting = workers.jobs_waiting(jobs)  # per job: "no running worker takes its queue", or None
    partial = is_partial(request)
    context = {
        "jobs": jobs,
        "rows": list(zip(jobs, waiting)),
        "retryable": job_retry.retryable(
            [j.job_id for j in jobs if j.may_retry and j.kind != "re-encode" and j.units_error and j.is_terminal]
        ),
        "waiting": sorted({w for w in waiting if w}),
        "running": any(not j.is_terminal for j in jobs),
        "filters": filters,
        # Whose and Started by mean something only to those who may list others' jobs.
        "sees_others": client.sees_others_jobs(),
        "kinds": job_listing.JOB_KINDS,
        "statuses": STATUS_LABELS,
        "since_choices": SINCE_LABELS,
        "whose_choices": WHOSE_LABELS,
        "job_datasets": [] if partial else _dataset_choices(client, jobs, filters),
        "nav": "jobs",
    }
    template = "partials/job_list_rows.html" if partial else "jobs.html"
    return render(request, template, context)


def _dataset_choices(client, jobs, filters) -> list[tuple[str, str]]:
    """The dataset filter's options: those of the listed jobs when nothing narrows the list (no
    query), else every dataset holding jobs this user may list (one query). Files jobs have none."""
    if not filters.active:
        listed = {(j.dataset_hash, j.dataset_title) for j in jobs if j.in_dataset}
        return sorted(listed, key=lambda d: (d[1].lower(), d[0]))
    return client.job_datasets(whose=filters.whose)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
@vary_on_headers("HX-Request")
def data_job_detail(request, dataset_hash: str, process_hash: str):
    """One upload/import job: progress while PENDING, then the rows it made and per-item errors."""
    if request.method == "POST":
        return retry_data_job(request, dataset_hash, process_hash)
    dataset = open_dataset(request, dataset_hash)
    job = dataset.get_data_job(str(process_hash))
    done = job.units_done_count + job.units_error_count + job.units_cancelled_count
    context = dataset_page(
        dataset,
        "data",
        job=job,
        percent=int(100 * done / job.units_total) if job.units_total else (100 if job.is_terminal else 0),
        waiting=None if job.is_terminal else workers.data_job_waiting(job.process_hash),
        # The page is its starter's (get_data_job): they may retry while they may add data.
        can_retry=job.is_terminal
        and bool(job.units_error_count)
        and job_retry.may_retry_own(dataset.principal, dataset.model)
        and job_retry.errors_retryable(job.data_unit_errors),
    )
    template = "partials/data_job_status.html" if is_partial(request) else "data_job.html"
    return render(request, template, context)


def retry_data_job(request, dataset_hash: str, process_hash: str):
    """Retry the failed items; back to where the button was (the job's page, or the Jobs list)."""
    job_url = reverse("dashboard:data-job", args=[dataset_hash, process_hash])
    back = request.POST.get("next") or job_url
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = job_url
    try:
        count = job_retry.retry_data_job(user_client(request).principal, dataset_hash, process_hash)
    except InvalidArgumentError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Retrying {count} failed item{'s' if count != 1 else ''}.")
    return redirect(back)
