"""Keeps signed query strings out of messages and logs.

A request's URL can carry a credential in its query: an Azure SAS token (`sig=`), a pre-signed
S3 or GCS signature, an access token. Libraries echo that URL in exception text (requests,
urllib3: "Max retries exceeded with url: /c/b?sv=...&sig=...") and in their own log records
(urllib3's retry warnings). `scrub(text)` replaces every query string that holds a `name=value`
pair with `?<redacted>`; `install_log_filters()` applies it to the loggers that echo URLs."""

from __future__ import annotations

import logging
import re

# "?" then a run of URL characters that contains at least one "=": a query string, not prose.
_QUERY = re.compile(r"\?(?=[^\s'\"<>()]*=)[^\s'\"<>()]+")
REDACTED = "?<redacted>"

# Loggers that print request URLs (with their query strings) at DEBUG or WARNING.
URL_LOGGERS = (
    "urllib3.connectionpool",
    "urllib3.util.retry",
    "urllib3.poolmanager",
    "requests",
    "google.auth.transport.requests",
    "azure.core.pipeline.policies.http_logging_policy",
)


def scrub(text: object) -> str:
    """`text` with the query string of every URL in it replaced by ?<redacted>."""
    return _QUERY.sub(REDACTED, str(text))


class QueryRedactingFilter(logging.Filter):
    """Formats a record's message once, scrubbed; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the logging module's problem, not ours
            return True
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = QueryRedactingFilter()


def install_log_filters() -> None:
    """Adds the filter to every logger in URL_LOGGERS (idempotent)."""
    for name in URL_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
