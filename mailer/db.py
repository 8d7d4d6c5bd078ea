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
import threading
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Iterator

from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY = "mailer_read_only"  # execution option of the engine behind Database.reading()


class Base(DeclarativeBase):
    pass


def personal(of: str = "contact") -> dict:
    """`info=` for a column holding personal data about a contact (or, with of="staff", a staff user)."""
    return {"personal": True, "of": of}


def not_personal() -> dict:
    """`info=` for a column that holds nothing about a person (ids, figures, settings, times of system events)."""
    return {"personal": False}


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
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _configure_sqlite(engine: Engine) -> None:
    """WAL and a busy timeout, because the web app and the worker share the file.

    Every transaction starts with BEGIN IMMEDIATE: a deferred transaction that
    reads and then writes can fail at once with "database is locked" when the
    other process wrote in between (busy_timeout does not help there).
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
        reading = connection.get_execution_options().get(READ_ONLY, False)
        connection.connection.driver_connection.execute("BEGIN" if reading else "BEGIN IMMEDIATE")


class Database:
    def __init__(self, url: str):
        self.url = url
        is_sqlite = url.startswith("sqlite")
        if is_sqlite:
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(
                url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
            )
            _configure_sqlite(self.engine)
        else:
            self.engine = create_engine(url, pool_pre_ping=True)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessionmaker = sessionmaker(self.engine.execution_options(**{READ_ONLY: True}),
                                              expire_on_commit=False)
        # SQLite has one writer, and every transaction takes the write lock (BEGIN IMMEDIATE).
        # Threads of one process (gunicorn's gthread workers) queue here and are woken the
        # moment it is free; left to SQLite's busy handler they would sleep and poll, which
        # under load costs more than the transactions themselves. Other processes (the
        # worker) still meet at SQLite's lock with its busy timeout. Reentrant, so that a
        # thread holding it can still open a session for reading.
        self._write_lock = threading.RLock() if is_sqlite else None

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on error."""
        with self._write_lock or nullcontext(), self.sessionmaker() as session, session.begin():
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
        with self.read_sessionmaker() as session:
            try:
                yield session
            finally:
                session.rollback()

    def checkpoint(self) -> None:
        """SQLite: copy the write-ahead log into the database file and empty it.

        Why: after an erasure the old versions of the changed pages would otherwise stay
        in the -wal file until the next automatic checkpoint. Outside any transaction, as
        SQLite requires; a no-op on PostgreSQL.
        """
        if not self.is_sqlite:
            return
        with self.engine.connect() as connection:
            connection.connection.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def upgrade(self) -> None:
        """Bring the schema to the newest Alembic revision (harmless when already there)."""
        from alembic import command

        with self.engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config():
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """For Alembic: APScheduler's job table is created by migration 0002 but not described by our models."""
    table = obj.table.name if type_ == "index" else name
    return table != "apscheduler_jobs"


_PER_ROW = object()


def _identity(value):
    return value


class Prepared:
    """A Core statement compiled once for one dialect and run through exec_driver_sql.

    Why: for a one-row statement SQLAlchemy's per-execution work (cache lookup, parameter
    and result set-up, events) costs several times what the database itself spends, and the
    outbox ledger runs two such statements for every message sent; for a bulk insert its
    insertmanyvalues machinery costs more per row than the driver's executemany. Parameters
    still go through each column type's own bind processor, so values are stored exactly as
    execute() would store them. Python-side column defaults are not applied: statements
    name every column they write.
    """

    def __init__(self, statement, dialect):
        self.compiled = statement.compile(dialect=dialect)
        self.sql = self.compiled.string
        self.order = self.compiled.positiontup  # None for named parameters (psycopg)
        self.processors = {}
        for name, bind in self.compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.processors[name] = processor

    def run(self, connection, params: dict) -> int:
        """Execute on `connection` (in its current transaction); returns the row count."""
        return connection.exec_driver_sql(self.sql, self._args(params)).rowcount

    def run_many(self, connection, rows: list[dict], **same) -> None:
        """One statement for many parameter sets: the driver's executemany loops in C.

        `same` holds values every row shares (a timestamp), converted once instead of once a
        row; each row names every other parameter of the statement.
        """
        if not rows:
            return
        names = self.order if self.order is not None else tuple(self.compiled.binds)
        fixed = {name: self.processors.get(name, _identity)(value) for name, value in same.items()}
        # Per parameter: its converted shared value, or _PER_ROW and the conversion to apply.
        plan = [(name, fixed.get(name, _PER_ROW), self.processors.get(name, _identity)) for name in names]

        def args(row: dict):
            values = [convert(row[name]) if value is _PER_ROW else value for name, value, convert in plan]
            return tuple(values) if self.order is not None else dict(zip(names, values))

        connection.exec_driver_sql(self.sql, [args(row) for row in rows])

    def _args(self, params: dict):
        values = self.compiled.construct_params(params)
        for name, processor in self.processors.items():
            if name in values:
                values[name] = processor(values[name])
        return tuple(values[name] for name in self.order) if self.order is not None else values
