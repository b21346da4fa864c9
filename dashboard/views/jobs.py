"""The jobs page (uploads, imports and re-encodes across datasets) and one data job's page,
whose status partial polls itself every 2 s while the job runs (conventions §4)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.vary import vary_on_headers

from datasets_app.sdk import workers

from .common import dataset_page, is_partial, open_dataset, user_client


@login_required
@vary_on_headers("HX-Request")
def job_list(request):
    jobs = user_client(request).get_jobs(limit=200)
    running = any(not j.is_terminal for j in jobs)
    waiting = workers.jobs_waiting(jobs)  # per job: "no running worker takes its queue", or None
    context = {
        "jobs": jobs,
        "rows": list(zip(jobs, waiting)),
        "waiting": sorted({w for w in waiting if w}),
        "running": running,
        "nav": "jobs",
    }
    template = "partials/job_list_rows.html" if is_partial(request) else "jobs.html"
    return render(request, template, context)


@login_required
@vary_on_headers("HX-Request")
def data_job_detail(request, dataset_hash: str, process_hash: str):
    """One upload/import job: progress while PENDING, then the rows it made and per-item errors."""
    dataset = open_dataset(request, dataset_hash)
    job = dataset.get_data_job(str(process_hash))
    done = job.units_done_count + job.units_error_count + job.units_cancelled_count
    context = dataset_page(
        dataset,
        "data",
        job=job,
        percent=int(100 * done / job.units_total) if job.units_total else (100 if job.is_terminal else 0),
        waiting=None if job.is_terminal else workers.data_job_waiting(job.process_hash),
    )
    template = "partials/data_job_status.html" if is_partial(request) else "data_job.html"
    return render(request, template, context)
