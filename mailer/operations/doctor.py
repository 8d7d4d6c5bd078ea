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
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import make_url
from sqlalchemy.exc import SQLAlchemyError

from mailer.config import ConfigError, Settings, instance_path_from_env, load_settings
from mailer.db import Database, head_revision, utcnow
from mailer.errors import ConfigProblem
from mailer.operations.backup import STALE_AFTER, backup_status
from mailer.operations.faults import InstanceFault, fault_from_error, sqlite_path
from mailer.operations.health import database_problem
from mailer.operations.heartbeat import STALL_AFTER, worker_health
from mailer.translations import translate

OK, WARN, FAIL = "ok", "warn", "fail"
FREE_FAIL_BYTES = 50 * 1024 * 1024
FREE_WARN_BYTES = 1024 * 1024 * 1024
GOOD_SECRET_LENGTH = 32
EXAMPLE_SECRETS = {"change-me-run-mailer-init-for-a-real-one"}
LOCAL_SUFFIXES = (".test", ".localhost", ".local", ".example", ".invalid")


@dataclass(frozen=True)
class Text:
    """A catalog text and its values, rendered when printed, in the reader's language."""

    key: str
    values: dict[str, Any] = field(default_factory=dict)

    def render(self, language: str | None) -> str:
        return translate(
            self.key,
            language,
            **{
                name: value.render(language) if hasattr(value, "render") else value
                for name, value in self.values.items()
            },
        )


def _(key: str, **values: Any) -> Text:
    """A lazy text, as gettext's `_` (and found by `pybabel extract` under that name)."""
    return Text(key, values)


@dataclass(frozen=True)
class Check:
    status: str  # ok, warn or fail
    name: str  # config, instance, database, smtp, worker, backup, secret_key, base_url
    detail: Text | InstanceFault  # both render themselves in the reader's language
    fix: Text | None = None


def _config(environ: dict[str, str] | None) -> tuple[Check, Settings | None]:
    try:
        settings = load_settings(environ=environ)
    except ConfigError as exc:
        return Check(
            FAIL, "config", _("ops.doctor.config_error", error=ConfigProblem(exc)), _("ops.doctor.config_fix")
        ), None
    return Check(OK, "config", _("ops.doctor.config_ok", path=settings.instance_path / "config.toml")), settings


def _instance(folder: Path) -> Check:
    if not folder.is_dir():
        return Check(
            FAIL, "instance", _("ops.doctor.instance_missing", path=folder), _("ops.doctor.instance_missing_fix")
        )
    probe = folder / f".doctor-{uuid.uuid4().hex}"
    try:
        probe.write_bytes(b"probe")
    except OSError as exc:
        fault = fault_from_error(exc, folder)  # a full disk, a read-only file system: named, with the fix
        if fault is not None:
            return Check(FAIL, "instance", fault)
        return Check(
            FAIL,
            "instance",
            _("ops.doctor.instance_readonly", path=folder, reason=exc.strerror or exc),
            _("ops.doctor.instance_readonly_fix", path=folder),
        )
    finally:  # a write that failed half-way (a full disk) still created the file
        with suppress(OSError):
            probe.unlink(missing_ok=True)
    from shutil import disk_usage

    free = disk_usage(folder).free
    text = _("ops.doctor.instance_ok", path=folder, free=f"{free / 1024**3:.1f}")
    fix = _("ops.doctor.instance_space_fix")
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
            return Check(
                FAIL, "database", _("ops.doctor.database_missing", path=file), _("ops.doctor.database_missing_fix")
            ), None
    database = Database(settings.database_url)
    try:
        revision = database.current_revision()
    except SQLAlchemyError as exc:
        database.dispose()
        fault = fault_from_error(exc, shown)  # a full disk, a read-only file, a server that refuses: named
        if fault is not None:
            return Check(FAIL, "database", fault), None
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        return Check(
            FAIL,
            "database",
            _("ops.doctor.database_unreachable", database=shown, reason=reason),
            _("ops.doctor.database_unreachable_fix"),
        ), None
    head = head_revision()
    if revision != head:
        return Check(
            FAIL,
            "database",
            _("ops.doctor.database_old", database=shown, revision=revision, head=head),
            _("ops.doctor.database_old_fix"),
        ), database
    problem = database_problem(database)
    if problem:
        return Check(
            FAIL,
            "database",
            _("ops.doctor.database_unwritable", database=shown, reason=problem),
            _("ops.doctor.database_unwritable_fix"),
        ), database
    return Check(OK, "database", _("ops.doctor.database_ok", database=shown, head=head)), database


