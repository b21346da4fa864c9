"""One dataset's page: its data rows, filtered by title and type (HTMX keeps the URL)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.vary import vary_on_headers

from dashboard.errors import sdk_errors_as_http
from dashboard.forms import DataRowFilterForm
from datasets_app.sdk.policy import Op

from .common import is_partial, like_contains, user_client

PAGE_SIZE = 100


@login_required
@vary_on_headers("HX-Request")
def dataset_detail(request, dataset_hash: str):
    with sdk_errors_as_http():
        dataset = user_client(request).get_dataset(dataset_hash)
    form = DataRowFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    rows = dataset.data_rows_queryset(
        title_like=like_contains(filters.get("q")),
        data_types=[filters["data_type"]] if filters.get("data_type") else None,
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "dataset": dataset,
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "can_write": dataset.can(Op.WRITE_DATA),
        "can_delete": dataset.can(Op.DELETE_DATA),
        "can_manage": dataset.can(Op.MANAGE),
        "selectable": dataset.can(Op.DELETE_DATA),
        "tab": "data",
    }
    template = "partials/dataset_rows.html" if is_partial(request) else "dataset.html"
    return render(request, template, context)


@login_required
@vary_on_headers("HX-Request")
def data_row_detail(request, dataset_hash: str, data_hash: str):
    """One data item: its page, or (htmx) its table row, e.g. when an inline rename is cancelled."""
    with sdk_errors_as_http():
        dataset = user_client(request).get_dataset(dataset_hash)
        row = dataset.data_rows_queryset(data_hashes=[data_hash]).first()
    if row is None:
        raise Http404("No such data item in this dataset.")
    context = {
        "dataset": dataset,
        "row": row,
        "can_write": dataset.can(Op.WRITE_DATA),
        "can_delete": dataset.can(Op.DELETE_DATA),
        "can_manage": dataset.can(Op.MANAGE),
        "selectable": dataset.can(Op.DELETE_DATA),
        "tab": "data",
    }
    template = "partials/dataset_row.html" if is_partial(request) else "data_row.html"
    return render(request, template, context)
