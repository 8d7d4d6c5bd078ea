"""Answers to invitations: one current response per person and meeting, with full history."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.campaigns.models import str_enum
from mailer.contacts.models import Contact
from mailer.db import Base, UTCDateTime, utcnow
from mailer.meetings.models import Meeting


class Answer(enum.StrEnum):
    YES = "yes"
    NO = "no"


class Response(Base):
    __tablename__ = "responses"
    __table_args__ = (
        UniqueConstraint("meeting_id", "contact_id"),
        Index("ix_responses_meeting_updated", "meeting_id", "updated_at"),  # the digest's "answers this week"
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    answer: Mapped[Answer] = mapped_column(str_enum(Answer))
    waitlisted: Mapped[bool] = mapped_column(default=False)
    waitlisted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    guests: Mapped[int] = mapped_column(Integer, default=0)
    diet: Mapped[str | None] = mapped_column(String(300))
    accessibility: Mapped[str | None] = mapped_column(String(300))
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    meeting: Mapped[Meeting] = relationship()
    contact: Mapped[Contact | None] = relationship()
    history: Mapped[list["ResponseChange"]] = relationship(
        back_populates="response", order_by="ResponseChange.id", cascade="all, delete-orphan"
    )


class ResponseChange(Base):
    """Every answer as it was given, with its time: nothing a person said is overwritten."""

    __tablename__ = "response_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"), index=True)
    answer: Mapped[Answer] = mapped_column(str_enum(Answer))
    waitlisted: Mapped[bool] = mapped_column(default=False)
    guests: Mapped[int] = mapped_column(Integer, default=0)
    diet: Mapped[str | None] = mapped_column(String(300))
    accessibility: Mapped[str | None] = mapped_column(String(300))
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    response: Mapped[Response] = relationship(back_populates="history")


class LinkOpen(Base):
    """A GET of someone's RSVP page: logged apart from answers, never counted as one."""

    __tablename__ = "link_opens"
    __table_args__ = (UniqueConstraint("meeting_id", "contact_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    first_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    count: Mapped[int] = mapped_column(Integer, default=1)
