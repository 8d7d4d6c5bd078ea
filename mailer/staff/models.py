"""Staff accounts, and failed log-ins counted per account and client address."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mailer.db import Base, UTCDateTime, utcnow


class StaffUser(Base):
    """Someone at the office who may use the staff pages.

    `password_hash` is None until the person has chosen a password through a
    one-time link (`mailer staff add --link`); such an account cannot log in.
    """

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    language: Mapped[str | None] = mapped_column(String(5))  # None: the configured language
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # admin, staff or viewer (mailer.staff.roles); accounts from before roles became admin. Not personal.
    role: Mapped[str] = mapped_column(String(10), default="staff")
    # Set when an admin deactivates the account: it can no longer log in, its sessions end,
    # and its name stays in the audit log. Not personal.
    deactivated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    @property
    def active(self) -> bool:
        return self.deactivated_at is None

    def __repr__(self) -> str:
        return f"<StaffUser {self.id}>"


class LoginFailure(Base):
    """Failed log-ins for one account from one address, to slow down password guessing.

    Keyed by a hash of (email, address) so the table holds no addresses in clear;
    a successful log-in deletes the row.
    """

    __tablename__ = "staff_login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
