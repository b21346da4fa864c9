"""Cloud integrations (organisation admins): list, create (secrets write-only), delete."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from dashboard.errors import add_form_error
from dashboard.forms import IntegrationCreateForm
from datasets_app.sdk.exceptions import InvalidArgumentError

from .common import user_client


def _client(request):
    """This user's client, if they manage integrations (organisation admins); a 404 otherwise."""
    client = user_client(request)
    client.require_org_admin()
    return client


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def integration_list(request):
    client = _client(request)
    form = IntegrationCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        config, credentials = form.config_and_credentials()
        try:
            created = client.create_cloud_integration(
                form.cleaned_data["title"],
                form.cleaned_data["provider"],
                config=config,
                credentials=credentials,
                allow_private_network=form.cleaned_data["allow_private_network"],
            )
        except InvalidArgumentError as error:
            add_form_error(form, error, {"integration title": "title"})
        else:
            messages.success(
                request,
                f"Integration “{created.title}” added. Its secrets are stored encrypted and are not shown again.",
            )
            return redirect("dashboard:integrations")
    integrations = client.get_cloud_integrations(include_org_access=True)
    return render(
        request, "integrations.html", {"integrations": integrations, "form": form, "nav": "integrations"}
    )


@login_required
@require_http_methods(["GET", "POST"])
def integration_delete(request, integration_id):
    client = _client(request)
    found = client.get_cloud_integrations(
        filter_integration_uuids=[str(integration_id)], include_org_access=True
    )
    if not found:
        raise Http404("No such integration.")
    integration = found[0]
    if request.method == "POST":
        try:
            client.delete_cloud_integration(integration.id)
        except InvalidArgumentError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Integration “{integration.title}” deleted.")
        return redirect("dashboard:integrations")
    return render(request, "integration_delete.html", {"integration": integration, "nav": "integrations"})
