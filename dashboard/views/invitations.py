"""The pages a one-time link opens, signed out: accept an invitation, or choose a new password
from a reset link. Each sets a password (Django's validators) and signs the person in. A link that
was used, expired, replaced or revoked gets a page saying so, never an error page.

No throttle here: nothing on these pages checks a password. The only secret is the link's token
(an HMAC-SHA256 signature for invitations, Django's 80-bit reset-token HMAC for reset links), far
beyond guessing by request; a wrong token is refused before any form is shown."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.forms import SetPasswordForm
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from dashboard.errors import add_form_error
from datasets_app.sdk import people
from datasets_app.sdk.exceptions import InvalidArgumentError


def _invalid(request, error: people.LinkNotValid, kind: str):
    return render(request, "invitation_invalid.html", {"error": error, "kind": kind})


@never_cache
@require_http_methods(["GET", "POST"])
def invitation_accept(request, token: str):
    """GET: the set-password form for a pending invitation; POST: activate and sign in."""
    try:
        invitee = people.invitation_user(token)
    except people.LinkNotValid as error:
        return _invalid(request, error, "invitation")
    form = SetPasswordForm(invitee, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = people.accept_invitation(token, form.cleaned_data["new_password1"])
        except people.LinkNotValid as error:
            return _invalid(request, error, "invitation")
        except InvalidArgumentError as error:
            add_form_error(form, error)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome, {user.email}: your account is ready.")
            return redirect("dashboard:dataset-list")
    return render(request, "invitation_accept.html", {"form": form, "invitee": invitee})


@never_cache
@require_http_methods(["GET", "POST"])
def password_reset(request, user_hash, token: str):
    """GET: the set-password form of a reset link; POST: set it and sign in."""
    try:
        account = people.reset_link_user(user_hash, token)
    except people.LinkNotValid as error:
        return _invalid(request, error, "reset")
    form = SetPasswordForm(account, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = people.reset_password(user_hash, token, form.cleaned_data["new_password1"])
        except people.LinkNotValid as error:
            return _invalid(request, error, "reset")
        except InvalidArgumentError as error:
            add_form_error(form, error)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, "Your new password is set; you are signed in.")
            return redirect("dashboard:dataset-list")
    return render(request, "password_reset.html", {"form": form, "account": account})
