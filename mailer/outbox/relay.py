"""The relay's state as every sender sees it: paused (until when, and why), or fine.

Why in the database: when the relay refuses everything (a quota, a policy on our sender, 421)
or stops answering, every worker must stop, not only the one that heard it, and staff must see
why on the dashboard and the campaign page. One row, like the shared rate (ratelimit.py).

The waits: a relay that does not answer is tried again after one minute, then two, four, ...
at most thirty (`strikes` counts the timeouts in a row); a refusal waits as long as its kind
usually lasts (RELAY_WAITS); a sending limit (config) until the window has room again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Integer, String, Text, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from mailer.db import Base, UTCDateTime, not_personal, personal, utcnow

NAME = "smtp"
FIRST_TIMEOUT_WAIT = dt.timedelta(minutes=1)
MAX_TIMEOUT_WAIT = dt.timedelta(minutes=30)
RELAY_WAITS = {  # by the verdict's reason (mailer.mail.replies)
    "closing": dt.timedelta(minutes=5),  # 421: the relay is busy or restarting
    "system": dt.timedelta(minutes=15),
    "quota": dt.timedelta(hours=1),  # a daily quota frees a little every hour (rolling windows)
    "policy": dt.timedelta(minutes=30),
    "sender": dt.timedelta(minutes=30),
    "breaker": dt.timedelta(minutes=30),
}
DEFAULT_WAIT = dt.timedelta(minutes=30)
TIMEOUT, LIMIT = "timeout", "limit"


class RelayStatus(Base):
    __tablename__ = "relay_status"

    name: Mapped[str] = mapped_column(String(50), primary_key=True, info=not_personal())
    reason: Mapped[str | None] = mapped_column(String(20), info=not_personal())  # timeout, limit, quota, policy, ...
    reply: Mapped[str | None] = mapped_column(Text, info=personal())  # a relay's reply may quote an address
    since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, info=not_personal())
    paused_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, info=not_personal())
    strikes: Mapped[int] = mapped_column(Integer, default=0, info=not_personal())  # timeout pauses in a row


@dataclass(frozen=True)
class Pause:
    reason: str
    reply: str | None
    since: dt.datetime
    until: dt.datetime
    strikes: int = 0  # timeout pauses in a row


def wait_for(reason: str) -> dt.timedelta:
    return RELAY_WAITS.get(reason, DEFAULT_WAIT)


def current_pause(session: Session, now: dt.datetime | None = None) -> Pause | None:
    """The relay's pause while it lasts; None when senders may send."""
    now = now or utcnow()
    row = session.get(RelayStatus, NAME)
    if row is None or row.paused_until is None or row.paused_until <= now:
        return None
    return Pause(row.reason or "", row.reply, row.since or now, row.paused_until)


def pause(
    session: Session, reason: str, reply: str | None, until: dt.datetime | None = None, now: dt.datetime | None = None
) -> Pause:
    """Stop every sender until `until` (by default: the wait for this reason; for timeouts, doubling).

    A pause already running longer is kept: one worker's short wait must not cut another's long one.
    """
    now = now or utcnow()
    row = _row(session)
    if reason == TIMEOUT:
        row.strikes = (row.strikes or 0) + 1
        wait = min(MAX_TIMEOUT_WAIT, FIRST_TIMEOUT_WAIT * 2 ** (row.strikes - 1))
    else:
        wait = wait_for(reason)
    until = until or now + wait
    if row.paused_until is not None and row.paused_until > until:
        return Pause(row.reason or "", row.reply, row.since or now, row.paused_until, row.strikes)
    if row.paused_until is None or row.paused_until <= now or row.reason != reason:
        row.since = now
    row.reason, row.reply, row.paused_until = reason, reply, until
    session.flush()
    return Pause(reason, reply, row.since or now, until, row.strikes)


def clear(session: Session) -> bool:
    """A message went through (or staff said try now): the relay is fine again."""
    row = session.get(RelayStatus, NAME)
    if row is None or (row.reason is None and not row.strikes):
        return False
    row.reason = row.reply = row.since = row.paused_until = None
    row.strikes = 0
    return True


def troubled(session: Session) -> bool:
    """A pause was recorded and not cleared yet (it may have run out): the next success clears it."""
    row = session.get(RelayStatus, NAME)
    return row is not None and (row.reason is not None or bool(row.strikes))


def _row(session: Session) -> RelayStatus:
    dialect = session.get_bind().dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert
    session.execute(insert(RelayStatus).values(name=NAME, strikes=0).on_conflict_do_nothing())
    query = select(RelayStatus).where(RelayStatus.name == NAME)
    if dialect == "postgresql":
        query = query.with_for_update()
    return session.scalars(query).one()
