"""Re-encoding: confirm the chosen videos, start the task, and its page (polled every 2 s while
SUBMITTED, without a trigger once DONE or ERROR), each video's result with a link to watch it."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from django.views.decorators.vary import vary_on_headers

from dashboard.forms import DataRowSelectionForm
from datasets_app.sdk import workers
from datasets_app.sdk.policy import Op

from .common import dataset_page, is_partial, open_dataset


@login_required
@require_http_methods(["GET", "POST"])
def reencode_start(request, dataset_hash: str):
    """GET ?data_hash=..: the videos that will be re-encoded; POST: start the task."""
    dataset = open_dataset(request, dataset_hash, Op.WRITE_DATA)
    form = DataRowSelectionForm(request.POST if request.method == "POST" else request.GET)
    back = reverse("dashboard:dataset-detail", args=[dataset.dataset_hash])
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("data_hash", ["Select at least one video."])))
        return redirect(back)
    videos = list(
        dataset.data_rows_queryset(data_hashes=form.cleaned_data["data_hash"], data_types=["VIDEO"])[:500]
    )
    if not videos:
        messages.error(request, "None of the selected items is a video of this dataset.")
        return redirect(back)
    if request.method == "POST":
        task_id = dataset.re_encode_data([str(v.data_hash) for v in videos])
        return redirect("dashboard:reencode-task", dataset_hash=dataset.dataset_hash, task_id=task_id)
    context = dataset_page(dataset, "data", videos=videos, skipped=len(form.cleaned_data["data_hash"]) - len(videos))
    return render(request, "reencode_start.html", context)


@login_required
@vary_on_headers("HX-Request")
def reencode_task(request, dataset_hash: str, task_id: int):
    dataset = open_dataset(request, dataset_hash)
    task = dataset.re_encode_task_progress(task_id)
    watch = {}
    if task.status == "DONE":
        status = dataset.re_encode_data_status(task_id, base_url=request.build_absolute_uri("/").rstrip("/"))
        watch = {r.data_hash: r.signed_url for r in status.result or []}
    total = task.frames_total
    videos = [
        {"v": v, "watch": watch.get(v.data_hash), "percent": _percent(v.frames_done, v.frames_total, v.status)}
        for v in task.videos
    ]
    context = dataset_page(
        dataset,
        "data",
        task=task,
        videos=videos,
        percent=_percent(task.frames_done, total, task.status),
        waiting=workers.reencode_waiting(task.status),
        done_videos=sum(1 for v in task.videos if v.status == "DONE"),
    )
    template = "partials/reencode_task_status.html" if is_partial(request) else "reencode_task.html"
    return render(request, template, context)


def _percent(done: int, total: int | None, status: str) -> int:
    if status in ("DONE", "ERROR"):
        return 100
    return min(99, int(100 * done / total)) if total else 0
