"""Staff accounts, and failed log-ins counted per account and client address."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mailer.db import Base, UTCDateTime, not_personal, personal, utcnow


class StaffUser(Base):
    """Someone at the office who may use the staff pages.

    `password_hash` is None until the person has chosen a password through a
    one-time link (`mailer staff add --link`); such an account cannot log in.
    `session_generation` is part of every session of the account: raising it ends
    them all on the server at once (`mailer.staff.accounts.end_sessions`).
    """

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True, info=not_personal())
    email: Mapped[str] = mapped_column(String(320), unique=True, info=personal(of="staff"))
    name: Mapped[str | None] = mapped_column(String(200), info=personal(of="staff"))
    password_hash: Mapped[str | None] = mapped_column(String(255), info=not_personal())
    language: Mapped[str | None] = mapped_column(String(5), info=not_personal())  # None: the configured language
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, info=not_personal())
    # Raised by accounts.end_sessions: a session cookie carrying an older value is refused.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0", info=not_personal())
    # admin, staff or viewer (mailer.staff.roles); accounts from before roles became admin.
    role: Mapped[str] = mapped_column(String(10), default="staff", info=not_personal())
    # Set when an admin deactivates the account: it can no longer log in, its sessions end,
    # and its name stays in the audit log.
    deactivated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, info=not_personal())

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

    id: Mapped[int] = mapped_column(primary_key=True, info=not_personal())
    key: Mapped[str] = mapped_column(String(64), unique=True, info=not_personal())
    failures: Mapped[int] = mapped_column(Integer, default=0, info=not_personal())
    last_failed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())


class ApiToken(Base):
    """A key another system uses for the JSON API (`Authorization: Bearer ...`) on behalf of one account.

    Only a SHA-256 hash of the token is stored: it is shown once, when made, and a copy of
    the database gives nobody a working token. It acts with the account's role of the moment
    and never more than its `scope` allows (read: GET only; write: everything the role may).
    Revoking keeps the row, so the staff page and the audit log can still name it.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True, info=not_personal())
    staff_user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE", name="fk_api_tokens_staff_user_id_staff_users"),
        index=True,
        info=not_personal(),
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, info=not_personal())
    # The token's first characters, shown on the staff page so people can tell their tokens apart.
    prefix: Mapped[str] = mapped_column(String(16), info=not_personal())
    # What the token is for ("Webbplatsen", "CRM-synk"), typed by staff.
    label: Mapped[str | None] = mapped_column(String(100), info=not_personal())
    scope: Mapped[str] = mapped_column(String(10), info=not_personal())  # read or write
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, info=not_personal())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, info=not_personal())

    @property
    def active(self) -> bool:
        return self.revoked_at is None
