"""`mailer doctor`: is this instance healthy? One line per check, ok/warn/fail, each with the fix.

Written for the person who looks after the server once a month: every check runs even when
an earlier one fails (a missing config only skips what needs it), nothing is changed except
one probe row and one probe file, and nothing is created that was not there (a missing SQLite
file is reported, not made).
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from sqlalchemy import make_url
from sqlalchemy.exc import SQLAlchemyError

from mailer.config import ConfigError, Settings, instance_path_from_env, load_settings
from mailer.db import Database, head_revision, utcnow
from mailer.operations.backup import STALE_AFTER, backup_status
from mailer.operations.faults import sqlite_path
from mailer.operations.health import database_problem
from mailer.operations.heartbeat import STALL_AFTER, worker_health

OK, WARN, FAIL = "ok", "warn", "fail"
FREE_FAIL_BYTES = 50 * 1024 * 1024
FREE_WARN_BYTES = 1024 * 1024 * 1024
GOOD_SECRET_LENGTH = 32
EXAMPLE_SECRETS = {"change-me-run-mailer-init-for-a-real-one"}
LOCAL_SUFFIXES = (".test", ".localhost", ".local", ".example", ".invalid")


@dataclass(frozen=True)
class Check:
    status: str  # ok, warn or fail
    name: str
    detail: str
    fix: str = ""


def _config(environ: dict[str, str] | None) -> tuple[Check, Settings | None]:
    try:
        settings = load_settings(environ=environ)
    except ConfigError as exc:
        return Check(FAIL, "config", str(exc), "correct the setting in instance/config.toml or the environment "
                                              "(`mailer init` writes a config)"), None
    return Check(OK, "config", f"{settings.instance_path / 'config.toml'} and the environment are valid"), settings


def _instance(folder: Path) -> Check:
    if not folder.is_dir():
        return Check(FAIL, "instance", f"{folder} does not exist", "run `mailer init` or set MAILER_INSTANCE_PATH")
    probe = folder / f".doctor-{uuid.uuid4().hex}"
    try:
        probe.write_bytes(b"probe")
        probe.unlink()
    except OSError as exc:
        return Check(FAIL, "instance", f"{folder} is not writable ({exc.strerror})",
                     f"make it writable for this user (chmod u+w {folder})")
    from shutil import disk_usage

    free = disk_usage(folder).free
    text = f"{folder} is writable, {free / 1024 ** 3:.1f} GB free"
    fix = "free some space (old backups in instance/backups, logs) or grow the disk"
    if free < FREE_FAIL_BYTES:
        return Check(FAIL, "instance", text, fix)
    if free < FREE_WARN_BYTES:
        return Check(WARN, "instance", text, fix)
    return Check(OK, "instance", text)


def _database(settings: Settings) -> tuple[Check, Database | None]:
    shown = make_url(settings.database_url).render_as_string(hide_password=True)
    file = sqlite_path(settings.database_url)
    if file is not None:
        shown = str(file)
        if not file.exists():  # Database() would create an empty one
            return Check(FAIL, "database", f"{file} is missing",
                         "restore the last backup (`mailer restore PATH`) or run `mailer init`"), None
    database = Database(settings.database_url)
    try:
        revision = database.current_revision()
    except SQLAlchemyError as exc:
        database.dispose()
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        return Check(FAIL, "database", f"{shown} cannot be reached: {reason}",
                     "start the database server, or correct database_url"), None
    head = head_revision()
    if revision != head:
        return Check(FAIL, "database", f"{shown} is at schema revision {revision}, the latest is {head}",
                     "run `mailer init` (it migrates the database)"), database
    problem = database_problem(database)
    if problem:
        return Check(FAIL, "database", f"{shown} cannot be written: {problem}",
                     "make the database writable (file permissions, disk space, database user's rights)"), database
    return Check(OK, "database", f"{shown} is reachable and writable, at the latest revision {head}"), database


def _smtp(settings: Settings) -> Check:
    if settings.smtp_url is None:
        return Check(WARN if _production(settings) else OK, "smtp",
                     f"no smtp_url: mail is written to files in {settings.outbox_path}, not sent",
                     "set smtp_url to your mail relay (smtp://user:password@host:587)" if _production(settings) else "")
    parts = urlsplit(settings.smtp_url)
    secure = parts.scheme == "smtps"
    host, port = parts.hostname, parts.port or (465 if secure else 25)
    timeout = min(settings.smtp_timeout, 15.0)
    try:
        smtp = (smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context()) if secure
                else smtplib.SMTP(host, port, timeout=timeout))
    except (OSError, smtplib.SMTPException) as exc:
        return Check(FAIL, "smtp", f"cannot reach the relay {host}:{port}: {exc}",
                     "check smtp_url, the relay and the firewall (outgoing port)")
    try:
        code, reply = smtp.ehlo(socket.getfqdn())
        if code != 250:
            return Check(FAIL, "smtp", f"the relay {host}:{port} refused EHLO: {code} "
                                       f"{reply.decode(errors='replace').strip()}",
                         "ask the relay's operator to allow this server, or use another relay")
        features = {name: smtp.has_extn(name) for name in ("starttls", "8bitmime", "smtputf8")}
    except (OSError, smtplib.SMTPException) as exc:
        return Check(FAIL, "smtp", f"the relay {host}:{port} broke off the conversation: {exc}",
                     "check smtp_url (port 465 needs smtps://) and the relay")
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
    offered = ", ".join(f"{name.upper()} {'yes' if on else 'no'}" for name, on in features.items())
    detail = f"{host}:{port} answered EHLO ({'TLS' if secure else 'plain'}; {offered})"
    if not secure and not features["starttls"] and not _local_host(host):
        return Check(WARN, "smtp", detail, "the relay offers no STARTTLS: mail and password travel unencrypted; "
                                           "use smtps:// or a relay with STARTTLS")
    return Check(OK, "smtp", detail)


def _worker(database: Database, settings: Settings) -> Check:
    with database.transaction() as session:
        health = worker_health(session)
    if health.last_seen is None:
        seen = "no worker has run yet"
    else:
        seen = f"last heard from {health.last_seen.astimezone(settings.timezone):%Y-%m-%d %H:%M:%S} " \
               f"({health.age_seconds:.0f} s ago)"
    fix = "start it: `mailer worker` (as a service: docs/deploy.md)"
    if health.running:
        return Check(OK, "worker", f"running, {seen}")
    if health.stalled:
        return Check(FAIL, "worker", f"mail is waiting and the worker is not running: {seen}", fix)
    if health.work_waiting:
        return Check(WARN, "worker", f"not running and mail is waiting ({seen})", fix)
    minutes = int(STALL_AFTER.total_seconds() // 60)
    return Check(WARN, "worker", f"not running ({seen}; nothing waits yet, it would be a stall after {minutes} min)",
                 fix)


def _backup(database: Database, settings: Settings) -> Check:
    with database.transaction() as session:
        status = backup_status(session)
    fix = f"run `mailer backup`; the worker takes one on schedule ({settings.backup_cron}, kept: {settings.backup_keep})"
    if status.last_at is None:
        return Check(WARN, "backup", "no backup has been taken", fix)
    age = utcnow() - status.last_at
    detail = f"last backup {status.last_at.astimezone(settings.timezone):%Y-%m-%d %H:%M} " \
             f"({age.total_seconds() / 3600:.0f} h ago): {status.path}"
    if age > STALE_AFTER:
        return Check(WARN, "backup", detail + f", older than {STALE_AFTER.days} days", fix)
    return Check(OK, "backup", detail)


def _secret(settings: Settings) -> Check:
    key = settings.secret_key
    fix = "replace secret_key with a new one (python3 -c 'import secrets; print(secrets.token_urlsafe(32))'); " \
          "keep the old one in old_secret_keys so that links already sent keep working"
    if key in EXAMPLE_SECRETS or len(set(key)) < 8:
        return Check(FAIL, "secret_key", "is the example key or trivially guessable", fix)
    if len(key) < GOOD_SECRET_LENGTH:
        return Check(WARN, "secret_key", f"is {len(key)} characters; {GOOD_SECRET_LENGTH} or more is strong", fix)
    return Check(OK, "secret_key", f"{len(key)} characters, {len(set(key))} different ones")


def _local_host(host: str | None) -> bool:
    host = (host or "").lower()
    return host in ("localhost", "127.0.0.1", "::1") or host.endswith(LOCAL_SUFFIXES) or host.startswith("127.")


def _production(settings: Settings) -> bool:
    """A base_url others can reach: not localhost, not a reserved test or example name."""
    return not _local_host(urlsplit(settings.base_url).hostname)


def _base_url(settings: Settings) -> Check:
    scheme = urlsplit(settings.base_url).scheme
    if not _production(settings):
        return Check(OK, "base_url", f"{settings.base_url} (local or test address: https not required)")
    if scheme != "https":
        return Check(FAIL, "base_url", f"{settings.base_url} is plain http on a public address: answer links "
                                       "and staff passwords travel unencrypted",
                     "serve over https (docs/deploy.md: reverse proxy) and set base_url to https://…")
    return Check(OK, "base_url", f"{settings.base_url} uses https")


def run_checks(environ: dict[str, str] | None = None, report: Callable[[Check], None] | None = None) -> list[Check]:
    """Every check, in order; `report` sees each as it is done (the relay may take seconds)."""
    checks: list[Check] = []

    def add(check: Check) -> None:
        checks.append(check)
        if report:
            report(check)

    config, settings = _config(environ)
    add(config)
    add(_instance(settings.instance_path if settings else instance_path_from_env(dict(os.environ if environ is None else environ))))
    if settings is None:
        return checks
    database_check, database = _database(settings)
    add(database_check)
    try:
        add(_smtp(settings))
        if database is not None and database_check.status != FAIL:
            add(_worker(database, settings))
            add(_backup(database, settings))
        else:
            add(Check(WARN, "worker", "not checked: the database is not usable"))
            add(Check(WARN, "backup", "not checked: the database is not usable"))
        add(_secret(settings))
        add(_base_url(settings))
    finally:
        if database is not None:
            database.dispose()
    return checks
