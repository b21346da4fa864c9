"""Files pages that change structure: move and delete folders and items (the confirm page says
what will happen first), folder sharing, and the metadata schema editor. Refusals by role are the
SDK's (a USER asking to delete or share gets the site's 404, as for any page they may not use)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from dashboard.errors import add_form_error
from dashboard.files_forms import MoveForm, SchemaKeyActionForm, SchemaKeyForm, ShareForm, UnshareForm
from datasets_app.sdk import files_admin, storage_folders, storage_item_changes
from datasets_app.sdk.exceptions import InvalidArgumentError
from datasets_app.sdk.orm import DatasetUserRole

from .files import principal_of


@login_required
@require_http_methods(["GET", "POST"])
def folder_move(request, folder_uuid):
    """Move a folder under another one or to the top level (MANAGE_FILES here, WRITE_FILES there)."""
    principal = principal_of(request)
    targets = files_admin.move_targets(principal, folder_uuid, subtree=True)
    folder = storage_folders.get_storage_folder(principal, folder_uuid)
    form = MoveForm(request.POST or None, targets=targets, top_level=True)
    if request.method == "POST" and form.is_valid():
        try:
            storage_folders.move_storage_folders(principal, [folder_uuid], form.cleaned_data["target"] or None)
        except InvalidArgumentError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, f"Moved {folder.name}.")
            return redirect("dashboard:folder", folder_uuid=folder_uuid)
    return render(request, "files_move.html", {"nav": "files", "folder": folder, "form": form, "items": []})


@login_required
@require_http_methods(["GET", "POST"])
def folder_delete(request, folder_uuid):
    """GET: what deleting the folder removes, or why it is refused; POST: delete it."""
    principal = principal_of(request)
    plan = files_admin.folder_delete_plan(principal, folder_uuid)
    if request.method == "POST" and plan.refusal is None:
        try:
            done = storage_folders.delete_storage_folder(principal, folder_uuid)
        except InvalidArgumentError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Deleted {plan.folder.name}: {done.folders} folders, {done.items} items.")
            parent = plan.folder.parent_uuid
            return redirect("dashboard:folder", folder_uuid=parent) if parent else redirect("dashboard:files")
    return render(request, "files_delete.html", {"nav": "files", "folder": plan.folder, "plan": plan})


@login_required
@require_http_methods(["GET", "POST"])
def folder_share(request, folder_uuid):
    """The folder's members (MANAGE_FILES): add by e-mail as ADMIN or USER; remove."""
    principal = principal_of(request)
    folder = storage_folders.get_storage_folder(principal, folder_uuid)
    members = storage_folders.list_folder_members(principal, folder_uuid)
    form = ShareForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            storage_folders.add_folder_members(
                principal, folder_uuid, [form.cleaned_data["email"]], form.cleaned_data["role"]
            )
        except InvalidArgumentError as error:
            add_form_error(form, error, {"user_emails": "email", "role": "role"})
        else:
            messages.success(
                request,
                f"Shared with {form.cleaned_data['email']} as {DatasetUserRole(form.cleaned_data['role']).name.title()}"
                ", if an account has that address (organisation admins create accounts).",
            )
            return redirect("dashboard:folder-share", folder_uuid=folder_uuid)
    rows = [{"email": s.email, "role": DatasetUserRole(s.role).name.title()} for s in members]
    return render(request, "files_share.html", {"nav": "files", "folder": folder, "rows": rows, "form": form})


@login_required
@require_POST
def folder_unshare(request, folder_uuid):
    form = UnshareForm(request.POST)
    if form.is_valid():
        gone = storage_folders.remove_folder_members(principal_of(request), folder_uuid, [form.cleaned_data["email"]])
        messages.success(request, f"Removed {form.cleaned_data['email']}." if gone else "No such member.")
    return redirect("dashboard:folder-share", folder_uuid=folder_uuid)


@login_required
@require_http_methods(["GET", "POST"])
def items_move(request, folder_uuid):
    """Move the chosen items into another folder (MANAGE_FILES here, WRITE_FILES there)."""
    principal = principal_of(request)
    targets = files_admin.move_targets(principal, folder_uuid, subtree=False)
    folder = storage_folders.get_storage_folder(principal, folder_uuid)
    chosen = (request.POST if request.method == "POST" else request.GET).getlist("item")
    form = MoveForm(request.POST or None, targets=targets)
    if request.method == "POST" and form.is_valid():
        try:
            moved = storage_item_changes.move_items(
                principal,
                folder_uuid,
                chosen,
                form.cleaned_data["target"],
                allow_synced_dataset_move=form.cleaned_data["allow_mirror"],
            )
        except InvalidArgumentError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, f"Moved {moved} items.")
            return redirect("dashboard:folder", folder_uuid=folder_uuid)
    if not chosen:
        messages.error(request, "Select the items to move first.")
        return redirect("dashboard:folder", folder_uuid=folder_uuid)
    context = {"nav": "files", "folder": folder, "form": form, "items": chosen}
    return render(request, "files_move.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def items_delete(request, folder_uuid):
    """GET: what deleting the chosen items does (mirror rows go; other datasets' rows refuse);
    POST: delete them."""
    principal = principal_of(request)
    chosen = (request.POST if request.method == "POST" else request.GET).getlist("item")
    try:
        plan = files_admin.items_delete_plan(principal, folder_uuid, chosen)
    except InvalidArgumentError as error:
        messages.error(request, error.message)
        return redirect("dashboard:folder", folder_uuid=folder_uuid)
    if request.method == "POST" and plan.refusal is None:
        try:
            done = storage_item_changes.delete_items(principal, folder_uuid, plan.item_uuids)
        except InvalidArgumentError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Deleted {done.removed_items_count} items.")
            return redirect("dashboard:folder", folder_uuid=folder_uuid)
    return render(request, "files_items_delete.html", {"nav": "files", "folder": plan.folder, "plan": plan})


@login_required
@require_http_methods(["GET", "POST"])
def metadata_schema(request):
    """The organisation's metadata keys: anyone reads; organisation admins add (with type and
    enum values), delete (a tombstone that remembers the type) and restore."""
    principal = principal_of(request)
    form = SchemaKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            files_admin.schema_add_key(principal, data["key"].strip(), data["kind"], data["value_list"])
        except InvalidArgumentError as error:
            add_form_error(form, error, {"key": "key", "kind": "kind"})
        else:
            messages.success(request, f"Saved key {data['key'].strip()}.")
            return redirect("dashboard:metadata-schema")
    keys = files_admin.schema_keys(principal)
    can_edit = files_admin.may_edit_schema(principal)
    return render(request, "files_schema.html", {"nav": "files", "keys": keys, "form": form, "can_edit": can_edit})


@login_required
@require_POST
def metadata_key_action(request, action: str):
    """Delete (tombstone) or restore one key."""
    if action not in ("delete", "restore"):
        raise Http404("No such action.")
    form = SchemaKeyActionForm(request.POST)
    if form.is_valid():
        change = files_admin.schema_delete_key if action == "delete" else files_admin.schema_restore_key
        try:
            change(principal_of(request), form.cleaned_data["key"])
        except InvalidArgumentError as error:
            messages.error(request, error.message)
        else:
            done = "Deleted" if action == "delete" else "Restored"
            messages.success(request, f"{done} key {form.cleaned_data['key']}.")
    return redirect("dashboard:metadata-schema")
