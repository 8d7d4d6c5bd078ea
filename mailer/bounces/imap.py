"""The bounce mailbox over IMAP (`bounce_imap_url`): the worker reads it on a schedule.

Every message in the folder is processed like a file (service.process_one) and then moved to the
`done` folder, so nothing is read twice; a message that cannot be moved is still safe, since its
report is applied once by its fingerprint. Any IMAP failure (server away, wrong password, a
dropped connection) ends this round with a logged warning: the next round tries again, and
the worker carries on sending meanwhile.
"""

from __future__ import annotations

import imaplib
import logging
import re
import ssl
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from mailer.bounces.reading import MAX_BYTES
from mailer.bounces.service import Report, process_one
from mailer.bounces.sources import DONE, Incoming
from mailer.config import Settings
from mailer.db import Database

log = logging.getLogger(__name__)
TIMEOUT = 60.0  # seconds per IMAP command
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


@dataclass
class Round:
    reports: list[Report] = field(default_factory=list)
    error: str | None = None


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def connect(url: str) -> tuple[imaplib.IMAP4, str]:
    """Logged in; returns the connection and the folder to read (INBOX when the URL names none)."""
    parts = urlsplit(url)
    if not parts.hostname:  # config.py checks bounce_imap_url; the URL may hold a password: not shown
        raise ValueError("the IMAP URL names no server")
    connection: imaplib.IMAP4
    if parts.scheme == "imaps":
        connection = imaplib.IMAP4_SSL(
            parts.hostname, parts.port or 993, ssl_context=ssl.create_default_context(), timeout=TIMEOUT
        )
    else:
        connection = imaplib.IMAP4(parts.hostname, parts.port or 143, timeout=TIMEOUT)
    try:
        if parts.scheme == "imap" and "STARTTLS" in connection.capabilities:
            # As smtp://: encrypted whenever the server can, and its certificate checked.
            connection.starttls(ssl_context=ssl.create_default_context())
        connection.login(unquote(parts.username or ""), unquote(parts.password or ""))
    except BaseException:
        try:
            connection.shutdown()  # a refused login or certificate must not leave the socket open
        except OSError:
            pass  # already closed by the failed TLS handshake
        raise
    return connection, unquote(parts.path.lstrip("/")) or "INBOX"


def fetch_and_process(database: Database, settings: Settings) -> Round:
    """One round: every message now in the folder, processed and moved to `done`."""
    result = Round()
    if not settings.bounce_imap_url:
        return result
    connection = None
    try:
        connection, folder = connect(settings.bounce_imap_url)
        connection.create(DONE)  # "already exists" is a NO, not an exception
        status, _ = connection.select(_quoted(folder))
        if status != "OK":
            raise imaplib.IMAP4.error(f"cannot open folder {folder!r}")
        status, data = connection.uid("SEARCH", "ALL")  # no charset: the same command as with None
        if status != "OK":
            raise imaplib.IMAP4.error("SEARCH failed")
        for uid in (data[0] or b"").split():
            incoming = _fetch(connection, folder, uid.decode())
            if incoming is None:
                continue
            result.reports.append(process_one(database, settings, incoming))
            _move_done(connection, uid.decode())
        connection.expunge()
    except (imaplib.IMAP4.error, OSError, ssl.SSLError) as exc:  # OSError: refused, reset, timed out
        result.error = f"{type(exc).__name__}: {exc}"
        log.warning("bounce mailbox %s: %s; trying again next round", _safe(settings.bounce_imap_url), result.error)
    finally:
        if connection is not None:
            try:
                connection.logout()
            except (imaplib.IMAP4.error, OSError):
                pass
    if result.reports:
        log.info("bounce mailbox: %d message(s) processed", len(result.reports))
    return result


def _fetch(connection: imaplib.IMAP4, folder: str, uid: str) -> Incoming | None:
    """At most MAX_BYTES of the message (a partial fetch), without marking it read."""
    status, data = connection.uid("FETCH", uid, f"(RFC822.SIZE BODY.PEEK[]<0.{MAX_BYTES}>)")
    if status != "OK":
        return None
    for item in data:
        if isinstance(item, tuple):
            size = _SIZE.search(item[0])
            body = item[1]
            return Incoming(f"imap:{folder}/{uid}", body, bool(size and int(size.group(1)) > len(body)))
    return None


def _move_done(connection: imaplib.IMAP4, uid: str) -> None:
    try:
        status, _ = connection.uid("MOVE", uid, DONE)  # RFC 6851; else copy and delete
    except imaplib.IMAP4.error:  # BAD: the server has no MOVE
        status = "NO"
    if status != "OK":
        if connection.uid("COPY", uid, DONE)[0] == "OK":
            connection.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")


def _safe(url: str) -> str:
    """The URL without its password, for the log."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.username or ''}@{parts.hostname}{parts.path}"
