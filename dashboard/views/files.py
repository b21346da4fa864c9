"""The Files area: top-level folders, a folder's page (breadcrumbs, subfolders, items with a
metadata filter in the URL), create / edit folders, edit items, and "Add to dataset" from a
selection. Each view parses, makes one SDK-layer call and picks a template; a missing or
forbidden folder is the site's 404 (dashboard/errors.py)."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from django.views.decorators.vary import vary_on_headers

from dashboard.errors import add_form_error
from dashboard.files_forms import OP_CHOICES, FolderForm, ItemEditForm, LinkForm
from datasets_app.sdk import files_browse, storage_folders, storage_item_changes, storage_items
from datasets_app.sdk.exceptions import InvalidArgumentError, ResourceExistsError
from datasets_app.sdk.folder_tree import Listing

from .common import is_partial, user_client

FOLDER_FIELDS = {"name": "name", "description": "description", "client_metadata": "metadata"}


def principal_of(request: HttpRequest):
    return user_client(request).principal


def base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


def filter_state(request: HttpRequest) -> dict:
    """The folder page's filter as the URL holds it: metadata conditions, recursion, columns."""
    return {
        "conditions": [c for c in request.GET.getlist("meta") if c.strip()][:50],
        "recursive": request.GET.get("recursive") in ("1", "true", "True", "on"),
        "columns": request.GET.getlist("col"),
    }


def without(request: HttpRequest, key: str, value: str) -> str:
    query = request.GET.copy()
    query.setlist(key, [v for v in query.getlist(key) if v != value])
    query.pop("after", None)
    return query.urlencode()


@login_required
def files_home(request):
    """Top-level folders the user reaches, and a form to start one."""
    page = storage_folders.list_storage_folders(
        principal_of(request), listing=Listing(page_size=100, page_token=request.GET.get("after") or None)
    )
    return render(request, "files.html", {"nav": "files", "page": page, "form": FolderForm()})


@login_required
@require_http_methods(["POST"])
def folder_create(request, folder_uuid=None):
    """Creates a top-level folder or (with folder_uuid) a subfolder; errors stay next to the form."""
    form = FolderForm(request.POST)
    if form.is_valid():
        try:
            created = storage_folders.create_storage_folder(
                principal_of(request),
                form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                client_metadata=form.cleaned_data["metadata"],
                parent_folder=folder_uuid,
            )
        except InvalidArgumentError as error:
            add_form_error(form, error, FOLDER_FIELDS)
        else:
            messages.success(request, f"Created folder {created.name}.")
            return redirect("dashboard:folder", folder_uuid=created.uuid)
    messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    if folder_uuid is None:
        return redirect("dashboard:files")
    return redirect("dashboard:folder", folder_uuid=folder_uuid)


@login_required
@vary_on_headers("HX-Request")
def folder_detail(request, folder_uuid):
    """A folder: breadcrumbs, subfolders, and a keyset page of its items (htmx: the items part).
    The filter builder's new condition (mk, mo, mv) is folded into `meta` by a redirect, so the
    URL always holds the conditions as `key:op:value`."""
    if request.GET.get("mk"):
        query = request.GET.copy()
        condition = f"{query.pop('mk')[0]}:{query.pop('mo', ['eq'])[0]}"
        value = query.pop("mv", [""])[0]
        query.appendlist("meta", f"{condition}:{value}" if value else condition)
        query.pop("after", None)
        return redirect(f"{reverse('dashboard:folder', args=[folder_uuid])}?{query.urlencode()}")
    state = filter_state(request)
    view = files_browse.folder_view(
        principal_of(request), folder_uuid, after=request.GET.get("after") or None, base_url=base_url(request), **state
    )
    query = request.GET.copy()
    query.pop("after", None)
    context = {
        "nav": "files",
        "view": view,
        "folder": view.folder,
        "query": query.urlencode(),
        "recursive": state["recursive"],
        "removals": [(c, without(request, "meta", c)) for c in view.conditions],
        "op_choices": OP_CHOICES,
        "is_first": not request.GET.get("after"),
        "form": FolderForm(),
    }
    template = "partials/files_items.html" if is_partial(request) else "files_folder.html"
    return render(request, template, context)


@login_required
@require_http_methods(["GET", "POST"])
def folder_edit(request, folder_uuid):
    """Rename, describe, replace the metadata of a folder (WRITE_FILES)."""
    principal = principal_of(request)
    folder = storage_folders.get_storage_folder(principal, folder_uuid)
    initial = {"name": folder.name, "description": folder.description, "metadata": folder.client_metadata or ""}
    if initial["metadata"]:
        initial["metadata"] = json_text(folder.client_metadata)
    form = FolderForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            storage_folders.update_storage_folder(
                principal,
                folder_uuid,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                client_metadata=form.cleaned_data["metadata"] if form.cleaned_data["metadata"] is not None else {},
            )
        except InvalidArgumentError as error:
            add_form_error(form, error, FOLDER_FIELDS)
        else:
            messages.success(request, "Folder saved.")
            return redirect("dashboard:folder", folder_uuid=folder_uuid)
    return render(request, "files_edit.html", {"nav": "files", "folder": folder, "form": form, "what": "folder"})


def json_text(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


@login_required
@require_http_methods(["GET", "POST"])
def item_edit(request, folder_uuid, item_uuid):
    """Rename an item and replace its metadata (WRITE_FILES): every dataset linking it shows it."""
    principal = principal_of(request)
    folder = storage_folders.get_storage_folder(principal, folder_uuid)
    item = storage_items.get_folder_item(principal, folder_uuid, item_uuid)
    initial = {"name": item.name, "metadata": json_text(item.client_metadata) if item.client_metadata else ""}
    form = ItemEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        patch = storage_item_changes.ItemPatch(
            name=form.cleaned_data["name"], client_metadata=form.cleaned_data["metadata"] or {}
        )
        try:
            storage_item_changes.update_item(principal, folder_uuid, item_uuid, patch)
        except InvalidArgumentError as error:
            add_form_error(form, error, {"name": "name", "clientMetadata": "metadata"})
        else:
            messages.success(request, f"Saved {patch.name}.")
            return redirect("dashboard:folder", folder_uuid=folder_uuid)
    context = {"nav": "files", "folder": folder, "item": item, "form": form, "what": "item"}
    return render(request, "files_edit.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def items_link(request, folder_uuid):
    """"Add to dataset": the chosen items (or all matching the folder's filter) into a plain
    dataset the user may add data to. GET confirms the selection; POST links."""
    principal = principal_of(request)
    folder = storage_folders.get_storage_folder(principal, folder_uuid)
    data = request.POST if request.method == "POST" else request.GET
    selection = {
        "item_uuids": data.getlist("item"),
        "all_matching": data.get("all") == "1",
        "conditions": [c for c in data.getlist("meta") if c.strip()],
        "recursive": data.get("recursive") in ("1", "on", "true", "True"),
    }
    targets = files_browse.link_targets(principal)
    form = LinkForm(request.POST or None, targets=targets)
    if request.method == "POST" and form.is_valid():
        try:
            rows = files_browse.link_selection(
                principal, form.cleaned_data["dataset"], folder_uuid,
                duplicates=form.cleaned_data["duplicates"], **selection,
            )
        except (InvalidArgumentError, ResourceExistsError) as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, f"{len(rows)} items are in the dataset.")
            return redirect("dashboard:dataset-detail", dataset_hash=form.cleaned_data["dataset"])
    context = {"nav": "files", "folder": folder, "form": form, "selection": selection, "targets": targets}
    return render(request, "files_link.html", context)
