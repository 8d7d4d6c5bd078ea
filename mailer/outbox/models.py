"""The outbox: every email mailer sends is a row here before it is sent.

Rows are written in the same transaction as the change that causes them
(a campaign starting, an RSVP being recorded) and sent only after commit, so a
crash can delay a mail but never lose it or invent one.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.contacts.models import Contact
from mailer.db import Base, UTCDateTime, not_personal, personal, str_enum, utcnow


class MessageState(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    RETRYING = "retrying"
    FAILED = "failed"
    BOUNCED = "bounced"
    SKIPPED = "skipped"


FINAL_STATES = (MessageState.SENT, MessageState.FAILED, MessageState.BOUNCED, MessageState.SKIPPED)


class OutboxMessage(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("campaign_id", "contact_id"),
        Index("ix_messages_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, info=not_personal())
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True, info=not_personal())
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True, info=not_personal()
    )
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id"), index=True, info=not_personal())
    template: Mapped[str] = mapped_column(String(50), info=not_personal())
    to_email: Mapped[str | None] = mapped_column(String(320), info=personal())
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON, info=personal())
    state: Mapped[MessageState] = mapped_column(
        str_enum(MessageState), default=MessageState.QUEUED, info=not_personal()
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, info=not_personal())
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())
    claimed_by: Mapped[str | None] = mapped_column(String(100), info=not_personal())
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, info=not_personal())
    last_error: Mapped[str | None] = mapped_column(Text, info=personal())
    uncertain: Mapped[bool] = mapped_column(Boolean, default=False, info=not_personal())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, info=not_personal())
    # a random id at our own domain, stored when the row is first marked `sending` and reused by
    # every retry (mail/message.py new_message_id)
    message_id: Mapped[str | None] = mapped_column(String(250), unique=True, info=not_personal())

    contact: Mapped[Contact | None] = relationship()
