"""Who came: check-ins on the day, including walk-ins who were never invited."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.contacts.models import Contact
from mailer.db import Base, UTCDateTime, utcnow


class Attendance(Base):
    __tablename__ = "attendance"
    __table_args__ = (UniqueConstraint("meeting_id", "contact_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    # None for a walk-in without an address, or after the person was erased.
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    name: Mapped[str | None] = mapped_column(String(200))
    # For walk-ins from organisations outside the membership (Riksteatern, Sensus, …).
    organisation_name: Mapped[str | None] = mapped_column(String(200))
    walk_in: Mapped[bool] = mapped_column(default=False)
    checked_in_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    contact: Mapped[Contact | None] = relationship()
