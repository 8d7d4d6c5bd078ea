"""Evaluations after a meeting: what participants thought, per person or anonymously."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mailer.db import Base, UTCDateTime, not_personal, personal, utcnow


class Evaluation(Base):
    __tablename__ = "evaluations"
    __table_args__ = (UniqueConstraint("meeting_id", "contact_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, info=not_personal())
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True, info=not_personal())
    # None when the meeting's evaluation is anonymous (or the person was erased).
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), info=not_personal())
    value: Mapped[int] = mapped_column(Integer, info=not_personal())  # how valuable, 1–5
    # know more about the region's cultural work, 1–5
    knowledge: Mapped[int] = mapped_column(Integer, info=not_personal())
    # wants closer cooperation with other member organisations
    cooperation: Mapped[bool] = mapped_column(info=not_personal())
    comment: Mapped[str | None] = mapped_column(Text, info=personal())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())


class EvaluationReceipt(Base):
    """That a person answered an anonymous evaluation, kept apart from what they answered."""

    __tablename__ = "evaluation_receipts"
    __table_args__ = (UniqueConstraint("meeting_id", "contact_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, info=not_personal())
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True, info=not_personal())
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), info=not_personal())
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())
