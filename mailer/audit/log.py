"""Writing the audit log: in the same transaction as the action, so neither exists without the other."""

from __future__ import annotations

import getpass
from typing import Any

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
