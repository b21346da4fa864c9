"""Argument checks shared by the SDK layer; each failure is an InvalidArgumentError naming the field."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings

from .exceptions import InvalidArgumentError


def clean_title(value: Any, what: str = "title") -> str:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"The {what} must be a string.", field=what)
    text = value.strip()
    if not text:
        raise InvalidArgumentError(f"The {what} cannot be empty.", field=what)
    if len(text) > settings.MAX_TITLE_LENGTH:
        raise InvalidArgumentError(
            f"The {what} is {len(text)} characters long; the limit is {settings.MAX_TITLE_LENGTH}.", field=what
        )
    if any(ord(c) < 32 for c in text):
        raise InvalidArgumentError(f"The {what} cannot contain control characters.", field=what)
    return text


def clean_flag(value: Any, where: str, *, field: str | None = None) -> bool:
    """A true/false switch of a document or payload: absent or null is false, anything but a
    boolean is refused."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"{where} must be true or false.", field=field or where)
    return value


def clean_description(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidArgumentError("The description must be a string.", field="description")
    if len(value) > settings.MAX_DESCRIPTION_LENGTH:
        raise InvalidArgumentError(
            f"The description is {len(value)} characters long; the limit is {settings.MAX_DESCRIPTION_LENGTH}.",
            field="description",
        )
    return value


def clean_datetime(value: Any, what: str) -> dt.datetime | None:
    """An aware datetime or None. Naive datetimes are refused: their time zone would be a guess."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidArgumentError(f"{what} {value!r} is not an ISO 8601 datetime.", field=what) from None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        raise InvalidArgumentError(f"{what} must be a datetime with a time zone, not a date.", field=what)
    if not isinstance(value, dt.datetime):
        raise InvalidArgumentError(f"{what} must be a datetime.", field=what)
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidArgumentError(
            f"{what} has no time zone; pass an aware datetime (e.g. with tzinfo=timezone.utc).", field=what
        )
    return value


def clean_like(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{what} must be a string LIKE pattern.", field=what)
    if len(value) > settings.MAX_TITLE_LENGTH:
        raise InvalidArgumentError(f"{what} is too long.", field=what)
    return value


def clean_optional_str(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{what} must be a string.", field=what)
    return value


def clean_list(value: Any, what: str, *, max_items: int = 100_000) -> list:
    if value is None:
        return []
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
        raise InvalidArgumentError(f"{what} must be a list.", field=what)
    items = list(value)
    if len(items) > max_items:
        raise InvalidArgumentError(f"{what} has {len(items)} items; the limit is {max_items}.", field=what)
    return items