def _smtp(settings: Settings) -> Check:
    if settings.smtp_url is None:
        return Check(
            WARN if _production(settings) else OK,
            "smtp",
            _("ops.doctor.smtp_file_outbox", path=settings.outbox_path),
            _("ops.doctor.smtp_file_outbox_fix") if _production(settings) else None,
        )
    parts = urlsplit(settings.smtp_url)
    secure = parts.scheme == "smtps"
    host, port = parts.hostname or "", parts.port or (465 if secure else 25)  # config.py requires a host
    relay = f"{host}:{port}"
    timeout = min(settings.smtp_timeout, 15.0)
    try:
        smtp = (
            smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
            if secure
            else smtplib.SMTP(host, port, timeout=timeout)
        )
    except (OSError, smtplib.SMTPException) as exc:
        return Check(
            FAIL,
            "smtp",
            _("ops.doctor.smtp_unreachable", relay=relay, reason=exc),
            _("ops.doctor.smtp_unreachable_fix"),
        )
    try:
        code, reply = smtp.ehlo(socket.getfqdn())
        if code != 250:
            return Check(
                FAIL,
                "smtp",
                _("ops.doctor.smtp_refused", relay=relay, reply=f"{code} {reply.decode(errors='replace').strip()}"),
                _("ops.doctor.smtp_refused_fix"),
            )
        features = {name: smtp.has_extn(name) for name in ("starttls", "8bitmime", "smtputf8")}
    except (OSError, smtplib.SMTPException) as exc:
        return Check(
            FAIL, "smtp", _("ops.doctor.smtp_broken", relay=relay, reason=exc), _("ops.doctor.smtp_broken_fix")
        )
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
    offered = _Offered(features)
    detail = _("ops.doctor.smtp_ok", relay=relay, security="TLS" if secure else "plain", offered=offered)
    if not secure and not features["starttls"] and not _local_host(host):
        return Check(WARN, "smtp", detail, _("ops.doctor.smtp_no_tls_fix"))
    return Check(OK, "smtp", detail)


def _worker(database: Database, settings: Settings) -> Check:
    with database.transaction() as session:
        health = worker_health(session)
    if health.last_seen is None:
        seen = _("ops.doctor.worker_never")
    else:
        seen = _(
            "ops.doctor.worker_seen",
            when=f"{health.last_seen.astimezone(settings.timezone):%Y-%m-%d %H:%M:%S}",
            seconds=f"{health.age_seconds:.0f}",
        )
    fix = _("ops.doctor.worker_fix")
    if health.running:
        return Check(OK, "worker", _("ops.doctor.worker_ok", seen=seen))
    if health.stalled:
        return Check(FAIL, "worker", _("ops.doctor.worker_stalled", seen=seen), fix)
    if health.work_waiting:
        return Check(WARN, "worker", _("ops.doctor.worker_waiting", seen=seen), fix)
    return Check(
        WARN, "worker", _("ops.doctor.worker_idle", seen=seen, minutes=int(STALL_AFTER.total_seconds() // 60)), fix
    )


def _backup(database: Database, settings: Settings) -> Check:
    with database.transaction() as session:
        status = backup_status(session)
    fix = _("ops.doctor.backup_fix", cron=settings.backup_cron, keep=settings.backup_keep)
    if status.last_at is None:
        return Check(WARN, "backup", _("ops.doctor.backup_none"), fix)
    age = utcnow() - status.last_at
    values = {
        "when": f"{status.last_at.astimezone(settings.timezone):%Y-%m-%d %H:%M}",
        "hours": f"{age.total_seconds() / 3600:.0f}",
        "path": status.path,
    }
    if age > STALE_AFTER:
        return Check(WARN, "backup", _("ops.doctor.backup_old", days=STALE_AFTER.days, **values), fix)
    return Check(OK, "backup", _("ops.doctor.backup_ok", **values))


def _secret(settings: Settings) -> Check:
    key = settings.secret_key
    fix = _("ops.doctor.secret_fix")
    if key in EXAMPLE_SECRETS or len(set(key)) < 8:
        return Check(FAIL, "secret_key", _("ops.doctor.secret_weak"), fix)
    if len(key) < GOOD_SECRET_LENGTH:
        return Check(WARN, "secret_key", _("ops.doctor.secret_short", length=len(key), good=GOOD_SECRET_LENGTH), fix)
    return Check(OK, "secret_key", _("ops.doctor.secret_ok", length=len(key), different=len(set(key))))


def _local_host(host: str | None) -> bool:
    host = (host or "").lower()
    return host in ("localhost", "127.0.0.1", "::1") or host.endswith(LOCAL_SUFFIXES) or host.startswith("127.")


@dataclass(frozen=True)
class _Offered:
    """ "STARTTLS yes, 8BITMIME yes, SMTPUTF8 no" with yes and no in the reader's language."""

    features: dict[str, bool]

    def render(self, language: str | None) -> str:
        yes, no = translate("ops.doctor.yes", language), translate("ops.doctor.no", language)
        return ", ".join(f"{name.upper()} {yes if on else no}" for name, on in self.features.items())


def _production(settings: Settings) -> bool:
    """A base_url others can reach: not localhost, not a reserved test or example name."""
    return not _local_host(urlsplit(settings.base_url).hostname)


def _base_url(settings: Settings) -> Check:
    scheme = urlsplit(settings.base_url).scheme
    if not _production(settings):
        return Check(OK, "base_url", _("ops.doctor.base_url_local", url=settings.base_url))
    if scheme != "https":
        return Check(
            FAIL, "base_url", _("ops.doctor.base_url_http", url=settings.base_url), _("ops.doctor.base_url_http_fix")
        )
    return Check(OK, "base_url", _("ops.doctor.base_url_ok", url=settings.base_url))


def run_checks(environ: dict[str, str] | None = None, report: Callable[[Check], None] | None = None) -> list[Check]:
    """Every check, in order; `report` sees each as it is done (the relay may take seconds)."""
    checks: list[Check] = []

    def add(check: Check) -> None:
        checks.append(check)
        if report:
            report(check)

    config, settings = _config(environ)
    add(config)
    add(
        _instance(
            settings.instance_path
            if settings
            else instance_path_from_env(dict(os.environ if environ is None else environ))
        )
    )
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
            add(Check(WARN, "worker", _("ops.doctor.not_checked")))
            add(Check(WARN, "backup", _("ops.doctor.not_checked")))
        add(_secret(settings))
        add(_base_url(settings))
    finally:
        if database is not None:
            database.dispose()
    return checks
