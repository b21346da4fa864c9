"""Helpers shared by page views."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest

from datasets_app.sdk import Dataset, UserClient, policy
from datasets_app.sdk.policy import Op


def user_client(request: HttpRequest) -> UserClient:
    return UserClient.for_user(request.user)


def organisation_permissions(request: HttpRequest) -> dict:
    """Template context processor: which organisation-wide pages the signed-in user may use, so
    the navigation asks the policy table too (no query)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"can_manage_integrations": False, "can_manage_users": False, "can_see_overview": False}
    principal = user_client(request).principal
    return {
        "can_manage_integrations": policy.may(principal, Op.MANAGE_INTEGRATIONS),
        "can_manage_users": policy.may(principal, Op.MANAGE_USERS),
        "can_see_overview": policy.may(principal, Op.SEE_ORGANISATION),
    }


def open_dataset(request: HttpRequest, dataset_hash: object, op: Op = Op.READ) -> Dataset:
    """The dataset if the signed-in user may do `op` on it (one query), else the policy's typed
    error, which SDKErrorMiddleware answers with a 404 (dashboard/errors.py). Pages open a dataset
    for the operation their form performs, so no one is shown a form they may not submit."""
    principal = user_client(request).principal
    return Dataset(policy.require(principal, dataset_hash, op), principal)


def dataset_page(dataset: Dataset, tab: str, **context) -> dict:
    """The context every dataset page shares: the dataset, the current tab, and which tabs and
    row actions this user has, each read from the policy table (no query)."""
    can_write, can_delete = dataset.can(Op.WRITE_DATA), dataset.can(Op.DELETE_DATA)
    return {
        "dataset": dataset,
        "tab": tab,
        "can_upload": can_write,
        "can_write": can_write,
        "can_delete": can_delete,
        "can_manage": dataset.can(Op.MANAGE),
        "selectable": can_write or can_delete,
        **context,
    }


def is_partial(request: HttpRequest) -> bool:
    """HTMX asks for the fragment; a history restore needs the whole page."""
    return bool(getattr(request, "htmx", False)) and not request.htmx.history_restore_request


def like_contains(text: str | None) -> str | None:
    """A 'contains' search box as a LIKE pattern, with the user's own % and _ taken literally."""
    if not text:
        return None
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def day_start(day: dt.date | None) -> dt.datetime | None:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.timezone.utc) if day else None


def day_end(day: dt.date | None) -> dt.datetime | None:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=dt.timezone.utc) if day else None
