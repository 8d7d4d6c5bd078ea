"""Evaluations after a meeting: what participants thought, per person or anonymously."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mailer.db import Base, UTCDateTime, utcnow


class Evaluation(Base):
    __tablename__ = "evaluations"
    __table_args__ = (UniqueConstraint("meeting_id", "contact_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    # None when the meeting's evaluation is anonymous (or the person was erased).
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    value: Mapped[int] = mapped_column(Integer)  # how valuable, 1–5
    knowledge: Mapped[int] = mapped_column(Integer)  # know more about the region's cultural work, 1–5
    cooperation: Mapped[bool]  # wants closer cooperation with other member organisations
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class EvaluationReceipt(Base):
    """That a person answered an anonymous evaluation, kept apart from what they answered."""

    __tablename__ = "evaluation_receipts"
    __table_args__ = (UniqueConstraint("meeting_id", "contact_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
