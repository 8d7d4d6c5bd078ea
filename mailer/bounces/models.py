"""Every delivery report about one of our messages that changed or counted something.

Kept so that soft bounces can be counted over 30 days, the same report is never applied twice
(its fingerprint is unique), and staff, the digest and the organisations' quality lists can
say what the receiving server answered. A report is about one person and stays tied to them, so
it is deleted, not anonymised, once older than the retention period (deleted_after_retention).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mailer.db import Base, UTCDateTime, deleted_after_retention, not_personal, personal, utcnow

DELAYED = "delayed"  # a soft report that only says the server is still trying


class BounceEvent(Base):
    __tablename__ = "bounce_events"
    __table_args__ = (
        Index("ix_bounce_events_contact_created", "contact_id", "created_at"),
        {"info": deleted_after_retention("created_at")},
    )

    id: Mapped[int] = mapped_column(primary_key=True, info=not_personal())
    # sha256 of the report as received: the same report read again changes nothing
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True, info=not_personal())
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), info=not_personal())
    # the outbox row the signed tag named
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), index=True, info=not_personal()
    )
    kind: Mapped[str] = mapped_column(String(20), info=not_personal())  # hard, soft, delayed, complaint
    status: Mapped[str | None] = mapped_column(String(12), info=not_personal())  # enhanced status code, e.g. 5.1.1
    counts: Mapped[bool] = mapped_column(Boolean, default=False, info=not_personal())  # toward soft_bounce_limit
    # the receiving server's words, which usually name the address
    reply: Mapped[str | None] = mapped_column(Text, info=personal())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())
