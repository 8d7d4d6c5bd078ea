"""Who did what, when: staff actions that change people's data or send mail."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from mailer.db import Base, UTCDateTime, not_personal, personal, utcnow


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True, info=not_personal())
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True, info=not_personal())
    # staff email, or "cli:<user>", or "worker"
    actor: Mapped[str] = mapped_column(String(320), info=personal(of="staff"))
    # e.g. contacts.import, contacts.forget
    action: Mapped[str] = mapped_column(String(50), index=True, info=not_personal())
    target: Mapped[str | None] = mapped_column(String(200), info=not_personal())  # never a full email address
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, info=personal())
