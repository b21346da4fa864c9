"""One dataset's page: its data rows, filtered by title and type (HTMX keeps the URL)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.vary import vary_on_headers

from dashboard.forms import DataRowFilterForm
from datasets_app.sdk import files_browse
from datasets_app.sdk.exceptions import InvalidArgumentError
from datasets_app.sdk.policy import Op

from .common import dataset_page, is_partial, like_contains, open_dataset
from .frame_plot import frame_duration_plot

PAGE_SIZE = 100


@dataclass(frozen=True)
class KeysetPage:
    """One page of rows and the cursor of the next (None on the last page)."""

    object_list: list
    next_cursor: str | None
    is_first: bool

    @property
    def has_other_pages(self) -> bool:
        return bool(self.next_cursor) or not self.is_first


@login_required
@vary_on_headers("HX-Request")
def dataset_detail(request, dataset_hash: str):
    dataset = open_dataset(request, dataset_hash)
    form = DataRowFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    row_filters = {
        "title_like": like_contains(filters.get("q")),
        "data_types": [filters["data_type"]] if filters.get("data_type") else None,
    }
    # Keyset pages: the same cost on page 1 and at row 1,000,000 (no OFFSET, no COUNT).
    try:
        rows, next_cursor = dataset.data_rows_page(after=request.GET.get("after"), limit=PAGE_SIZE, **row_filters)
        after = request.GET.get("after")
    except InvalidArgumentError:  # a tampered or stale cursor: start again from the first page
        rows, next_cursor = dataset.data_rows_page(limit=PAGE_SIZE, **row_filters)
        after = None
    page = KeysetPage(object_list=rows, next_cursor=next_cursor, is_first=not after)
    _attach_previews(request, dataset, page.object_list)
    query = request.GET.copy()
    query.pop("after", None)
    # "Re-encode videos..." only where there is a video to re-encode (one indexed EXISTS).
    has_videos = dataset.can(Op.WRITE_DATA) and dataset.data_rows_queryset(data_types=["VIDEO"]).exists()
    context = dataset_page(dataset, "data", form=form, page=page, query=query.urlencode(), has_videos=has_videos)
    template = "partials/dataset_rows.html" if is_partial(request) else "dataset.html"
    return render(request, template, context)


@login_required
@vary_on_headers("HX-Request")
def data_row_detail(request, dataset_hash: str, data_hash: str):
    """One data item: its page (images in order, frame-sync panel), or (htmx) its table row,
    e.g. when an inline rename is cancelled."""
    dataset = open_dataset(request, dataset_hash)
    row = dataset.data_rows_queryset(data_hashes=[data_hash]).first()
    if row is None:
        raise Http404("No such data item in this dataset.")
    _attach_previews(request, dataset, [row])
    context = dataset_page(dataset, "data", row=row)
    if is_partial(request):
        return render(request, "partials/dataset_row.html", context)
    context["whereabouts"] = files_browse.row_whereabouts(dataset.principal, row)
    base = request.build_absolute_uri("/").rstrip("/")
    # The row's current file (after a re-encode, the new one): hosted -> our signed URL, private ->
    # its integration's signed link. The players and "Download the original" use it.
    context["media_url"] = dataset.get_data_row(str(row.data_hash), signed_url=True, base_url=base).signed_url
    if row.data_type in ("IMG_GROUP", "DICOM"):
        context["images"] = dataset.image_group_images(str(row.data_hash), base_url=base)
        context["sequence_video"] = dataset.sequence_video(str(row.data_hash), base_url=base)
        if row.data_type == "IMG_GROUP":  # the one-by-one viewer (DICOM files are not pictures)
            context["sequence"] = [
                {"src": image.signed_url, "title": image.title, "seq": image.data_sequence}
                for image, _thumb in context["images"]
            ]
    if row.data_type == "VIDEO":
        try:
            timestamps = dataset.get_frame_timestamps(str(row.data_hash))
        except InvalidArgumentError as error:
            context["frame_sync_error"] = error.message
        else:
            if timestamps.pending:  # measured by the worker; this page probes nothing
                context["frame_sync_pending"] = timestamps.reasons
            else:
                context["frame_sync"] = timestamps
                # Frame n's presentation time, for the player's frame counter and stepping.
                context["frame_times"] = [round(t, 6) for t in timestamps.times]
                context["plot"] = frame_duration_plot(timestamps.times, timestamps.fps)
    return render(request, "data_row.html", context)


def _attach_previews(request, dataset, rows) -> None:
    """Sets `thumb_url` on each row (signed thumbnail URL or None); no query."""
    previews = dataset.preview_urls(rows, base_url=request.build_absolute_uri("/").rstrip("/"))
    for row in rows:
        row.thumb_url = previews.get(str(row.data_hash))
