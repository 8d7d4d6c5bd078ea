"""Meetings ("träffar"): what invitations are for and what RSVPs answer."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mailer.contacts.models import new_link_key
from mailer.db import Base, UTCDateTime, utcnow


class Meeting(Base):
    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    link_key: Mapped[str] = mapped_column(String(32), unique=True, default=new_link_key)
    title: Mapped[str] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(String(100))
    host: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    venue: Mapped[str | None] = mapped_column(String(300))
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int | None] = mapped_column(Integer)
    max_guests: Mapped[int] = mapped_column(Integer, default=1)
    rsvp_by: Mapped[dt.date | None] = mapped_column(Date)
    description: Mapped[str | None] = mapped_column(Text)
    evaluation_anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Raised at every change of time or place and at cancellation: calendars replace an entry
    # with the same UID only when its SEQUENCE is higher (RFC 5545). Not personal.
    sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Set when the meeting is called off: no answers, no invitations, a CANCEL calendar entry. Not personal.
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    @property
    def place(self) -> str:
        """Venue and city for maps and calendars, the city only once when the venue names it."""
        if self.venue and self.city in self.venue:
            return self.venue
        return ", ".join(p for p in (self.venue, self.city) if p)

    def __repr__(self) -> str:
        return f"<Meeting {self.slug}>"
