"""Answers to invitations: one current response per person and meeting, with full history."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.contacts.models import Contact
from mailer.db import Base, UTCDateTime, not_personal, personal, reference, str_enum, utcnow
from mailer.meetings.models import Meeting, Question


class Answer(enum.StrEnum):
    YES = "yes"
    NO = "no"


class Response(Base):
    __tablename__ = "responses"
    __table_args__ = (
        UniqueConstraint("meeting_id", "contact_id"),
        Index("ix_responses_meeting_updated", "meeting_id", "updated_at"),  # the digest's "answers this week"
    )

    id: Mapped[int] = mapped_column(primary_key=True, info=not_personal())
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True, info=not_personal())
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True, info=not_personal()
    )
    answer: Mapped[Answer] = mapped_column(str_enum(Answer), info=not_personal())
    waitlisted: Mapped[bool] = mapped_column(default=False, info=not_personal())
    waitlisted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, info=not_personal())
    guests: Mapped[int] = mapped_column(Integer, default=0, info=not_personal())
    comment: Mapped[str | None] = mapped_column(Text, info=personal())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())

    meeting: Mapped[Meeting] = relationship()
    contact: Mapped[Contact | None] = relationship()
    history: Mapped[list[ResponseChange]] = relationship(
        back_populates="response", order_by="ResponseChange.id", cascade="all, delete-orphan"
    )
    answers: Mapped[list[QuestionAnswer]] = relationship(
        back_populates="response", cascade="all, delete-orphan", passive_deletes=True
    )


class ResponseChange(Base):
    """Every answer as it was given, with its time: nothing a person said is overwritten."""

    __tablename__ = "response_history"

    id: Mapped[int] = mapped_column(primary_key=True, info=not_personal())
    response_id: Mapped[int] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), index=True, info=not_personal()
    )
    answer: Mapped[Answer] = mapped_column(str_enum(Answer), info=not_personal())
    waitlisted: Mapped[bool] = mapped_column(default=False, info=not_personal())
    guests: Mapped[int] = mapped_column(Integer, default=0, info=not_personal())
    comment: Mapped[str | None] = mapped_column(Text, info=personal())
    # The questions' answers as they were then, by form field ({"diet": "vegan", "q7": ["a", "b"]}).
    answers: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), info=personal())
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())

    response: Mapped[Response] = relationship(back_populates="history")


class QuestionAnswer(Base):
    """A person's answer to one of the meeting's (or series') questions: text, an option's Swedish
    text, a list of them (several choices), or "yes"/"no"."""

    __tablename__ = "question_answers"
    __table_args__ = (UniqueConstraint("response_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, info=not_personal())
    response_id: Mapped[int] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), index=True, info=not_personal()
    )
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), index=True, info=reference()
    )
    value: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True, info=personal())  # None once erased
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())

    response: Mapped[Response] = relationship(back_populates="answers")
    question: Mapped[Question] = relationship()


class LinkOpen(Base):
    """A GET of someone's RSVP page: logged apart from answers, never counted as one."""

    __tablename__ = "link_opens"
    __table_args__ = (UniqueConstraint("meeting_id", "contact_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, info=not_personal())
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True, info=not_personal())
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), info=not_personal())
    first_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())
    last_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())
    count: Mapped[int] = mapped_column(Integer, default=1, info=not_personal())
