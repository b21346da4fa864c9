"""Acting on every row the data table's filter matches (issue 14): a confirm page saying how many
and which kinds, then delete, re-encode the videos, add to another dataset, or export as CSV/JSON
(streamed). The filter travels in the URL and the form, never the rows' ids."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from dashboard.forms import DataRowFilterForm
from datasets_app.sdk import bulk_rows
from datasets_app.sdk.bulk_rows import RowFilter
from datasets_app.sdk.exceptions import InvalidArgumentError
from datasets_app.sdk.policy import Op

from .common import dataset_page, open_dataset

# action -> the operation the dataset is opened for (the SDK checks it again)
ACTIONS = {"delete": Op.DELETE_DATA, "reencode": Op.WRITE_DATA, "link": Op.WRITE_DATA}
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


def _row_filter(data) -> RowFilter:
    form = DataRowFilterForm(data)
    cleaned = form.cleaned_data if form.is_valid() else {}
    return RowFilter(q=cleaned.get("q") or "", data_type=cleaned.get("data_type") or "")


def _confirm(request, dataset, row_filter: RowFilter, *, error: str = "", status: int = 200):
    figures = bulk_rows.summary(dataset, row_filter)
    query = {"q": row_filter.q, "data_type": row_filter.data_type}
    context = dataset_page(
        dataset, "data", crumb="Selected rows", figures=figures, row_filter=row_filter, error=error,
        query=urlencode({k: v for k, v in query.items() if v}),
        targets=bulk_rows.link_targets(dataset) if dataset.can(Op.WRITE_DATA) else [],
    )
    return render(request, "bulk_confirm.html", context, status=status)


@login_required
@require_GET
def bulk_confirm(request, dataset_hash: str):
    """How many rows match the filter and which kinds, and what can be done with all of them."""
    dataset = open_dataset(request, dataset_hash)
    return _confirm(request, dataset, _row_filter(request.GET))


@login_required
@require_POST
def bulk_apply(request, dataset_hash: str):
    action = request.POST.get("action", "")
    dataset = open_dataset(request, dataset_hash, ACTIONS.get(action, Op.READ))
    row_filter = _row_filter(request.POST)
    try:
        if action == "delete":
            n = bulk_rows.delete_matching(dataset, row_filter)
            messages.success(request, f"Deleted {n:,} row{'s' if n != 1 else ''}.")
        elif action == "reencode":
            tasks = bulk_rows.reencode_matching(dataset, row_filter)
            if len(tasks) == 1:
                return redirect("dashboard:reencode-task", dataset_hash=dataset.dataset_hash, task_id=tasks[0])
            messages.success(request, f"Queued {len(tasks)} re-encode task(s)." if tasks else "No video matches.")
        elif action == "link":
            target = request.POST.get("target", "")
            n = bulk_rows.link_matching(dataset, row_filter, target)
            messages.success(request, f"{n:,} item{'s are' if n != 1 else ' is'} in the chosen dataset now.")
        else:
            return _confirm(request, dataset, row_filter, error="Choose an action.", status=400)
    except InvalidArgumentError as error:
        return _confirm(request, dataset, row_filter, error=error.message, status=400)
    return redirect("dashboard:dataset-detail", dataset_hash=dataset.dataset_hash)


@login_required
@require_GET
def bulk_export(request, dataset_hash: str):
    """The matching rows as a CSV or JSON download, streamed as it is read."""
    dataset = open_dataset(request, dataset_hash)
    fmt = request.GET.get("format", "csv")
    lines = bulk_rows.export_rows(dataset, _row_filter(request.GET), fmt)
    response = StreamingHttpResponse(lines, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="dataset-{dataset.dataset_hash}.{fmt}"'
    return response
