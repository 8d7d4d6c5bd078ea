"""Restoring a backup into place: checked first, the replaced database kept, older schemas migrated.

Nothing is touched until the backup has passed every check (manifest, size, checksum, schema
revision known to this version, SQLite's integrity check, the counts); the database it replaces
is kept beside it as `…replaced-<timestamp>` (SQLite) or renamed to `<name>_replaced_<timestamp>`
(PostgreSQL), so a restore of the wrong file is itself undone by another rename.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from mailer.config import Settings
from mailer.db import Database, alembic_config, head_revision, utcnow
from mailer.operations.backup import (
    MANIFEST_FORMAT,
    MANIFEST_VERSION,
    BackupError,
    Manifest,
    backend_of,
    file_sha256,
    libpq_command_args,
    manifest_path,
    postgres_tool,
    row_counts,
    sqlite_counts,
)
from mailer.operations.faults import sqlite_path
from mailer.operations.models import BackupRecord
from mailer.operations.running import running_against
from mailer.translations import translate


class RestoreRefused(BackupError):
    """The instance is in use: `mailer serve` or a worker runs against it (`running`: what runs)."""

    def render(self, language: str | None) -> str:
        running = self.params.get("running")
        if isinstance(running, list):  # each process named in the reader's language
            return translate(
                self.prefix + self.code, language, running="; ".join(process.render(language) for process in running)
            )
        return super().render(language)


def read_manifest(backup: Path) -> Manifest:
    if not backup.is_file():
        raise BackupError("no_such_file", path=str(backup))
    beside = manifest_path(backup)
    if not beside.is_file():
        raise BackupError("no_manifest", path=str(backup), manifest=beside.name)
    try:
        data = json.loads(beside.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"format is not {MANIFEST_FORMAT!r}")
        if int(data.get("manifest_version", 0)) > MANIFEST_VERSION:
            raise BackupError("manifest_newer", path=str(beside))
        return Manifest(**{key: data[key] for key in Manifest.__dataclass_fields__ if key in data})
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise BackupError("bad_manifest", path=str(beside), reason=str(exc)) from None


def check_backup(backup: Path) -> Manifest:
    """Every check that needs no running database; raises BackupError with the first problem."""
    backup = Path(backup).expanduser().absolute()
    manifest = read_manifest(backup)
    size = backup.stat().st_size
    if size != manifest.bytes:
        raise BackupError("truncated", path=str(backup), size=size, expected=manifest.bytes)
    if file_sha256(backup) != manifest.sha256:
        raise BackupError("damaged", path=str(backup))
    known = {rev.revision for rev in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if manifest.schema_revision not in known:
        raise BackupError("unknown_revision", path=str(backup), revision=manifest.schema_revision)
    if manifest.backend == "sqlite":
        _check_sqlite_file(backup, manifest)
    elif manifest.backend == "postgresql":
        _check_dump(backup)
    else:
        raise BackupError("unknown_backend", path=str(backup), backend=manifest.backend)
    return manifest


def _check_sqlite_file(backup: Path, manifest: Manifest) -> None:
    try:
        connection = sqlite3.connect(f"{backup.as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            verdict = connection.execute("PRAGMA integrity_check").fetchone()[0]
            counts = sqlite_counts(connection) if verdict == "ok" else {}
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise BackupError("not_sqlite", path=str(backup), reason=str(exc)) from None
    if verdict != "ok":
        raise BackupError("not_intact", path=str(backup), verdict=verdict)
    if counts != manifest.tables:
        differ = sorted(
            name for name in set(counts) | set(manifest.tables) if counts.get(name) != manifest.tables.get(name)
        )
        raise BackupError("counts_differ", path=str(backup), tables=", ".join(differ))


def _check_dump(backup: Path) -> None:
    listed = subprocess.run([postgres_tool("pg_restore"), "--list", str(backup)], capture_output=True, text=True)
    if listed.returncode != 0:
        first = next((line for line in listed.stderr.splitlines() if line.strip()), "")
        raise BackupError("not_dump", path=str(backup), reason=first)


@dataclass
class Restored:
    manifest: Manifest
    replaced: str | None  # where the database that was in place now is (None: there was none)
    migrated_from: str | None  # the backup's older schema revision, when it was migrated to the latest
    counts: dict[str, int]


def restore_backup(settings: Settings, backup: Path, now: dt.datetime | None = None) -> Restored:
    """Check the backup, refuse while the instance runs, swap it into place, migrate, count."""
    backup = Path(backup).expanduser().absolute()
    manifest = check_backup(backup)
    backend = backend_of(settings.database_url)
    if manifest.backend != backend:
        raise BackupError("other_backend", path=str(backup), backup_backend=manifest.backend, backend=backend)
    running = running_against(settings)
    if running:
        raise RestoreRefused("in_use", running=running)
    stamp = (now or utcnow()).astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    if backend == "sqlite":
        database_file = sqlite_path(settings.database_url)
        assert database_file is not None, "an instance's SQLite database is a file (check_instance)"
        replaced = _swap_sqlite(backup, database_file, stamp)
    else:
        replaced = _swap_postgres(backup, settings.database_url, stamp)
    database = Database(settings.database_url)
    try:
        migrated_from = None
        if manifest.schema_revision != head_revision():
            database.upgrade()
            migrated_from = manifest.schema_revision
        counts = row_counts(database)
        with database.transaction() as session:  # the restored database's last backup is this one
            session.add(
                BackupRecord(
                    started_at=dt.datetime.fromisoformat(manifest.created_at),
                    finished_at=dt.datetime.fromisoformat(manifest.created_at),
                    path=str(backup),
                    size_bytes=manifest.bytes,
                    revision=manifest.schema_revision,
                    trigger="restored",
                )
            )
    finally:
        database.dispose()
    return Restored(manifest, replaced, migrated_from, counts)


def _swap_sqlite(backup: Path, target: Path, stamp: str) -> str | None:
    incoming = target.with_name(f".{target.name}.restoring-{os.getpid()}")
    try:
        shutil.copyfile(backup, incoming)
        with open(incoming, "rb+") as handle:
            os.fsync(handle.fileno())
        replaced = None
        if target.exists():
            # Fold its write-ahead log in first, so that the kept file is complete on its own.
            connection = sqlite3.connect(target, timeout=30)
            try:
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                connection.close()
            kept = target.with_name(f"{target.name}.replaced-{stamp}")
            os.replace(target, kept)
            replaced = str(kept)
        for leftover in (Path(f"{target}-wal"), Path(f"{target}-shm")):
            leftover.unlink(missing_ok=True)
        os.replace(incoming, target)
    except (OSError, sqlite3.Error) as exc:
        raise BackupError("cannot_swap", path=str(target), reason=str(exc)) from None
    finally:
        incoming.unlink(missing_ok=True)
    return replaced


def _swap_postgres(backup: Path, database_url: str, stamp: str) -> str:
    """Rename the database aside, create it anew, pg_restore into it; on failure, rename it back."""
    pg_restore = postgres_tool("pg_restore")
    url = make_url(database_url)
    name = url.database
    if not name:  # config.py's database URLs name their database
        raise ValueError("the PostgreSQL URL names no database")
    kept = f"{name[:40]}_replaced_{stamp.lower()}"
    admin = create_engine(url.set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            others = connection.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"),
                {"name": name},
            ).scalar()
            if others:
                raise RestoreRefused("pg_connections", count=others, name=name)
            connection.execute(text(f'ALTER DATABASE "{name}" RENAME TO "{kept}"'))
            connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
        dbname, env = libpq_command_args(database_url)
        done = subprocess.run(
            [pg_restore, "--no-owner", "--exit-on-error", *dbname, str(backup)], env=env, capture_output=True, text=True
        )
        if done.returncode != 0:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE "{name}"'))
                connection.execute(text(f'ALTER DATABASE "{kept}" RENAME TO "{name}"'))
            first = next((line for line in done.stderr.splitlines() if line.strip()), f"exit {done.returncode}")
            raise BackupError("pg_restore_failed", reason=first)
    except SQLAlchemyError as exc:
        raise BackupError("database_error", name=name, reason=str(getattr(exc, "orig", exc)).splitlines()[0]) from None
    finally:
        admin.dispose()
    return f"database {kept}"


__all__ = ["RestoreRefused", "Restored", "check_backup", "read_manifest", "restore_backup"]
