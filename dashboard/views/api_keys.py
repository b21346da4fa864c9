"""A dataset's API keys (dataset ADMINs only): list (secrets masked), create (secret shown on the
answer page), revoke, and the record of every time a secret was handed out in full."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from dashboard.errors import add_form_error, sdk_errors_as_404
from dashboard.forms import APIKeyCreateForm
from datasets_app.sdk.exceptions import InvalidArgumentError

from .common import day_end, user_client


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def api_key_list(request, dataset_hash: str):
    """GET: the keys (masked), who was handed their secrets, and a create form; POST: create,
    answered by the page showing the secret (recorded as a reveal)."""
    client = user_client(request)
    with sdk_errors_as_404():
        dataset = client.get_dataset(dataset_hash)
        keys, reveals = client.list_dataset_api_keys(dataset.dataset_hash)
    form = APIKeyCreateForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            with sdk_errors_as_404():
                created = client.create_dataset_api_key(
                    dataset.dataset_hash,
                    form.cleaned_data["title"],
                    form.cleaned_data["scopes"],
                    expires_at=day_end(form.cleaned_data["expires_on"]),
                    via="dashboard (created)",
                )
        except InvalidArgumentError as error:
            add_form_error(
                form,
                error,
                {"API key title": "title", "dataset_scopes": "scopes", "expires_at": "expires_on"},
            )
        else:
            return render(
                request,
                "api_key_created.html",
                {"dataset": dataset, "key": created, "tab": "keys", "can_manage": True, "can_upload": True},
            )
    context = {
        "dataset": dataset,
        "rows": [{"key": k, "masked": k.api_key} for k in reversed(keys)],
        "reveals": reveals,
        "form": form,
        "tab": "keys",
        "can_manage": True,
        "can_upload": True,
    }
    return render(request, "api_keys.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def api_key_revoke(request, dataset_hash: str, key_hash: str):
    client = user_client(request)
    with sdk_errors_as_404():
        dataset = client.get_dataset(dataset_hash)
        keys = {k.key_hash: k for k in client.list_dataset_api_keys(dataset.dataset_hash)[0]}
    key = keys.get(str(key_hash))
    if key is None:
        from django.http import Http404

        raise Http404("No such API key, or it is already revoked.")
    if request.method == "POST":
        with sdk_errors_as_404():
            client.revoke_dataset_api_key(dataset.dataset_hash, key.key_hash)
        messages.success(request, f"API key “{key.title}” revoked: it no longer works.")
        return redirect("dashboard:api-keys", dataset_hash=dataset.dataset_hash)
    return render(
        request,
        "api_key_revoke.html",
        {
            "dataset": dataset,
            "key": key,
            "masked": key.api_key,
            "tab": "keys",
            "can_manage": True,
            "can_upload": True,
        },
    )
