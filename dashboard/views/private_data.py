"""Importing private cloud data: choose an integration, paste or upload the JSON manifest; the
import job's page then shows progress and per-item errors."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from dashboard.errors import add_form_error
from dashboard.forms import PrivateDataImportForm
from datasets_app.sdk.exceptions import InvalidArgumentError, ResourceNotFoundError
from datasets_app.sdk.policy import Op

from .common import dataset_page, open_dataset


@login_required
@require_http_methods(["GET", "POST"])
def private_data_import(request, dataset_hash: str):
    dataset = open_dataset(request, dataset_hash, Op.WRITE_DATA)
    integrations = dataset.get_cloud_integrations()
    form = PrivateDataImportForm(request.POST or None, request.FILES or None, integrations=integrations)
    if request.method == "POST" and form.is_valid():
        try:
            process_hash = _start_import(dataset, form.cleaned_data)
        except InvalidArgumentError as error:
            add_form_error(form, error, {"private_files": "manifest", "integration id": "integration"})
        else:
            return redirect(
                "dashboard:data-job", dataset_hash=dataset.dataset_hash, process_hash=process_hash
            )
    context = dataset_page(dataset, "import", form=form, integrations=integrations)
    return render(request, "private_data_import.html", context)


def _start_import(dataset, cleaned: dict) -> str:
    """The import job's process hash; an integration this user cannot use is a form error."""
    try:
        return dataset.add_private_data_to_dataset_start(cleaned["integration"], cleaned["document"], ignore_errors=True)
    except ResourceNotFoundError as error:
        raise InvalidArgumentError(error.message, field="integration") from None
