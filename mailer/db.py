"""Database engine, sessions, schema upgrades, and the personal-data declaration.

The domain takes a `Session` as an argument and never imports Flask: the same
functions serve the CLI, the web app and the worker.

Personal data is declared once, on each column, and nowhere else:

    name: Mapped[str | None] = mapped_column(String(200), info=personal())
    slug: Mapped[str] = mapped_column(String(80), info=not_personal())

`personal()` marks data about a contact (a member organisation's person);
`personal(of="staff")` data about a staff user. `mailer.privacy` walks these
declarations (and the foreign keys that lead to `contacts`) to export, erase and
expire a person's data, so a new column is covered the day it is added. Every
column must say which (`info={"personal": True}` / `{"personal": False}` work too);
tests/test_personal_data.py fails on a column that does not.
"""

from __future__ import annotations

import datetime as dt
import enum
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import CursorResult, DateTime, Engine, Enum, Result, Table, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:  # Alembic is imported only when migrating
    from alembic.config import Config

SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY = "mailer_read_only"  # execution option of the engine behind Database.reading()


class Base(DeclarativeBase):
    if TYPE_CHECKING:
        # Every model maps one Table (none maps a join or a select), so Model.__table__ is one:
        # Core insert()/update() on it type-check. SQLAlchemy declares the wider FromClause.
        __table__: ClassVar[Table]


