"""Writing the audit log: in the same transaction as the action, so neither exists without the other."""

from __future__ import annotations

import datetime as dt
import getpass
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.audit.models import AuditEntry


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def record(session: Session, actor: str, action: str, target: str | None = None, **detail: Any) -> AuditEntry:
    entry = AuditEntry(actor=actor, action=action, target=target, detail=detail or None)
    session.add(entry)
    return entry


def recent(session: Session, limit: int = 100) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)))


@dataclass(frozen=True)
class AuditFilter:
    """What the audit page asks for: who (actor), what (action or its group, "staff."), when (local days)."""

    actor: str | None = None
    action: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None


def search(session: Session, wanted: AuditFilter, tz: ZoneInfo, limit: int = 500) -> list[AuditEntry]:
    """The newest entries matching the filter (at most `limit`)."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if wanted.actor:
        query = query.where(AuditEntry.actor == wanted.actor)
    if wanted.action and wanted.action.endswith("."):
        query = query.where(AuditEntry.action.startswith(wanted.action, autoescape=True))
    elif wanted.action:
        query = query.where(AuditEntry.action == wanted.action)
    if wanted.start:
        query = query.where(AuditEntry.at >= dt.datetime.combine(wanted.start, dt.time(), tz))
    if wanted.end:
        query = query.where(AuditEntry.at < dt.datetime.combine(wanted.end + dt.timedelta(days=1), dt.time(), tz))
    return list(session.scalars(query))


def choices(session: Session) -> tuple[list[str], list[str]]:
    """Everyone and every action the log has seen, for the page's filters."""
    actors = session.scalars(select(AuditEntry.actor).distinct().order_by(AuditEntry.actor)).all()
    actions = session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)).all()
    return list(actors), list(actions)
