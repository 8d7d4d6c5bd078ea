"""Recording what happened to each message: one small transaction per message.

The transaction that records message n's outcome also marks message n+1 `sending`, right
before its SMTP transaction: so a sender never has more than one row in `sending` (the
one-message window of the delivery guarantee) and the database sees one commit per message,
not two. The statements are plain Core statements (SQLAlchemy caches their compiled form).

The Message-ID is stored in the transaction that marks the row `sending`, before the SMTP
transaction: the id on the wire is always the stored one, and a retry of the row (or the
resend of an uncertain one) reuses it, so a receiving server can recognise a duplicate.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, Connection, Executable, Integer, bindparam, exists, func, or_, select, update
from sqlalchemy.orm import Session

from mailer.contacts.events import contact_suppressed
from mailer.contacts.models import Suppression, SuppressionReason, address_hash
from mailer.db import Database, UTCDateTime, utcnow
from mailer.outbox.batch import SENDABLE, Item
from mailer.outbox.models import MessageState, OutboxMessage


@dataclass
class Outcome:
    item: Item
    state: MessageState
    error: str | None = None
    retry_at: dt.datetime | None = None
    sent: bool = False  # went through an SMTP transaction (the row is `sending`)
    attempts: int | None = None  # set to give an attempt back (nothing reached the server)
    uncertain: bool | None = None  # True: the server may have taken it (a timeout after the message went)


_MESSAGES = OutboxMessage.__table__
# Not state IN (…): an IN list is re-expanded at every execution, and these run once a message.
_SENDABLE = or_(*(_MESSAGES.c.state == state for state in SENDABLE))
_OURS = (_MESSAGES.c.id == bindparam("m_id"), _MESSAGES.c.claimed_by == bindparam("m_owner"), _SENDABLE)
MARK = (
    update(_MESSAGES)
    .where(*_OURS)
    .values(
        state=MessageState.SENDING,
        attempts=bindparam("m_attempts"),
        to_email=bindparam("m_to"),
        message_id=bindparam("m_message_id"),
        claimed_at=bindparam("m_now", type_=UTCDateTime()),
    )
)
MARK_UNLESS_SUPPRESSED = MARK.where(~exists().where(Suppression.__table__.c.address_hash == bindparam("m_hash")))
SKIP = (
    update(_MESSAGES)
    .where(*_OURS)
    .values(
        state=MessageState.SKIPPED,
        claimed_by=None,
        claimed_at=None,
        last_error="address suppressed or erased before sending",
    )
)
RECORD = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("r_id"))
    .values(
        state=bindparam("r_state", type_=_MESSAGES.c.state.type),
        last_error=bindparam("r_error"),
        claimed_by=None,
        claimed_at=None,
        sent_at=func.coalesce(bindparam("r_sent_at", type_=UTCDateTime()), _MESSAGES.c.sent_at),
        next_attempt_at=func.coalesce(bindparam("r_retry", type_=UTCDateTime()), _MESSAGES.c.next_attempt_at),
        attempts=func.coalesce(bindparam("r_attempts", type_=Integer()), _MESSAGES.c.attempts),
        uncertain=func.coalesce(bindparam("r_uncertain", type_=Boolean()), _MESSAGES.c.uncertain),
    )
)
RECORD_IF_OURS = RECORD.where(_MESSAGES.c.claimed_by == bindparam("r_owner"), _SENDABLE)
RENEW = (
    update(_MESSAGES)
    .where(_MESSAGES.c.claimed_by == bindparam("owner"), _SENDABLE)
    .values(claimed_at=bindparam("now", type_=UTCDateTime()))
)


class Ledger:
    """One sender's bookkeeping: outcomes, the next `sending` mark, and its claims' lease."""

    def __init__(self, database: Database, owner: str, lease: dt.timedelta):
        self.db, self.owner, self.lease = database, owner, lease
        self.connection: Connection | None = None  # set by the sender for the length of a batch
        self._renewed = time.monotonic()

    @staticmethod
    def _run(connection: Connection, statement: Executable, params: dict[str, Any]) -> int:
        """Run one of the statements above; returns how many rows it changed."""
        return connection.execute(statement, params).rowcount

    def commit(self, done: list[Outcome], mark: Item | None) -> MessageState | None:
        """Record finished rows and mark the next one `sending`, in one transaction.

        Returns SENDING when `mark` may be sent now, SKIPPED when its address was suppressed
        meanwhile, None when it is no longer ours (cancelled, or taken over by another worker).
        """
        if self.connection is None:
            with self.db.engine.connect() as connection:
                return self._commit_on(connection, done, mark)
        return self._commit_on(self.connection, done, mark)

    def _commit_on(self, connection: Connection, done: list[Outcome], mark: Item | None) -> MessageState | None:
        now = utcnow()
        with connection.begin():
            for outcome in done:
                self._record(connection, outcome, now)
            if time.monotonic() - self._renewed > self.lease.total_seconds() / 4:
                self._run(connection, RENEW, {"owner": self.owner, "now": now})
                self._renewed = time.monotonic()
            if mark is None:
                return None
            ours = {"m_id": mark.id, "m_owner": self.owner}
            sending = {
                **ours,
                "m_attempts": mark.attempts + 1,
                "m_to": mark.to_email,
                "m_message_id": mark.message_id,
                "m_now": now,
            }
            if mark.address_hash is None:
                return MessageState.SENDING if self._run(connection, MARK, sending) else None
            if self._run(connection, MARK_UNLESS_SUPPRESSED, {**sending, "m_hash": mark.address_hash}):
                return MessageState.SENDING
            return MessageState.SKIPPED if self._run(connection, SKIP, ours) else None

    def _record(self, connection: Connection, outcome: Outcome, now: dt.datetime) -> None:
        values = {
            "r_id": outcome.item.id,
            "r_state": outcome.state,
            "r_error": outcome.error,
            "r_sent_at": now if outcome.state is MessageState.SENT else None,
            "r_retry": outcome.retry_at,
            "r_attempts": outcome.attempts,
            "r_uncertain": outcome.uncertain,
        }
        if outcome.sent:
            self._run(connection, RECORD, values)
        else:  # skipped or failed before sending: only while the row is still ours
            self._run(connection, RECORD_IF_OURS, {**values, "r_owner": self.owner})
        if outcome.state is MessageState.BOUNCED and outcome.item.to_email is not None:  # bounced: it had one
            with Session(bind=connection) as session:
                _suppress_bounced(session, outcome.item.to_email, outcome.error)
                session.flush()


def _suppress_bounced(session: Session, email: str, reply: str | None) -> None:
    """The relay refused the mailbox during sending: suppressed, and a contact.bounced webhook event."""
    if session.scalar(select(Suppression.id).where(Suppression.address_hash == address_hash(email))) is None:
        session.add(
            Suppression(address_hash=address_hash(email), email=email, reason=SuppressionReason.BOUNCED, detail=reply)
        )
        contact_suppressed(session, email, SuppressionReason.BOUNCED, reply, source="smtp")
