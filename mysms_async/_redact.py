"""Keeping the password out of every message, log record and traceback.

httpx puts the full URL into its log records (``HTTP Request: GET https://...?u=..&p=..``) and
into several error messages; on GET the URL carries the password. This module redacts both: a
logging filter on the ``httpx`` and ``httpcore`` loggers, and a function for any text that is
about to become part of one of our exceptions.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import quote, quote_plus

REDACTED = "***"
_PASSWORD_PARAM = re.compile(r"([?&;]p=)[^&#\s'\"]*")


def redact_text(text: str, secret: str | None = None) -> str:
    """Remove ``p=`` query values and, when known, the secret in any of its encodings."""
    text = _PASSWORD_PARAM.sub(r"\1" + REDACTED, text)
    if secret:
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            text = text.replace(form, REDACTED)
    return text


class RedactPasswordFilter(logging.Filter):
    """Rewrites a record whose text holds ``p=`` before any handler can see it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is the logging module's to report
            return True
        if "p=" in message:
            record.msg = redact_text(message)
            record.args = None
        return True


_FILTER = RedactPasswordFilter()


#: A filter on a parent logger does not run for its children's records, so each logger that
#: httpx and httpcore write to is named here.
_URL_LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)


def install_log_redaction() -> None:
    """Idempotent: attach the filter to the loggers that see request URLs."""
    for name in _URL_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def describe_body(body: bytes, secret: str | None, limit: int = 60) -> str:
    """The start of an answer's body, safe to quote in an error message.

    Interface shared by the transport (which appends it to a ``ResponseError`` about a body it
    could not read) and this module (which owns how the credentials are kept out of it).
    """
    snippet = repr(body[:limit])
    return redact_text(snippet, secret)
