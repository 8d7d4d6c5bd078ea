"""Moving an instance to another database: every table, in batches, then counted and checksummed.

For the day an instance grown on SQLite moves to PostgreSQL (or back). The target must be
empty; it is migrated to the source's schema revision by the same Alembic migrations as
`mailer init`, filled in one transaction (a failure leaves it empty again), and its
PostgreSQL sequences are set past the highest ids, so that new rows do not collide with
copied ones. The source is read in one snapshot: the web app and the worker may keep running,
but what they write after the copy starts is not copied (stop them for the switch-over).
Ids are copied as they are, so links in mails already sent (tokens name ids) keep working.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from alembic import command
from sqlalchemy import Integer, MetaData, Table, create_engine, func, inspect, make_url, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

import mailer.models  # noqa: F401  (every table on the metadata)
from mailer.db import Base, Database, alembic_config
from mailer.errors import DomainError

BATCH_ROWS = 1000
JOBSTORE_TABLE = "apscheduler_jobs"  # created by migration 0002, not described by our models

Progress = Callable[[str, int, int], None]  # table, rows copied so far, rows in the table


class CopyError(DomainError):
    """The copy cannot start: a code whose one-line text names the table or the reason."""

    prefix = "error.ops."


@dataclass
class TableCheck:
    table: str
    source_rows: int
    target_rows: int
    source_checksum: str
    target_checksum: str

    @property
    def ok(self) -> bool:
        return self.source_rows == self.target_rows and self.source_checksum == self.target_checksum


def _snapshot_reader(url: str) -> tuple[Engine, Connection]:
    """A connection that sees one consistent state of the source for the whole copy, without
    taking SQLite's write lock (the app's own engine begins every transaction IMMEDIATE)."""
    engine = create_engine(url, poolclass=NullPool)
    if engine.dialect.name == "sqlite":
        connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        connection.exec_driver_sql("BEGIN")  # deferred: a read snapshot from the first SELECT on
    else:
        connection = engine.connect().execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        connection.begin()
    return engine, connection


def _tables(reader: Connection, target: Connection) -> list[tuple[Table, Table]]:
    """(table to read, table to write) in foreign-key order: our models', then APScheduler's job store."""
    pairs = [(table, table) for table in Base.metadata.sorted_tables]
    if inspect(reader).has_table(JOBSTORE_TABLE) and inspect(target).has_table(JOBSTORE_TABLE):
        pairs.append(
            (
                Table(JOBSTORE_TABLE, MetaData(), autoload_with=reader),
                Table(JOBSTORE_TABLE, MetaData(), autoload_with=target),
            )
        )
    return pairs


def _key_columns(table: Table):
    return list(table.primary_key.columns) or list(table.columns)


def key_checksum(connection: Connection, table: Table) -> tuple[int, str]:
    """Rows, and a SHA-256 over the key columns of every row in key order (backend-neutral text)."""
    keys = _key_columns(table)
    digest = hashlib.sha256()
    rows = 0
    result = connection.execution_options(stream_results=True, yield_per=BATCH_ROWS).execute(
        select(*keys).order_by(*keys)
    )
    for row in result:
        digest.update(("\x1f".join("" if value is None else str(value) for value in row) + "\x1e").encode())
        rows += 1
    return rows, digest.hexdigest()


def _empty_or_refuse(target: Database, source_revision: str) -> bool:
    """True when the target still needs its schema; CopyError when it holds anything or another schema."""
    with target.engine.connect() as connection:
        present = set(inspect(connection).get_table_names())
        if not present:
            return True
        if "alembic_version" not in present:
            raise CopyError("copy_foreign", tables=", ".join(sorted(present)[:5]))
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        if revision != source_revision:
            raise CopyError("copy_other_revision", revision=revision, source=source_revision)
        for name in sorted(present - {"alembic_version"}):
            rows = connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar()
            if rows:
                raise CopyError("copy_not_empty", table=name, rows=rows)
    return False


def _migrate_to(target: Database, revision: str) -> None:
    with target.engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _set_sequences(connection: Connection, tables: list[Table]) -> None:
    """PostgreSQL: next ids after the copied ones (copied rows carry explicit ids; sequences stay at 1)."""
    for table in tables:
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or not isinstance(keys[0].type, Integer):
            continue
        column = keys[0].name
        sequence = connection.execute(
            text("SELECT pg_get_serial_sequence(:table, :column)"), {"table": table.name, "column": column}
        ).scalar()
        if sequence:
            connection.execute(
                text(f'SELECT setval(:sequence, coalesce((SELECT max("{column}") FROM "{table.name}"), 0) + 1, false)'),
                {"sequence": sequence},
            )


def copy_database(
    source: Database, target_url: str, progress: Progress | None = None, batch_rows: int = BATCH_ROWS
) -> list[TableCheck]:
    """Copy every table of `source` into the empty database at `target_url`; return the checks."""
    if make_url(target_url) == make_url(source.url):
        raise CopyError("copy_same")
    source_revision = source.current_revision()
    assert source_revision is not None, "the CLI refuses a database not at the newest schema (cli/runtime.py)"
    target = Database(target_url)
    engine, reader = _snapshot_reader(source.url)
    try:
        if _empty_or_refuse(target, source_revision):
            _migrate_to(target, source_revision)
        checks = []
        with target.transaction() as session:
            writer = session.connection()
            pairs = _tables(reader, writer)
            for read_table, write_table in pairs:
                total = reader.execute(select(func.count()).select_from(read_table)).scalar_one()
                copied = 0
                if progress:
                    progress(read_table.name, 0, total)
                result = reader.execution_options(stream_results=True, yield_per=batch_rows).execute(
                    select(read_table).order_by(*_key_columns(read_table))
                )
                for rows in result.partitions(batch_rows):
                    writer.execute(write_table.insert(), [dict(row._mapping) for row in rows])
                    copied += len(rows)
                    if progress:
                        progress(read_table.name, copied, total)
            if writer.dialect.name == "postgresql":
                _set_sequences(writer, [write for _read, write in pairs])
        with target.engine.connect() as checker:
            for read_table, write_table in pairs:
                source_rows, source_sum = key_checksum(reader, read_table)
                target_rows, target_sum = key_checksum(checker, write_table)
                checks.append(TableCheck(read_table.name, source_rows, target_rows, source_sum, target_sum))
        return checks
    finally:
        reader.close()
        engine.dispose()
        target.dispose()
