"""Logging that never writes a link token or a full email address.

Tokens in /r/, /u/ and /e/ URLs are keys to a person's answers; addresses are
personal data. Both are masked in every record, whatever module logs it
(Flask's "Exception on /r/<token>", a library's error, our own messages).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

TOKEN_IN_PATH = re.compile(r"/(r|u|e)/[A-Za-z0-9_\-.]{8,}")
EMAIL = re.compile(r"([A-Za-z0-9._%+\-\u00c0-\u024f]{1,64})@([A-Za-z0-9.\-\u00c0-\u024f]+\.[A-Za-z]{2,})")


def mask_email(email: str | None, keep: int = 1) -> str:
    """Enough of an address to recognise it ('a…@kor.example.org'), not enough to harvest it."""
    if not email or "@" not in email:
        return "?"
    local, _, domain = email.partition("@")
    return f"{local[:keep]}…@{domain}"


def redact(text: str) -> str:
    text = TOKEN_IN_PATH.sub(lambda match: f"/{match.group(1)}/…", text)
    return EMAIL.sub(lambda match: mask_email(match.group(0)), text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure(verbose: bool = False, extra_handlers: Iterable[logging.Handler] = ()) -> None:
    """Root logging for `mailer worker` and `mailer serve`, with redaction on every handler."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for name in ("apscheduler", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    install_filter(extra_handlers)


def install_filter(extra_handlers: Iterable[logging.Handler] = ()) -> None:
    """Put the filter on every handler there is (handlers, not loggers: records from child loggers pass handlers).

    `extra_handlers`: ones no logger holds yet, such as Flask's default handler (the CLI passes it,
    so this module needs no Flask).
    """
    redactor = RedactingFilter()
    loggers = [logging.getLogger()] + [logging.getLogger(name) for name in logging.root.manager.loggerDict]
    handlers = [*extra_handlers] + [handler for logger in loggers for handler in getattr(logger, "handlers", [])]
    for handler in handlers:
        if not any(isinstance(log_filter, RedactingFilter) for log_filter in handler.filters):
            handler.addFilter(redactor)
