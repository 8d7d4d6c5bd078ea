"""Logging in, with failed attempts slowed down per account and client address.

The first few mistakes cost nothing (everyone mistypes); after that each
further attempt must wait twice as long as the one before, up to a quarter of
an hour. Waiting is enforced by refusing early attempts, not by sleeping in
the request, so a guesser cannot tie up the server's threads. The counter is
kept in the database: it holds across threads, processes and restarts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from mailer.audit.log import record
from mailer.db import Database, utcnow
from mailer.staff.accounts import find_staff, password_matches
from mailer.staff.models import LoginFailure, StaffUser

FREE_FAILURES = 3
MAX_WAIT = 15 * 60  # seconds
FORGET_AFTER = dt.timedelta(days=1)  # a day without failures starts the count afresh


@dataclass(frozen=True)
class LoginOutcome:
    """`user` when logged in; else `wait` > 0 when refused unchecked, 0 for a wrong address or password.

    A result rather than an exception: the failure count must be committed.
    """

    user: StaffUser | None = None
    wait: int = 0


def failure_key(email: str, client: str) -> str:
    return hashlib.sha256(f"{email.strip().lower()}\n{client}".encode()).hexdigest()


def wait_after(failures: int) -> int:
    """Seconds the next attempt must wait after this many failures in a row."""
    if failures < FREE_FAILURES:
        return 0
    return min(MAX_WAIT, 2 ** (failures - FREE_FAILURES + 1))


def _failure(session: Session, key: str, now: dt.datetime) -> LoginFailure | None:
    row = session.scalar(select(LoginFailure).where(LoginFailure.key == key))
    if row is not None and now - row.last_failed_at > FORGET_AFTER:
        session.delete(row)
        session.flush()
        return None
    return row


def log_in(db: Database, email: str, password: str, client: str, now: dt.datetime | None = None) -> LoginOutcome:
    """Check the password unless the client is still waiting out earlier failures.

    Which of address or password was wrong is deliberately never said. Three steps, so
    that the slow password hash (scrypt, about 50 ms of CPU) never runs inside a write
    transaction: on SQLite that would hold every recipient's answer back meanwhile.
    """
    now = now or utcnow()
    key = failure_key(email, client)
    with db.reading() as session:
        failure = session.scalar(select(LoginFailure).where(LoginFailure.key == key))
        user = find_staff(session, email)
    if failure is not None and now - failure.last_failed_at <= FORGET_AFTER:
        ready_at = failure.last_failed_at + dt.timedelta(seconds=wait_after(failure.failures))
        if now < ready_at:
            return LoginOutcome(wait=max(1, int((ready_at - now).total_seconds() + 0.999)))
    matches = password_matches(user, password)
    with db.transaction() as session:
        if not matches:
            row = _failure(session, key, now)
            if row is None:
                session.add(LoginFailure(key=key, failures=1, last_failed_at=now))
            else:
                session.execute(
                    update(LoginFailure)
                    .where(LoginFailure.id == row.id)
                    .values(failures=LoginFailure.failures + 1, last_failed_at=now)
                )
            _audit_failure(session, user, "deactivated" if user is not None and not user.active else "password")
            return LoginOutcome()
        session.execute(delete(LoginFailure).where(LoginFailure.key == key))
        found = session.get(StaffUser, user.id) if user is not None else None
        if user is None or found is None or found.password_hash != user.password_hash:  # removed or changed meanwhile
            return LoginOutcome()
        found.last_login_at = now
        record(session, found.email, "staff.login", f"staff:{found.id}")
    return LoginOutcome(user=found)


def _audit_failure(session: Session, user: StaffUser | None, why: str) -> None:
    """A failed log-in in the audit log: the account when the address is one, never the typed text."""
    if user is None:
        record(session, "(unknown address)", "staff.login_failed", None, reason="unknown_address")
    else:
        record(session, user.email, "staff.login_failed", f"staff:{user.id}", reason=why)
