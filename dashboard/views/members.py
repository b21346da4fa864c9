"""A dataset's members (dataset ADMINs only): add by e-mail, change role, remove. The SDK keeps
the last ADMIN; the page says why when it refuses."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from dashboard.errors import add_form_error
from dashboard.forms import MemberAddForm, MemberRemoveForm, MemberRoleForm
from datasets_app.sdk import people
from datasets_app.sdk.exceptions import InvalidArgumentError, ResourceExistsError, ResourceNotFoundError
from datasets_app.sdk.orm import DatasetUserRole
from datasets_app.sdk.policy import Op

from .common import dataset_page, open_dataset
from .users import invite_link_for


def _page(request, dataset, add_form, status=200, invitation=None):
    rows = [
        {
            "user": u,
            "is_admin": u.is_admin,
            "is_last_admin": u.is_last_admin,
            "is_me": u.user_email.lower() == request.user.email.lower(),
        }
        for u in dataset.list_members()
    ]
    context = dataset_page(dataset, "members", rows=rows, form=add_form, link=invitation)
    return render(request, "members.html", context, status=status)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def member_list(request, dataset_hash: str):
    """GET: members and the add form; POST: add a member by e-mail. An organisation admin adding an
    address with no account invites it (people.add_member): the link is on the page that answers."""
    dataset = open_dataset(request, dataset_hash, Op.MANAGE)
    form = MemberAddForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email, role = form.cleaned_data["email"], form.cleaned_data["role"]
        try:
            member, invitation = people.add_member(
                dataset, email, DatasetUserRole(role), link_for=invite_link_for(request)
            )
        except ResourceNotFoundError as error:
            # An unknown address is a form error, not a missing page.
            add_form_error(form, InvalidArgumentError(error.message, field="user_emails"), {"user_emails": "email"})
        except (InvalidArgumentError, ResourceExistsError) as error:
            add_form_error(form, error, {"user_emails": "email", "user_role": "role"})
        else:
            if invitation is not None:
                messages.success(
                    request,
                    f"{member.user_email} had no account: they are invited, and are a member as "
                    f"{member.user_role.name.title()} from the moment they accept.",
                )
                return _page(request, dataset, MemberAddForm(), invitation=invitation)
            if member.user_role != role:
                messages.info(
                    request,
                    f"{member.user_email} was already a member ({member.user_role.name.title()}); role unchanged.",
                )
            else:
                # Outside organisation admins the SDK does not say whether the address has an account.
                messages.success(
                    request,
                    f"Added {member.user_email} as {member.user_role.name.title()}, if an account has that "
                    "address (organisation admins create accounts); the members are listed below.",
                )
            return redirect("dashboard:members", dataset_hash=dataset.dataset_hash)
    return _page(request, dataset, form)


@login_required
@require_POST
def member_role(request, dataset_hash: str):
    dataset = open_dataset(request, dataset_hash, Op.MANAGE)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a member and a role.")
    else:
        try:
            member = dataset.set_user_role(form.cleaned_data["email"], DatasetUserRole(form.cleaned_data["role"]))
        except InvalidArgumentError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"{member.user_email} is now {member.user_role.name.title()}.")
    return redirect("dashboard:members", dataset_hash=dataset.dataset_hash)


@login_required
@require_http_methods(["GET", "POST"])
def member_remove(request, dataset_hash: str):
    """GET ?email=: the confirmation; POST: remove the member."""
    dataset = open_dataset(request, dataset_hash, Op.MANAGE)
    form = MemberRemoveForm(request.POST if request.method == "POST" else request.GET)
    if not form.is_valid():
        raise Http404("No such member.")
    email = form.cleaned_data["email"]
    members = {u.user_email.lower(): u for u in dataset.list_users()}
    member = members.get(email.lower())
    if member is None:
        raise Http404("No such member.")
    if request.method == "POST":
        try:
            dataset.remove_users([member.user_email])
        except InvalidArgumentError as error:
            messages.error(request, error.message)
            return redirect("dashboard:members", dataset_hash=dataset.dataset_hash)
        messages.success(request, f"Removed {member.user_email} from this dataset.")
        if member.user_email.lower() == request.user.email.lower():
            return redirect("dashboard:dataset-list")
        return redirect("dashboard:members", dataset_hash=dataset.dataset_hash)
    return render(request, "member_remove.html", dataset_page(dataset, "members", member=member))
