"""Each weekly digest sent, with the period it covered: the next one starts where it ended."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer
from sqlalchemy.orm import Mapped, mapped_column

from mailer.db import Base, UTCDateTime, not_personal, utcnow


class DigestRun(Base):
    __tablename__ = "digest_runs"

    id: Mapped[int] = mapped_column(primary_key=True, info=not_personal())
    period_start: Mapped[dt.datetime] = mapped_column(UTCDateTime, info=not_personal())
    period_end: Mapped[dt.datetime] = mapped_column(UTCDateTime, unique=True, info=not_personal())
    recipients: Mapped[int] = mapped_column(Integer, info=not_personal())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())
