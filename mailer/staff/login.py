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

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mailer.audit.log import record
from mailer.db import utcnow
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


def log_in(session: Session, email: str, password: str, client: str, now: dt.datetime | None = None) -> LoginOutcome:
    """Check the password unless the client is still waiting out earlier failures.

    Which of address or password was wrong is deliberately never said.
    """
    now = now or utcnow()
    key = failure_key(email, client)
    failure = _failure(session, key, now)
    if failure is not None:
        ready_at = failure.last_failed_at + dt.timedelta(seconds=wait_after(failure.failures))
        if now < ready_at:
            _audit_failure(session, find_staff(session, email), "waiting")
            return LoginOutcome(wait=max(1, int((ready_at - now).total_seconds() + 0.999)))
    user = find_staff(session, email)
    if not password_matches(user, password):
        if failure is None:
            failure = LoginFailure(key=key, failures=0)
            session.add(failure)
        failure.failures += 1
        failure.last_failed_at = now
        session.flush()
        _audit_failure(session, user, "deactivated" if user is not None and not user.active else "password")
        return LoginOutcome()
    session.execute(delete(LoginFailure).where(LoginFailure.key == key))
    user.last_login_at = now
    record(session, user.email, "staff.login", f"staff:{user.id}")
    return LoginOutcome(user=user)


def _audit_failure(session: Session, user: StaffUser | None, why: str) -> None:
    """A failed log-in in the audit log: the account when the address is one, never the typed text."""
    if user is None:
        record(session, "(unknown address)", "staff.login_failed", None, reason="unknown_address")
    else:
        record(session, user.email, "staff.login_failed", f"staff:{user.id}", reason=why)
