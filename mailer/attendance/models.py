"""Who came: check-ins on the day, including walk-ins who were never invited."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.contacts.models import Contact
from mailer.db import Base, UTCDateTime, not_personal, personal, utcnow


class Attendance(Base):
    __tablename__ = "attendance"
    __table_args__ = (UniqueConstraint("meeting_id", "contact_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, info=not_personal())
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True, info=not_personal())
    # None for a walk-in without an address, or after the person was erased.
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), info=not_personal())
    name: Mapped[str | None] = mapped_column(String(200), info=personal())
    # For walk-ins from organisations outside the membership (Riksteatern, Sensus, …).
    organisation_name: Mapped[str | None] = mapped_column(String(200), info=not_personal())
    walk_in: Mapped[bool] = mapped_column(default=False, info=not_personal())
    checked_in_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())

    contact: Mapped[Contact | None] = relationship()
