"""A dataset's settings (rename), deletion, and actions on its data rows (inline rename, delete)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from dashboard.errors import add_form_error
from dashboard.forms import DataRowRenameForm, DataRowSelectionForm, DatasetDeleteForm, DatasetSettingsForm
from datasets_app.sdk.exceptions import InvalidArgumentError, ResourceNotFoundError
from datasets_app.sdk.policy import Op

from .common import dataset_page, is_partial, open_dataset


@login_required
@require_http_methods(["GET", "POST"])
def dataset_settings(request, dataset_hash: str):
    dataset = open_dataset(request, dataset_hash, Op.MANAGE)
    initial = {"title": dataset.title, "description": dataset.description}
    form = DatasetSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            dataset.rename(form.cleaned_data["title"], form.cleaned_data["description"])
        except InvalidArgumentError as error:
            add_form_error(form, error)
        else:
            messages.success(request, "Dataset settings saved.")
            return redirect("dashboard:dataset-settings", dataset_hash=dataset.dataset_hash)
    return render(request, "dataset_settings.html", dataset_page(dataset, "settings", form=form))


@login_required
@require_http_methods(["GET", "POST"])
def dataset_delete(request, dataset_hash: str):
    """GET: the confirmation asking for the title; POST: delete only when the title was typed."""
    dataset = open_dataset(request, dataset_hash, Op.MANAGE)
    form = DatasetDeleteForm(request.POST if request.method == "POST" else None, title=dataset.title)
    if request.method == "POST" and form.is_valid():
        title = dataset.title
        dataset.delete()
        messages.success(request, f"Dataset “{title}” deleted.")
        return redirect("dashboard:dataset-list")
    return render(request, "dataset_delete.html", dataset_page(dataset, "settings", form=form))


@login_required
@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
def data_row_rename(request, dataset_hash: str, data_hash: str):
    """GET: the row with a title form in place (htmx) or a page; POST: rename, then the row again."""
    dataset = open_dataset(request, dataset_hash, Op.WRITE_DATA)
    form = DataRowRenameForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            # Finds the row itself (not-found for another dataset's row), so it is read once, after.
            dataset.update_data_row(data_hash, title=form.cleaned_data["title"])
        except InvalidArgumentError as error:
            add_form_error(form, error)
        else:
            row = _row(dataset, data_hash)
            if not is_partial(request):
                messages.success(request, f"Renamed to “{row.title}”.")
                return redirect("dashboard:dataset-detail", dataset_hash=dataset.dataset_hash)
            return render(request, "partials/dataset_row.html", dataset_page(dataset, "data", row=row))
    row = _row(dataset, data_hash)
    form.initial = {"title": row.title}
    context = dataset_page(dataset, "data", row=row, form=form, editing=True)
    if is_partial(request):
        # htmx swaps only 2xx answers, so the row with its error comes back as a 200.
        return render(request, "partials/dataset_row.html", context)
    return render(request, "data_row_rename.html", context)


def _row(dataset, data_hash: str):
    """The row as the dataset table shows it (one query); ResourceNotFoundError if not here."""
    row = dataset.data_rows_queryset(data_hashes=[data_hash]).first()
    if row is None:
        raise ResourceNotFoundError(f"Data item {data_hash} not found in this dataset.")
    row.thumb_url = dataset.preview_urls([row]).get(str(row.data_hash))
    return row


@login_required
@require_http_methods(["GET", "POST"])
def data_rows_delete(request, dataset_hash: str):
    """GET ?data_hash=..: the confirmation listing the chosen rows; POST: delete them."""
    dataset = open_dataset(request, dataset_hash, Op.DELETE_DATA)
    form = DataRowSelectionForm(request.POST if request.method == "POST" else request.GET)
    back = reverse("dashboard:dataset-detail", args=[dataset.dataset_hash])
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("data_hash", ["Select at least one data item."])))
        return redirect(back)
    hashes = form.cleaned_data["data_hash"]
    if request.method == "POST":
        count = dataset.delete_data(hashes)
        messages.success(request, f"Deleted {count} data item{'s' if count != 1 else ''}.")
        if request.htmx:
            return HttpResponseClientRedirect(back)
        return redirect(back)
    rows = list(dataset.data_rows_queryset(data_hashes=hashes)[:500])
    if not rows:
        messages.error(request, "None of the selected items is in this dataset any more.")
        return redirect(back)
    return render(request, "data_rows_delete.html", dataset_page(dataset, "data", rows=rows))
