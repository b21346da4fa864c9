"""A dataset's API keys (dataset ADMINs only): list (secrets masked), create (secret shown on the
answer page), revoke, and the record of every time a secret was handed out in full."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from dashboard.errors import add_form_error
from dashboard.forms import APIKeyCreateForm
from datasets_app.sdk.exceptions import InvalidArgumentError
from datasets_app.sdk.policy import Op

from .common import dataset_page, day_end, open_dataset, user_client


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def api_key_list(request, dataset_hash: str):
    """GET: the keys (masked), who was handed their secrets, and a create form; POST: create,
    answered by the page showing the secret (recorded as a reveal)."""
    dataset = open_dataset(request, dataset_hash, Op.MANAGE)
    client = user_client(request)
    form = APIKeyCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
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
            reads = any(s.value == "dataset.read" for s in created.scopes)
            context = dataset_page(
                dataset, "keys", key=created, expires_on=last_day(created.expires_at), reads=reads
            )
            return render(request, "api_key_created.html", context)
    # Listed only when the list is shown: a created key's answer page does not need it.
    keys, reveals = client.list_dataset_api_keys(dataset.dataset_hash)
    rows = [{"key": k, "masked": k.api_key, "expires_on": last_day(k.expires_at)} for k in reversed(keys)]
    return render(request, "api_keys.html", dataset_page(dataset, "keys", rows=rows, reveals=reveals, form=form))


def last_day(expires_at: dt.datetime | None) -> dt.date | None:
    """The last day (UTC) a key works: it is stored as the midnight UTC that ends the chosen day,
    so a key chosen to expire on 2027-06-30 stops at 2027-07-01 00:00 UTC and shows 2027-06-30."""
    if expires_at is None:
        return None
    return (expires_at.astimezone(dt.UTC) - dt.timedelta(microseconds=1)).date()


@login_required
@require_http_methods(["GET", "POST"])
def api_key_revoke(request, dataset_hash: str, key_hash: str):
    dataset = open_dataset(request, dataset_hash, Op.MANAGE)
    client = user_client(request)
    keys = {k.key_hash: k for k in client.list_dataset_api_keys(dataset.dataset_hash)[0]}
    key = keys.get(str(key_hash))
    if key is None:
        raise Http404("No such API key, or it is already revoked.")
    if request.method == "POST":
        client.revoke_dataset_api_key(dataset.dataset_hash, key.key_hash)
        messages.success(request, f"API key “{key.title}” revoked: it no longer works.")
        return redirect("dashboard:api-keys", dataset_hash=dataset.dataset_hash)
    return render(request, "api_key_revoke.html", dataset_page(dataset, "keys", key=key, masked=key.api_key))
