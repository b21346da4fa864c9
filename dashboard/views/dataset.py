"""One dataset's page: its data rows, filtered by title and type (HTMX keeps the URL)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from django.views.decorators.vary import vary_on_headers

from dashboard.forms import DataRowFilterForm
from datasets_app.sdk import data_table, dataset_stats, files_browse
from datasets_app.sdk.exceptions import InvalidArgumentError
from datasets_app.sdk.policy import Op

from .common import dataset_page, is_partial, like_contains, open_dataset
from .frame_plot import frame_duration_plot

PAGE_SIZE = 100
MAX_COLUMNS = 8
# Column headers that sort, in the table's order: (sort key, heading, hidden on phones).
SORT_HEADERS = [("title", "Title", False), ("type", "Type", False), ("duration", "Duration", True),
                ("size", "Size", True), ("created", "Created", True)]


@dataclass(frozen=True)
class TablePosition:
    """Where a page sits: rows `start`-`end` of `total` ("10,000+" when only counted to the cap)."""

    start: int
    end: int
    total: int
    exact: bool
    from_end: bool = False


def _int_param(request, name: str, default: int) -> int:
    try:
        return max(1, int(request.GET.get(name, default)))
    except ValueError:
        return default


def _metadata_columns(request) -> list[str]:
    """Metadata keys chosen as columns (col=key, repeated or comma-separated), in the URL."""
    keys = [k.strip() for v in request.GET.getlist("col") for k in v.split(",")]
    return list(dict.fromkeys(k for k in keys if k and len(k) <= 200))[:MAX_COLUMNS]


def _table(request, dataset, row_filters: dict, figures) -> dict:
    """The data table's page, its position, sort links and metadata columns (3-4 queries)."""
    sort = data_table.Sort.parse(request.GET.get("sort"))
    qs = data_table.table_queryset(dataset.model, dataset.data_rows_queryset(**row_filters))
    args = {k: request.GET.get(k) for k in ("after", "before")}
    count = data_table.matching_count(figures, qs, **row_filters)
    last = "last" in request.GET
    # With an exact count the last page holds what is left after the full pages before it, so
    # "Previous" from there meets the pages "Next" walks through.
    limit = (count.value % PAGE_SIZE or PAGE_SIZE) if (last and count.exact) else PAGE_SIZE
    try:
        page = data_table.rows_page(qs, sort, **args, last=last, limit=limit)
    except InvalidArgumentError:  # a tampered or stale cursor: start again from the first page
        page, args = data_table.rows_page(qs, sort, limit=PAGE_SIZE), {}
    if "last" in request.GET:
        start = max(1, count.value - len(page.rows) + 1)
    elif not (args.get("after") or args.get("before")) or (args.get("before") and not page.prev_cursor):
        start = 1
    else:
        start = _int_param(request, "at", 1)
    end = start + len(page.rows) - 1
    columns = _metadata_columns(request)
    seen_keys: set[str] = set()
    for row in page.rows:
        metadata = row.item.client_metadata if isinstance(row.item.client_metadata, dict) else {}
        seen_keys.update(metadata)
        row.meta_cells = [metadata.get(k, "") for k in columns]
    query = request.GET.copy()
    for name in ("after", "before", "last", "at"):
        query.pop(name, None)
    base = query.copy()
    base.pop("sort", None)
    headers = []
    for key, heading, hide in SORT_HEADERS:
        active = sort.key == key
        nxt = base.copy()
        nxt["sort"] = data_table.Sort(key, active and not sort.desc).param
        state = ("descending" if sort.desc else "ascending") if active else None
        headers.append({"key": key, "heading": heading, "hide": hide, "href": nxt.urlencode(), "state": state})
    return {
        "page": page,
        "position": TablePosition(start, max(end, start - 1), max(count.value, end), count.exact, "last" in request.GET),
        "sort": sort,
        "sort_headers": {h["key"]: h for h in headers},
        "columns": columns,
        "metadata_keys": sorted(seen_keys)[:50],  # suggestions: the keys on this page
        "query": query.urlencode(),
        "prev_at": max(1, start - PAGE_SIZE),
        "next_at": end + 1,
        "numbered": _numbered(qs, sort, page, start, end, query.urlencode()),
    }


