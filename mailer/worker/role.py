"""Which worker runs the scheduler: exactly one at a time.

APScheduler 3's SQLAlchemy job store has no locking of its own: two schedulers on one store
would each run every due job (a campaign started twice, two digests). Sending needs no such
care (workers share it by claiming rows with SKIP LOCKED), so only this role is exclusive.

PostgreSQL: the scheduler is the worker holding a session-level advisory lock, on a connection
of its own that stays open as long as the worker lives. When that worker dies its connection
closes and PostgreSQL frees the lock at once; a standby worker tries to take it every few
seconds. If the worker's host or network dies instead, TCP keepalives on that connection
(set on both ends) make the server drop it, and free the lock, within about half a minute.
The holder checks its connection every couple of seconds and stops its scheduler the moment
it is gone, and every job checks it before it runs.

SQLite: one worker per database, full stop (the file has one writer at a time anyway): the
worker takes an exclusive lock on a file beside the database, and a second one refuses to
start with a clear message. The kernel drops the lock when the process dies, however it dies.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import TextIO

from sqlalchemy import Connection, create_engine, make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from mailer.db import Database

log = logging.getLogger(__name__)

# pg_advisory_lock takes a 64-bit key; this one spells "mailer.s" (scheduler) in ASCII.
SCHEDULER_LOCK_KEY = int.from_bytes(b"mailer.s", "big") & 0x7FFF_FFFF_FFFF_FFFF
KEEPALIVE = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}
SERVER_KEEPALIVE = "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3"


class WorkerRefused(Exception):
    """This worker must not start (another one owns this SQLite database)."""


class PostgresRole:
    """The scheduler role as a PostgreSQL advisory lock on a dedicated connection."""

    exclusive_worker = False

    def __init__(self, database: Database, owner: str):
        url = make_url(database.url)
        self.engine = create_engine(
            url, poolclass=NullPool, connect_args={**KEEPALIVE, "application_name": f"mailer worker {owner}"[:63]}
        )
        self.connection: Connection | None = None
        self.holding = False

    def try_acquire(self) -> bool:
        """Take the role if nobody holds it (never blocks)."""
        if self.holding:
            return True
        try:
            if self.connection is None:
                self.connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
                self.connection.exec_driver_sql(SERVER_KEEPALIVE)
            self.holding = bool(
                self.connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": SCHEDULER_LOCK_KEY}).scalar()
            )
        except DBAPIError as exc:
            log.warning("cannot reach the database to check the scheduler role: %s", exc.orig)
            self._drop()
        return self.holding

    def held(self) -> bool:
        """Still the scheduler? The lock lives exactly as long as its connection."""
        if not self.holding or self.connection is None:
            return False
        try:
            self.connection.execute(text("SELECT 1"))
        except DBAPIError:
            self._drop()
        return self.holding

    def release(self) -> None:
        if self.connection is not None and self.holding:
            try:
                self.connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SCHEDULER_LOCK_KEY})
            except DBAPIError:
                pass
        self._drop()
        self.engine.dispose()

    def _drop(self) -> None:
        self.holding = False
        if self.connection is not None:
            try:
                self.connection.close()
            except DBAPIError:
                pass
            self.connection = None


class SqliteRole:
    """The one worker of a SQLite database: an exclusive lock on `<database>.worker.lock`."""

    exclusive_worker = True

    def __init__(self, database: Database, owner: str):
        path = make_url(database.url).database
        self.database_path = path
        self.path = Path(f"{path}.worker.lock") if path and path != ":memory:" else None
        self.owner = owner
        self.handle: TextIO | None = None

    def try_acquire(self) -> bool:
        if self.handle is not None or self.path is None:
            return True
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            other = handle.read().strip() or "another process"
            handle.close()
            raise WorkerRefused(
                f"another worker ({other}) is already running on the SQLite database {self.database_path}; "
                "SQLite allows one worker per database: stop that one, or move to PostgreSQL to run several"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{self.owner}, pid {os.getpid()}\n")
        handle.flush()
        self.handle = handle
        return True

    def held(self) -> bool:
        return self.handle is not None or self.path is None

    def release(self) -> None:
        if self.handle is not None:
            self.handle.close()  # closing drops the lock; the file stays (harmless, reused)
            self.handle = None


def scheduler_role(database: Database, owner: str) -> PostgresRole | SqliteRole:
    return SqliteRole(database, owner) if database.is_sqlite else PostgresRole(database, owner)
