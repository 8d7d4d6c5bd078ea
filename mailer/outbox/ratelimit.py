"""The SMTP sending rate, shared by every process that sends through one database.

Why a row in the database: workers on several hosts must together stay under the relay's
limit (`send_rate_per_minute`), and the database is the one thing they all share. The row
holds the next free send slot. A sender reserves a run of consecutive slots in one short
transaction (the row is locked meanwhile: FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on
SQLite) and sends at those times, so the slots of all workers interleave at exactly the
configured interval. At most about a second's worth of slots is reserved at a time, so the
database sees one small write per second per worker, not one per message; slots a worker
reserved and did not use (it died, or its batch ran out) are simply lost, which can only make
the rate lower, never higher.

Times come from the database server's clock on PostgreSQL, so hosts whose clocks disagree
still share one timeline; each sender converts its slots to its own clock once per reservation.

Relay limits per hour and per day (`send_limit_per_hour`, `send_limit_per_day`) are counted over
rolling windows, as Microsoft 365 and Google count them: each reservation is logged (a row with
its first slot and its size) in the same locked transaction, and a reservation gets only the
slots left in both windows. When none is left, `LimitReached` says when the oldest slots leave
the window; the sender then stops and the relay waits until that time (relay.py).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from sqlalchemy import Float, Index, Integer, String, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from mailer.db import Base, Database, not_personal

RESERVE_SECONDS = 1.0  # how far ahead one reservation reaches
HOUR, DAY = 3600.0, 86400.0


class LimitReached(Exception):
    """No slot is left in the hour's or the day's window; `until` (epoch seconds, this host's clock)
    is when there is room again."""

    def __init__(self, until: float, window: str):
        super().__init__(f"the {window} sending limit is reached until {until}")
        self.until, self.window = until, window


class SendRate(Base):
    """One row per shared limit ("smtp"): the next free slot, in seconds since the epoch."""

    __tablename__ = "send_rate"

    name: Mapped[str] = mapped_column(String(50), primary_key=True, info=not_personal())
    next_at: Mapped[float] = mapped_column(Float, info=not_personal())


class SendReservation(Base):
    """Slots reserved at once (the log the hour's and day's limits are counted over; kept a day)."""

    __tablename__ = "send_reservations"
    __table_args__ = (Index("ix_send_reservations_name_at", "name", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True, info=not_personal())
    name: Mapped[str] = mapped_column(String(50), info=not_personal())
    at: Mapped[float] = mapped_column(Float, info=not_personal())  # the first slot, seconds since the epoch
    count: Mapped[int] = mapped_column(Integer, info=not_personal())


class SharedRateLimiter:
    """At most `per_minute` messages a minute across every process using the database, evenly spaced."""

    def __init__(
        self,
        database: Database,
        per_minute: int,
        name: str = "smtp",
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        per_hour: int | None = None,
        per_day: int | None = None,
    ):
        self.db, self.name = database, name
        self.interval = 60.0 / per_minute
        self.windows = [
            (size, limit, label) for size, limit, label in ((HOUR, per_hour, "hour"), (DAY, per_day, "day")) if limit
        ]
        self.clock, self.sleep = clock, sleep
        self.slots: deque[float] = deque()
        self.reservations = 0

    def delay(self, upcoming: int = 1) -> float:
        """Seconds until this process's next slot (reserving slots when it has none left).

        Raises LimitReached when a relay limit leaves no slot now."""
        if not self.slots:
            self._reserve(max(1, min(upcoming, int(RESERVE_SECONDS / self.interval))))
        return self.slots[0] - self.clock()

    def wait(self, upcoming: int = 1) -> None:
        """Sleep until this process's next slot and use it; `upcoming` messages are expected in a row."""
        delay = self.delay(upcoming)
        self.slots.popleft()
        if delay > 0:
            self.sleep(delay)

    def _reserve(self, count: int) -> None:
        before = self.clock()
        with self.db.transaction() as session:
            now = self._db_now(session)
            insert = (postgresql if session.get_bind().dialect.name == "postgresql" else sqlite).insert
            session.execute(insert(SendRate).values(name=self.name, next_at=now).on_conflict_do_nothing())
            query = select(SendRate.next_at).where(SendRate.name == self.name)
            if not self.db.is_sqlite:
                query = query.with_for_update()
            start = max(session.execute(query).scalar_one(), now)  # the row exists: inserted above
            if self.windows:
                count, full_until, window = self._room(session, start, count)
            if count:
                session.execute(
                    update(SendRate).where(SendRate.name == self.name).values(next_at=start + count * self.interval)
                )
        # This host's clock minus the database's (nothing on SQLite: one clock); the server read
        # its clock somewhere within the transaction, so take the middle of it.
        offset = 0.0 if self.db.is_sqlite else (before + self.clock()) / 2 - now
        if not count:
            raise LimitReached(full_until + offset, window)
        self.slots.extend(start + offset + index * self.interval for index in range(count))
        self.reservations += 1

    def _room(self, session: Session, start: float, wanted: int) -> tuple[int, float, str]:
        """How many of `wanted` slots from `start` both windows allow (logged as reserved); when none,
        also when the fullest window has room again, and which it is."""
        session.execute(
            delete(SendReservation).where(SendReservation.name == self.name, SendReservation.at < start - DAY)
        )
        log = session.execute(
            select(SendReservation.at, SendReservation.count)
            .where(
                SendReservation.name == self.name, SendReservation.at > start - max(size for size, _, _ in self.windows)
            )
            .order_by(SendReservation.at)
        ).all()
        room, full_until, full_window = wanted, start, ""
        for size, limit, label in self.windows:
            inside = [(at, count) for at, count in log if at > start - size]
            used = sum(count for _, count in inside)
            room = min(room, max(0, limit - used))
            if used >= limit:  # room again when enough of the oldest have left the window
                for at, count in inside:  # noqa: B007 -- `at` after the loop is the oldest that must leave
                    used -= count
                    if used < limit:
                        break
                if at + size > full_until:
                    full_until, full_window = at + size, label
        if room:
            session.add(SendReservation(name=self.name, at=start, count=room))
        return room, full_until, full_window

    def _db_now(self, session: Session) -> float:
        if self.db.is_sqlite:  # one host: its own clock is the database's
            return self.clock()
        return float(session.execute(select(func.extract("epoch", func.clock_timestamp()))).scalar_one())