def _numbered(qs, sort, page, start: int, end: int, query: str) -> list[dict]:
    """Numbered links to up to two pages either side (keyset cursors, one keys-only query each way)."""
    near = data_table.nearby_pages(qs, sort, page, limit=PAGE_SIZE)
    tail = f"&{query}" if query else ""
    links = [
        {"n": (at - 1) // PAGE_SIZE + 1, "href": f"?at={at}&before={c}{tail}"}
        for k, c in enumerate(near["behind"], 1)
        if (at := start - k * PAGE_SIZE) >= 1
    ][::-1]
    links.append({"n": (start - 1) // PAGE_SIZE + 1, "href": "", "current": True})
    for k, cursor in enumerate(near["ahead"]):
        at = end + 1 + k * PAGE_SIZE
        links.append({"n": (at - 1) // PAGE_SIZE + 1, "href": f"?at={at}&after={cursor}{tail}"})
    return links if len(links) > 1 else []


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
    figures = dataset_stats.figures_for([dataset.model.pk])[dataset.model.pk]
    table = _table(request, dataset, row_filters, figures)
    _attach_previews(request, dataset, table["page"].rows)
    # "Re-encode videos..." only where there is a video to re-encode (one indexed EXISTS).
    has_videos = dataset.can(Op.WRITE_DATA) and dataset.data_rows_queryset(data_types=["VIDEO"]).exists()
    context = dataset_page(
        dataset, "data", form=form, has_videos=has_videos, figures=figures,
        filtered=bool(filters.get("q") or filters.get("data_type")), **table,
    )
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
    context.update(_metadata_context(row))
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


def metadata_rows(metadata) -> list[tuple[str, str]]:
    """(key, value as text) of an item's metadata, by key; nested values as JSON."""
    if not isinstance(metadata, dict):
        return []
    shown = []
    for key in sorted(metadata):
        value = metadata[key]
        shown.append((key, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)))
    return shown


def _parse_metadata(text: str) -> tuple[dict | None, str]:
    """The JSON object typed in, or None and what is wrong with it, said for a person."""
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError as error:
        return None, f"That is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})."
    if not isinstance(value, dict):
        return None, "Metadata must be a JSON object: {\"key\": value, ...}."
    return value, ""


@login_required
@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
def data_row_metadata(request, dataset_hash: str, data_hash: str):
    """GET: the item's metadata card (editing=1: with its JSON editor); POST: replace the item's
    metadata (WRITE_DATA; the item's, so every dataset linking it shows it), then the card again."""
    dataset = open_dataset(request, dataset_hash, Op.WRITE_DATA if request.method == "POST" else Op.READ)
    error, text = "", None
    if request.method == "POST":
        text = request.POST.get("client_metadata", "")
        value, error = _parse_metadata(text)
        if value is not None:
            try:
                dataset.update_data_row(data_hash, client_metadata=value)
            except InvalidArgumentError as failure:
                error = failure.message
            else:
                if not is_partial(request):
                    messages.success(request, "Metadata saved.")
                    return redirect("dashboard:data-row", dataset_hash=dataset.dataset_hash, data_hash=data_hash)
                text = None
    row = dataset.data_rows_queryset(data_hashes=[data_hash]).first()
    if row is None:
        raise Http404("No such data item in this dataset.")
    editing = bool(error) or (request.method == "GET" and "edit" in request.GET)
    context = dataset_page(dataset, "data", row=row, **_metadata_context(row, editing, error, text))
    template = "partials/dataset_row_metadata.html" if is_partial(request) else "data_row_metadata.html"
    return render(request, template, context, status=400 if error and not is_partial(request) else 200)


def _metadata_context(row, editing: bool = False, error: str = "", text: str | None = None) -> dict:
    metadata = row.item.client_metadata if isinstance(row.item.client_metadata, dict) else {}
    return {
        "metadata": metadata_rows(metadata),
        "metadata_json": text if text is not None else json.dumps(metadata, indent=2, ensure_ascii=False),
        "metadata_editing": editing,
        "metadata_error": error,
    }


def _attach_previews(request, dataset, rows) -> None:
    """Sets `thumb_url` on each row (signed thumbnail URL or None); no query."""
    previews = dataset.preview_urls(rows, base_url=request.build_absolute_uri("/").rstrip("/"))
    for row in rows:
        row.thumb_url = previews.get(str(row.data_hash))
