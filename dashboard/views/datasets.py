"""The datasets list (with HTMX filters) and dataset creation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from django.views.decorators.vary import vary_on_headers

from dashboard.errors import add_form_error
from dashboard.forms import DatasetCreateForm, DatasetFilterForm
from datasets_app.sdk import dataset_stats, policy
from datasets_app.sdk.exceptions import InvalidArgumentError
from datasets_app.sdk.policy import Op

from .common import day_end, day_start, is_partial, like_contains, user_client

PAGE_SIZE = 50


@dataclass(frozen=True)
class DatasetListRow:
    """One row of the datasets table, as plain values (the template runs no query)."""

    dataset_hash: str
    title: str
    description: str
    user_role: int | None
    storage: str
    folder: str | None
    created_at: dt.datetime
    last_edited_at: dt.datetime
    figures: dataset_stats.Figures

    @classmethod
    def of(cls, dataset, figures: dataset_stats.Figures) -> DatasetListRow:
        return cls(
            dataset_hash=str(dataset.dataset_hash),
            title=dataset.title,
            description=dataset.description,
            user_role=dataset.user_role,
            storage=dataset.get_storage_location_display(),
            folder=dataset.backing_folder.name if dataset.backing_folder_id else None,
            created_at=dataset.created_at,
            last_edited_at=dataset.last_edited_at,
            figures=figures,
        )


@login_required
@vary_on_headers("HX-Request")
def dataset_list(request):
    client = user_client(request)
    form = DatasetFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    # created_after/edited_after are "from this day on": the SDK's bounds are strict, so step back 1 µs.
    tick = dt.timedelta(microseconds=1)
    qs = client.filter_datasets(
        client.visible_datasets(include_org_access=bool(filters.get("all"))),
        title_like=like_contains(filters.get("q")),
        desc_like=like_contains(filters.get("description")),
        created_after=(day_start(filters.get("created_after")) - tick) if filters.get("created_after") else None,
        created_before=day_end(filters.get("created_before")),
        edited_after=(day_start(filters.get("edited_after")) - tick) if filters.get("edited_after") else None,
        edited_before=day_end(filters.get("edited_before")),
    )
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    # Counted and read here, so the page handed to the template holds plain rows.
    page.paginator.count  # noqa: B018 - cached on the paginator
    # Counts and bytes from the maintained counters: one query for the page, no COUNT per dataset.
    figures = dataset_stats.figures_for([ds.pk for ds in page.object_list])
    page.object_list = [DatasetListRow.of(ds, figures[ds.pk]) for ds in page.object_list]
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "filtered": any(filters.get(k) for k in ("q", "description", "created_after", "created_before", "edited_after", "edited_before")),
        "can_see_organisation": policy.may(client.principal, Op.SEE_ORGANISATION),
    }
    template = "partials/dataset_list_rows.html" if is_partial(request) else "dataset_list.html"
    return render(request, template, context)


@login_required
@require_http_methods(["GET", "POST"])
def dataset_create(request):
    form = DatasetCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            created = user_client(request).create_dataset(
                form.cleaned_data["title"],
                form.cleaned_data["storage_location"],
                form.cleaned_data["description"],
                create_backing_folder=True,  # a dashboard dataset always mirrors a folder of its own
            )
        except InvalidArgumentError as error:
            add_form_error(form, error, {"dataset_type": "storage_location"})
        else:
            messages.success(request, f"Dataset “{created.title}” created.")
            return redirect("dashboard:dataset-detail", dataset_hash=created.dataset_hash)
    return render(request, "dataset_create.html", {"form": form})
