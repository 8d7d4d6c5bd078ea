"""A sign-up waiting for its confirmation: the only thing stored before the person confirms."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.contacts.models import Organisation
from mailer.db import Base, UTCDateTime, not_personal, personal, utcnow
from mailer.meetings.models import Meeting, Series


class SignupRequest(Base):
    """Deleted when confirmed (its content moves to the contact and its consent record) and,
    unconfirmed, when it expires (the retention job). Personal columns are nullable so that
    retention can clear them like any other row's."""

    __tablename__ = "signup_requests"

    id: Mapped[int] = mapped_column(primary_key=True, info=not_personal())
    # SHA-256 of the key in the confirmation link: the database alone cannot confirm anyone.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, info=not_personal())
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id"), index=True, info=not_personal())
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id"), index=True, info=not_personal())
    email: Mapped[str | None] = mapped_column(String(320), index=True, info=personal())
    name: Mapped[str | None] = mapped_column(String(200), info=personal())
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), info=not_personal()
    )
    language: Mapped[str] = mapped_column(String(5), info=not_personal())
    text_key: Mapped[str] = mapped_column(String(100), info=not_personal())
    text: Mapped[str] = mapped_column(Text, info=not_personal())
    page_url: Mapped[str | None] = mapped_column(String(500), info=not_personal())
    embedded_from: Mapped[str | None] = mapped_column(String(300), info=not_personal())
    requested_from: Mapped[str | None] = mapped_column(String(64), info=personal())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True, info=not_personal())

    meeting: Mapped[Meeting | None] = relationship()
    series: Mapped[Series | None] = relationship()
    organisation: Mapped[Organisation | None] = relationship()
