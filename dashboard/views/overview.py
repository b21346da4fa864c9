"""The organisation Overview page (organisation admins; anyone else gets the site's 404): pictures
of storage by dataset, items added per day, jobs failed in the last week and videos at risk. The
figures are the SDK's (datasets_app/sdk/overview.py, Op.SEE_ORGANISATION); the page draws them.

The charts are inline SVG drawn by the templates (partials/overview_*.html), with no JavaScript
library: four bar charts need no interaction, render before any script could, print, and read
the same with JavaScript off; their numbers are written out in text beside them."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_safe

from datasets_app.sdk import overview

from .common import user_client


@login_required
@require_safe
def organisation_overview(request):
    """GET: the overview (8 aggregate queries whatever the organisation's size)."""
    figures = overview.organisation_overview(user_client(request).principal)
    return render(request, "overview.html", {"o": figures, "nav": "overview"})
