"""The organisation's Users page (organisation admins; anyone else gets the site's 404): list,
invite, deactivate / reactivate, make / unmake org admin, one-time reset links. Every decision is
the SDK's (datasets_app/sdk/people.py, Op.MANAGE_USERS). A new link is rendered in the POST's own
response (no-store), never kept: reloading does not show it again."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from dashboard.errors import add_form_error
from dashboard.people_forms import InviteForm
from datasets_app.sdk import people
from datasets_app.sdk.exceptions import InvalidArgumentError, ResourceExistsError

from .common import user_client


def absolute(request: HttpRequest, path: str) -> str:
    """`path` on this site as the link someone else opens (PUBLIC_BASE_URL when set)."""
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL + path
    return request.build_absolute_uri(path)


def invite_link_for(request: HttpRequest):
    return lambda token: absolute(request, reverse("dashboard:invitation-accept", args=[token]))


def reset_link_for(request: HttpRequest):
    return lambda user_hash, token: absolute(
        request, reverse("dashboard:password-reset", args=[user_hash, token])
    )


def _page(request, form, *, link: people.OneTimeLink | None = None, status: int = 200):
    context = {
        "people": people.list_people(user_client(request).principal),
        "form": form,
        "link": link,
        "email_configured": bool(settings.EMAIL_HOST),
        "nav": "users",
    }
    return render(request, "users.html", context, status=status)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def user_list(request):
    """GET: the users and the invite form; POST: invite (the link is on the page that answers)."""
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            link = people.invite_user(
                user_client(request).principal,
                form.cleaned_data["email"],
                link_for=invite_link_for(request),
                name=form.cleaned_data["name"],
                org_admin=form.cleaned_data["org_admin"],
            )
        except (InvalidArgumentError, ResourceExistsError) as error:
            add_form_error(form, error)
        else:
            return _page(request, InviteForm(), link=link)
    return _page(request, form)


@login_required
@require_POST
def user_org_admin(request, user_hash):
    """POST admin=1 or 0: make or unmake an organisation admin."""
    principal = user_client(request).principal
    make = request.POST.get("admin") == "1"
    try:
        user = people.set_org_admin(principal, user_hash, admin=make)
    except InvalidArgumentError as error:
        messages.error(request, error.message)
        return redirect("dashboard:users")
    messages.success(request, f"{user.email} is {'now' if make else 'no longer'} an organisation admin.")
    if not make and user.pk == request.user.pk:
        return redirect("dashboard:dataset-list")
    return redirect("dashboard:users")


@login_required
@require_http_methods(["GET", "POST"])
def user_deactivate(request, user_hash):
    """GET: the confirmation; POST: deactivate (sign-in, signed requests and bearer tokens stop)."""
    principal = user_client(request).principal
    target = people.user_by_hash(principal, user_hash)
    if request.method == "POST":
        try:
            people.set_user_active(principal, user_hash, active=False)
        except InvalidArgumentError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"{target.email} is deactivated; their bearer tokens are revoked.")
        return redirect("dashboard:users")
    return render(request, "users_confirm.html", {"target": target, "action": "deactivate", "nav": "users"})


@login_required
@require_POST
def user_reactivate(request, user_hash):
    try:
        user = people.set_user_active(user_client(request).principal, user_hash, active=True)
    except InvalidArgumentError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, f"{user.email} can sign in again (bearer tokens revoked earlier stay revoked)."
        )
    return redirect("dashboard:users")


@login_required
@never_cache
@require_POST
def user_reset_link(request, user_hash):
    """A one-time password link for the user, on the page that answers."""
    try:
        link = people.password_reset_link(
            user_client(request).principal, user_hash, link_for=reset_link_for(request)
        )
    except InvalidArgumentError as error:
        messages.error(request, error.message)
        return redirect("dashboard:users")
    return _page(request, InviteForm(), link=link)


@login_required
@never_cache
@require_POST
def invitation_renew(request, user_hash):
    """A new invitation link; the earlier one stops working."""
    try:
        link = people.renew_invitation(
            user_client(request).principal, user_hash, link_for=invite_link_for(request)
        )
    except InvalidArgumentError as error:
        messages.error(request, error.message)
        return redirect("dashboard:users")
    return _page(request, InviteForm(), link=link)


@login_required
@require_http_methods(["GET", "POST"])
def invitation_revoke(request, user_hash):
    """GET: the confirmation; POST: revoke (the pending account and its memberships go)."""
    principal = user_client(request).principal
    target = people.user_by_hash(principal, user_hash)
    if request.method == "POST":
        try:
            email = people.revoke_invitation(principal, user_hash)
        except InvalidArgumentError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"The invitation of {email} is revoked: its link no longer works.")
        return redirect("dashboard:users")
    return render(request, "users_confirm.html", {"target": target, "action": "revoke", "nav": "users"})
