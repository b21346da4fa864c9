"""Helpers shared by page views."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest

from datasets_app.sdk import UserClient


def user_client(request: HttpRequest) -> UserClient:
    return UserClient.for_user(request.user)


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
