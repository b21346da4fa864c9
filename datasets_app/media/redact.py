"""Keeps signed query strings out of messages and logs.

A request's URL can carry a credential in its query: an Azure SAS token (`sig=`), a pre-signed
S3 or GCS signature, an access token. Libraries echo that URL in exception text (requests,
urllib3: "Max retries exceeded with url: /c/b?sv=...&sig=...") and in their own log records
(urllib3's retry warnings, botocore's DEBUG dump of each request's headers). `scrub(text)`
replaces every query string that holds a `name=value` pair with `?<redacted>` and the value of
each secret parameter or header with `<redacted>`; `install_log_filters()` applies it to the
loggers that echo requests."""

from __future__ import annotations

import logging
import re

# "?" then a run of URL characters that contains at least one "=": a query string, not prose.
_QUERY = re.compile(r"\?(?=[^\s'\"<>()]*=)[^\s'\"<>()]+")
REDACTED = "?<redacted>"
# A secret parameter outside a URL (a canonical request line: "...&X-Amz-Security-Token=...").
_PARAM = re.compile(r"(?i)\b(x-amz-security-token|x-amz-signature|x-goog-signature|sig|signature|access_token)=[^&\s'\"]+")
# A secret header in a printed request ("'X-Amz-Security-Token': b'...'", "Authorization: Bearer ...").
_HEADER = re.compile(r"(?i)(['\"]?(?:x-amz-security-token|authorization|x-goog-api-key)['\"]?\s*:\s*(?-i:b)?['\"]?)[^'\"\r\n,}]+")

# Loggers that print request URLs (with their query strings) at DEBUG or WARNING.
URL_LOGGERS = (
    "urllib3.connectionpool",
    "urllib3.util.retry",
    "urllib3.poolmanager",
    "requests",
    "botocore.endpoint",
    "botocore.auth",
    "botocore.parsers",
    "google.auth.transport.requests",
    "azure.core.pipeline.policies.http_logging_policy",
)


def scrub(text: object) -> str:
    """`text` with the query string of every URL in it replaced by ?<redacted>, and the values of
    secret parameters and headers (SAS signatures, session tokens, Authorization) by <redacted>."""
    text = _QUERY.sub(REDACTED, str(text))
    text = _PARAM.sub(lambda m: f"{m.group(1)}=<redacted>", text)
    return _HEADER.sub(lambda m: f"{m.group(1)}<redacted>", text)


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
