"""The account page: Ed25519 public keys for the Python SDK (register, generate, delete) and the
bearer tokens minted with them (list, revoke)."""

from __future__ import annotations

import base64

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from dashboard.errors import add_form_error
from dashboard.forms import KeyPairGenerateForm, PublicKeyAddForm
from dashboard.people_forms import PasswordChangeForm, password_guess_wait, record_password_guess
from datasets_app.sdk import accounts, people
from datasets_app.sdk.exceptions import DuplicateSshKeyError, InvalidArgumentError


def _page(request, add_form, generate_form, status=200, private_pem: str | None = None, password_form=None):
    base = request.build_absolute_uri("/").rstrip("/")
    context = {
        "keys": accounts.list_public_keys(request.user),
        "tokens": accounts.live_bearer_tokens(request.user),
        "form": add_form,
        "generate_form": generate_form,
        "password_form": password_form or PasswordChangeForm(),
        "domain": base,
        "nav": "account",
    }
    if private_pem:
        # Handed over in this response only (no-store); the server keeps no copy.
        context["private_pem"] = private_pem
        context["private_pem_b64"] = base64.b64encode(private_pem.encode()).decode()
    return render(request, "account.html", context, status=status)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def account(request):
    """GET: keys and forms; POST: register a pasted public key."""
    form = PublicKeyAddForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            key = accounts.add_public_key(
                request.user, form.cleaned_data["public_key"], form.cleaned_data["title"]
            )
        except (InvalidArgumentError, DuplicateSshKeyError) as error:
            add_form_error(form, error, {"key title": "title"})
        else:
            messages.success(request, f"Public key {key.fingerprint} registered.")
            return redirect("dashboard:account")
    return _page(request, form, KeyPairGenerateForm())


@login_required
@never_cache
@require_POST
def key_pair_generate(request):
    """Generates a pair and hands the private half over in this response (no-store), never kept on
    the server: not in the session, not in the database. Reloading the page does not show it again."""
    form = KeyPairGenerateForm(request.POST)
    if not form.is_valid():
        return _page(request, PublicKeyAddForm(), form)
    try:
        private_pem, key = accounts.generate_key_pair(request.user, form.cleaned_data["title"])
    except InvalidArgumentError as error:
        add_form_error(form, error, {"key title": "title"})
        return _page(request, PublicKeyAddForm(), form)
    messages.success(
        request,
        f"Key pair generated ({key.fingerprint}). Save the private key now: it is shown only on this page.",
    )
    return _page(request, PublicKeyAddForm(), KeyPairGenerateForm(), private_pem=private_pem)


@login_required
@require_http_methods(["GET", "POST"])
def public_key_delete(request, key_id: int):
    """GET: the confirmation; POST: delete the key (SDK clients using it stop working)."""
    key = next((k for k in accounts.list_public_keys(request.user) if k.pk == key_id), None)
    if key is None:
        raise Http404("No such key.")
    if request.method == "POST":
        accounts.delete_public_key(request.user, key.pk)
        messages.success(request, f"Public key {key.fingerprint} deleted.")
        return redirect("dashboard:account")
    return render(request, "public_key_delete.html", {"key": key, "nav": "account"})


@login_required
@require_POST
def bearer_token_revoke(request, token_id: int):
    """Revokes one of the signed-in user's live bearer tokens (404 for anyone else's)."""
    token = accounts.revoke_bearer_token(request.user, token_id)
    messages.success(request, f"Bearer token {token.prefix}… revoked: clients using it are now refused.")
    return redirect("dashboard:account")


@login_required
@require_POST
def bearer_tokens_revoke_all(request):
    count = accounts.revoke_bearer_tokens(request.user)
    messages.success(request, f"{count} bearer token(s) revoked.")
    return redirect("dashboard:account")


@login_required
@never_cache
@require_POST
def password_change(request):
    """Changes the signed-in user's password (the current one required, Django's validators); other
    sessions end, this one stays. Wrong current passwords count like failed sign-ins."""
    form = PasswordChangeForm(request.POST)
    email = request.user.email
    if form.is_valid():
        wait = password_guess_wait(email)
        if wait:
            form.add_error(
                "old_password",
                f"Too many wrong passwords for this account. Wait {wait} seconds and try again.",
            )
            return _page(request, PublicKeyAddForm(), KeyPairGenerateForm(), status=429, password_form=form)
        try:
            people.change_password(
                request.user, form.cleaned_data["old_password"], form.cleaned_data["new_password1"]
            )
        except InvalidArgumentError as error:
            record_password_guess(email, failed=error.fields.get("field") == "old_password")
            add_form_error(form, error)
        else:
            record_password_guess(email, failed=False)
            update_session_auth_hash(request, request.user)
            messages.success(request, "Password changed. Your other signed-in sessions have been signed out.")
            return redirect("dashboard:account")
    return _page(request, PublicKeyAddForm(), KeyPairGenerateForm(), password_form=form)