def rowcount(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed. Session.execute() is typed to return a Result;
    for these statements it is a CursorResult, which carries the count."""
    assert isinstance(result, CursorResult), "rowcount is for UPDATE and DELETE results"
    return result.rowcount


def personal(of: str = "contact") -> dict[str, Any]:
    """`info=` for a column holding personal data about a contact (or, with of="staff", a staff user)."""
    return {"personal": True, "of": of}


def not_personal() -> dict[str, Any]:
    """`info=` for a column that holds nothing about a person (ids, figures, settings, times of system events)."""
    return {"personal": False}


def reference() -> dict[str, Any]:
    """`info=` for a foreign key to a definition the row uses (an answer's question), not to the
    row's owner: not personal, and the privacy catalogue does not follow it when it looks for
    whose data (a contact's) or which meeting's a row is. Why: an answer to a series' question
    leads to no meeting through its question, only through its response."""
    return {"personal": False, "reference": True}


def deleted_after_retention(column: str) -> dict[str, Any]:
    """Table `info=` for rows about a person that cannot be anonymised (their link to the contact is
    the point of the row): the retention job deletes each once `column` (a time) is older than
    `retention_months` (mailer.privacy.retention)."""
    return {"retention": "delete", "retention_from": column}


class UTCDateTime(TypeDecorator):
    """A time-zone-aware timestamp stored as UTC on every backend.

    SQLite has no time zone type; without this, values come back naive and
    comparisons with aware datetimes raise.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a time-zone-aware one is required")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def str_enum(enum_cls: type[enum.Enum]) -> Enum:
    """Store enum values as plain strings (portable, readable in SQL)."""
    return Enum(
        enum_cls, native_enum=False, length=20, values_callable=lambda enum_type: [member.value for member in enum_type]
    )


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _configure_sqlite(engine: Engine, write_lock: threading.RLock) -> None:
    """WAL and a busy timeout, because the web app and the worker share the file.

    Every write transaction starts with BEGIN IMMEDIATE: a deferred transaction that
    reads and then writes can fail at once with "database is locked" when the
    other process wrote in between (busy_timeout does not help there). Sessions from
    `Database.reading()` start with a plain BEGIN: they never write, and in WAL mode a
    reader neither waits for the writer nor holds it up.

    The process's write lock (see Database) is taken here, when the transaction really
    begins at its first statement, not when a `transaction()` block is entered; so work
    done before the first statement (parsing a file, hashing a password) holds nothing.
    It is released when the connection goes back to the pool, after COMMIT has finished.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        # Erased data is overwritten with zeros in the file, not left in free space (GDPR).
        cursor.execute("PRAGMA secure_delete = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # Straight to the driver: through exec_driver_sql this one statement cost as much as
        # the rest of a small transaction (events, logging, a result object).
        # The driver's own errors are raised as SQLAlchemy's, as every other statement's are,
        # so that what handles a vanished or full database elsewhere handles this one too.
        driver = connection.connection.driver_connection
        if connection.get_execution_options().get(READ_ONLY, False):
            try:
                driver.execute("BEGIN")
            except sqlite3.Error as exc:
                raise OperationalError("BEGIN", None, exc) from exc
            return
        write_lock.acquire()
        try:
            driver.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            write_lock.release()
            raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc
        except BaseException:
            write_lock.release()
            raise
        connection.info[_HOLDS_WRITE_LOCK] = connection.info.get(_HOLDS_WRITE_LOCK, 0) + 1

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection, record):
        held = record.info.pop(_HOLDS_WRITE_LOCK, 0) if record is not None else 0
        for _ in range(held):
            try:
                write_lock.release()
            except RuntimeError:  # checked in by another thread (garbage collection): not ours to free
                break


_HOLDS_WRITE_LOCK = "mailer_holds_write_lock"


class Database:
    def __init__(self, url: str):
        self.url = url
        is_sqlite = url.startswith("sqlite")
        if is_sqlite:
            path = url.split("///", 1)[-1]
            options = {}
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                # A new file is readable by its owner only, as backups are: it holds every contact.
                # SQLite gives its -wal and -shm files the same mode. An empty file is an empty database.
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
                # Open the file that is there, never create one: a database deleted or moved while
                # the app runs must fail loudly, not be replaced by an empty one collecting answers.
                uri = Path(path).resolve().as_uri() + "?mode=rw"
                options["creator"] = lambda: sqlite3.connect(
                    uri, uri=True, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, check_same_thread=False
                )
            self.engine = create_engine(
                url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}, **options
            )
            # SQLite has one writer, and every write transaction takes the write lock (BEGIN
            # IMMEDIATE). Threads of one process (gunicorn's gthread workers) queue here and are
            # woken the moment it is free; left to SQLite's busy handler they would sleep and
            # poll, which under load costs more than the transactions themselves. Other
            # processes (the worker) still meet at SQLite's lock with its busy timeout.
            # Reentrant, so that a thread holding it can still open another session.
            _configure_sqlite(self.engine, threading.RLock())
        else:
            self.engine = create_engine(url, pool_pre_ping=True)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessionmaker = sessionmaker(
            self.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False
        )

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on error.

        On SQLite it holds the database's one write lock from its first statement to its
        end: do slow work (parsing, rendering, hashing) before the block or after it, and
        read-only work in `reading()`.
        """
        with self.sessionmaker() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reading only, rolled back at the end, that never waits for or holds the write lock.

        Why: SQLite has one writer, and `transaction()` takes the write lock at its first
        statement (BEGIN IMMEDIATE). Slow work that only reads (checking an upload,
        rendering a preview, building an export or a report) runs here instead, so
        recipients' answers are never queued behind it; in WAL mode a reader sees the last
        committed state and blocks nobody. Writes made here are rolled back.
        """
        with self.read_sessionmaker() as session:  # closing rolls back; loaded objects stay readable
            yield session

    def checkpoint(self) -> None:
        """SQLite: copy the write-ahead log into the database file and empty it.

        Why: after an erasure the old versions of the changed pages would otherwise stay
        in the -wal file until the next automatic checkpoint. Outside any transaction, as
        SQLite requires; a no-op on PostgreSQL.
        """
        if not self.is_sqlite:
            return
        with self.engine.connect() as connection:
            # The driver's own connection: SQLAlchemy's would begin a transaction first.
            driver = connection.connection.driver_connection
            assert driver is not None, "a connection from the pool has its DBAPI connection"
            assert driver is not None, "a checked-out connection has its driver connection"
            driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def upgrade(self) -> None:
        """Bring the schema to the newest Alembic revision (harmless when already there)."""
        self.migrate("head")

    def downgrade(self, revision: str) -> None:
        """Take the schema back to `revision` (tests of data migrations; `base` empties it)."""
        self.migrate(revision, down=True)

    def migrate(self, revision: str, down: bool = False) -> None:
        """Move the schema to `revision`, upwards or (`down`) backwards.

        On SQLite, Alembic's batch mode rebuilds a table (copy, drop, rename) to change a
        column; dropping a table that other rows point at fails while foreign keys are
        enforced. They are switched off for the migration's connection (SQLite only allows
        that outside a transaction), checked with `foreign_key_check` before the commit, and
        switched on again.
        """
        from alembic import command

        with self.engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            driver = connection.connection.driver_connection
            assert driver is not None, "a connection from the pool has its DBAPI connection"
            if sqlite:
                driver.execute("PRAGMA foreign_keys = OFF")
            try:
                with connection.begin():
                    config = alembic_config()
                    config.attributes["connection"] = connection
                    (command.downgrade if down else command.upgrade)(config, revision)
                    if sqlite:
                        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                        if broken:
                            raise RuntimeError(f"the migration left rows pointing at nothing: {broken[:5]}")
            finally:
                if sqlite:
                    driver.execute("PRAGMA foreign_keys = ON")

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "mailer/migrations/versions has one head revision"
    return head


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """For Alembic: APScheduler's job table is created by migration 0002 but not described by our models."""
    table = obj.table.name if type_ == "index" else name
    return table != "apscheduler_jobs"
