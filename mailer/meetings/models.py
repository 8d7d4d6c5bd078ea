"""Meetings ("träffar"): what invitations are for and what RSVPs answer."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ColumnElement,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    cast,
    func,
    literal,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.db import Base, UTCDateTime, not_personal, str_enum, utcnow
from mailer.identifiers import new_link_key


class SeriesChoice(enum.StrEnum):
    """How many of a series' sessions one invitee may choose."""

    ONE = "one"
    SEVERAL = "several"


class Series(Base):
    """Meetings offered together (e.g. a training series in five regions): one invitation, the
    invitee picks a session."""

    __tablename__ = "series"

    id: Mapped[int] = mapped_column(primary_key=True, info=not_personal())
    slug: Mapped[str] = mapped_column(String(80), unique=True, info=not_personal())
    link_key: Mapped[str] = mapped_column(String(32), unique=True, default=new_link_key, info=not_personal())
    title: Mapped[str] = mapped_column(String(200), info=not_personal())
    description: Mapped[str | None] = mapped_column(Text, info=not_personal())
    choice: Mapped[SeriesChoice] = mapped_column(str_enum(SeriesChoice), default=SeriesChoice.ONE, info=not_personal())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())
    # When staff close public sign-up (mailer.signup.switch): None open, a past time closed.
    signup_closes_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, info=not_personal())

    sessions: Mapped[list[Meeting]] = relationship(back_populates="series", order_by="Meeting.starts_at")

    def __repr__(self) -> str:
        return f"<Series {self.slug}>"


class Meeting(Base):
    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(primary_key=True, info=not_personal())
    slug: Mapped[str] = mapped_column(String(80), unique=True, info=not_personal())
    link_key: Mapped[str] = mapped_column(String(32), unique=True, default=new_link_key, info=not_personal())
    title: Mapped[str] = mapped_column(String(200), info=not_personal())
    region: Mapped[str] = mapped_column(String(100), info=not_personal())
    host: Mapped[str | None] = mapped_column(String(200), info=not_personal())
    city: Mapped[str] = mapped_column(String(100), info=not_personal())
    venue: Mapped[str | None] = mapped_column(String(300), info=not_personal())
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, info=not_personal())
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, info=not_personal())
    capacity: Mapped[int | None] = mapped_column(Integer, info=not_personal())
    max_guests: Mapped[int] = mapped_column(Integer, default=1, info=not_personal())
    rsvp_by: Mapped[dt.date | None] = mapped_column(Date, info=not_personal())
    description: Mapped[str | None] = mapped_column(Text, info=not_personal())
    evaluation_anonymous: Mapped[bool] = mapped_column(Boolean, default=False, info=not_personal())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())
    # Raised at every change of time or place and at cancellation: calendars replace an entry
    # with the same UID only when its SEQUENCE is higher (RFC 5545).
    sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0", info=not_personal())
    # Set when the meeting is called off: no answers, no invitations, a CANCEL calendar entry.
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, info=not_personal())
    # A session of a series, or None for a meeting of its own.
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id"), index=True, info=not_personal())
    # When staff close public sign-up (mailer.signup.switch): None open, a past time closed.
    signup_closes_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, info=not_personal())

    series: Mapped[Series | None] = relationship(back_populates="sessions")

    @property
    def place(self) -> str:
        """Venue and city for maps and calendars, the city only once when the venue names it."""
        if self.venue and self.city in self.venue:
            return self.venue
        return ", ".join(part for part in (self.venue, self.city) if part)

    def __repr__(self) -> str:
        return f"<Meeting {self.slug}>"


class QuestionKind(enum.StrEnum):
    """How a question is answered: a line of text, one option, several options, or yes/no."""

    TEXT = "text"
    CHOICE = "choice"
    MULTI = "multi"
    YESNO = "yesno"


class Question(Base):
    """A question a meeting (or a whole series) asks the people who answer, besides yes/no and guests.

    Belongs to a meeting or to a series, never both. `key` names the default questions
    ("diet", "accessibility"): their form fields keep those names, so links and forms made
    before questions existed still work. Options are [{"sv": ..., "en": ...}, ...]; a choice
    is stored as the option's Swedish text.
    """

    __tablename__ = "questions"
    __table_args__ = (CheckConstraint("(meeting_id IS NULL) <> (series_id IS NULL)", name="ck_questions_one_owner"),)

    id: Mapped[int] = mapped_column(primary_key=True, info=not_personal())
    meeting_id: Mapped[int | None] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True, info=not_personal()
    )
    series_id: Mapped[int | None] = mapped_column(
        ForeignKey("series.id", ondelete="CASCADE"), index=True, info=not_personal()
    )
    key: Mapped[str | None] = mapped_column(String(40), info=not_personal())
    kind: Mapped[QuestionKind] = mapped_column(str_enum(QuestionKind), info=not_personal())
    label_sv: Mapped[str] = mapped_column(String(300), info=not_personal())
    label_en: Mapped[str] = mapped_column(String(300), info=not_personal())
    options: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, info=not_personal())
    required: Mapped[bool] = mapped_column(Boolean, default=False, info=not_personal())
    position: Mapped[int] = mapped_column(Integer, default=0, info=not_personal())
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, info=not_personal())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())

    @hybrid_property
    def field(self) -> str:
        """The form field's name: the key of a default question, otherwise q<id>."""
        return self.key or f"q{self.id}"

    @field.inplace.expression
    @classmethod
    def _field_expression(cls) -> ColumnElement[str]:
        """The same name computed by the database, for reading questions as rows."""
        return func.coalesce(cls.key, literal("q") + cast(cls.id, String))

    def label(self, language: str) -> str:
        return self.label_en if language == "en" and self.label_en else self.label_sv

    def option_labels(self, language: str) -> list[tuple[str, str]]:
        """(stored value, text shown) per option, in the page's language."""
        return [(option["sv"], option.get(language) or option["sv"]) for option in self.options]

    def __repr__(self) -> str:
        return f"<Question {self.field}>"
