"""Backups: a consistent copy of the live database, taken while the web app and worker run.

Copying the SQLite file while the worker writes can give a broken copy; SQLite's backup API
copies one consistent snapshot instead (in WAL mode without stopping writers). PostgreSQL is
dumped by `pg_dump -Fc` inside an exported snapshot, so the row counts in the manifest are
those of the dump. Each backup is written under a temporary name and renamed when complete,
and a small JSON manifest beside it (`<backup>.json`, written last) holds the schema
revision, the row counts and a checksum: a backup without its manifest is not one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import make_url, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from mailer.config import BackupKeep, Settings
from mailer.db import Database, utcnow
from mailer.errors import DomainError
from mailer.operations.faults import sqlite_path
from mailer.operations.models import BackupRecord

MANIFEST_FORMAT = "mailer-backup"
MANIFEST_VERSION = 1
EXTENSIONS = {"sqlite": "sqlite", "postgresql": "dump"}
STALE_AFTER = dt.timedelta(days=2)  # the digest, the dashboard and `mailer doctor` warn after this


class BackupError(DomainError):
    """A backup cannot be taken or used: a code whose one-line text names the file and the reason."""

    prefix = "error.ops."


@dataclass
class Manifest:
    backend: str  # "sqlite" or "postgresql"
    file: str  # the backup file's name, in the manifest's folder
    created_at: str  # ISO 8601, UTC
    schema_revision: str
    tables: dict[str, int]  # rows per table
    bytes: int
    sha256: str
    format: str = MANIFEST_FORMAT
    manifest_version: int = MANIFEST_VERSION
    mailer_version: str = field(default="")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


def manifest_path(backup: Path) -> Path:
    return backup.with_name(backup.name + ".json")


def backend_of(database_url: str) -> str:
    return make_url(database_url).get_backend_name()


def default_backup_path(settings: Settings, backend: str, now: dt.datetime | None = None) -> Path:
    """instance/backups/mailer-20271203T030000Z.sqlite (or .dump for PostgreSQL)."""
    stamp = (now or utcnow()).astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return settings.backups_path / f"mailer-{stamp}.{EXTENSIONS[backend]}"


def _mailer_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mailer")
    except PackageNotFoundError:
        return ""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sqlite_counts(connection: sqlite3.Connection) -> dict[str, int]:
    names = [
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    return {name: connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}


def _sqlite_backup(source: Path, target: Path) -> tuple[str, dict[str, int]]:
    """SQLite's online backup in one step: one consistent snapshot, writers carry on (WAL)."""
    if not source.exists():
        raise BackupError("backup_source_missing", path=str(source))
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal beside it
        verdict = dst.execute("PRAGMA integrity_check").fetchone()[0]
        if verdict != "ok":
            raise BackupError("copy_not_intact", path=str(target), verdict=verdict)
        revision = dst.execute("SELECT version_num FROM alembic_version").fetchone()
        counts = sqlite_counts(dst)
    except sqlite3.Error as exc:
        raise BackupError("file_error", path=str(source), reason=str(exc)) from None
    finally:
        dst.close()
        src.close()
    return (revision[0] if revision else ""), counts


def libpq_command_args(database_url: str) -> tuple[list[str], dict[str, str]]:
    """`--dbname` for pg_dump/pg_restore, and the password in the environment (not in `ps`)."""
    url = make_url(database_url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return ["--dbname", plain], env


def postgres_counts(connection) -> dict[str, int]:
    names = (
        connection.execute(
            text(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
                "AND table_type = 'BASE TABLE' ORDER BY table_name"
            )
        )
        .scalars()
        .all()
    )
    return {name: connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar() for name in names}


def _postgres_backup(database: Database, target: Path) -> tuple[str, dict[str, int]]:
    """pg_dump -Fc inside an exported snapshot, so the counts are exactly those of the dump."""
    pg_dump = postgres_tool("pg_dump")
    dbname, env = libpq_command_args(database.url)
    with database.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar()
            revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar() or ""
            counts = postgres_counts(connection)
            done = subprocess.run(
                [pg_dump, "--format=custom", "--no-owner", f"--snapshot={snapshot}", f"--file={target}", *dbname],
                env=env,
                capture_output=True,
                text=True,
            )
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise BackupError("pg_dump_failed", reason=lines[0] if lines else f"exit {done.returncode}")
    return revision, counts


def postgres_tool(name: str) -> str:
    """The path of pg_dump or pg_restore; BackupError naming the package when it is not installed."""
    tool = shutil.which(name)
    if tool is None:
        raise BackupError("tool_missing", tool=name)
    return tool


def _writable_folder(folder: Path) -> None:
    try:
        if not folder.exists():
            folder.mkdir(parents=True, mode=0o700)  # backups hold personal data
    except OSError as exc:
        raise BackupError("cannot_create_folder", path=str(folder), reason=exc.strerror or str(exc)) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BackupError("folder_not_writable", path=str(folder))


def write_backup(database: Database, path: Path) -> Manifest:
    """Write the backup and its manifest at `path`, atomically; nothing is left behind on failure."""
    backend = backend_of(database.url)
    if backend == "postgresql":
        postgres_tool("pg_dump")  # named before anything is written
    _writable_folder(path.parent)
    if path.exists() or manifest_path(path).exists():
        raise BackupError("backup_exists", path=str(path))
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    partial_manifest = manifest_path(partial)
    try:
        if backend == "sqlite":
            database_file = sqlite_path(database.url)
            assert database_file is not None, "an instance's SQLite database is a file (check_instance)"
            revision, counts = _sqlite_backup(database_file, partial)
        else:
            revision, counts = _postgres_backup(database, partial)
        _fsync(partial)
        manifest = Manifest(
            backend=backend,
            file=path.name,
            created_at=utcnow().isoformat(timespec="seconds"),
            schema_revision=revision,
            tables=counts,
            bytes=partial.stat().st_size,
            sha256=file_sha256(partial),
            mailer_version=_mailer_version(),
        )
        partial_manifest.write_text(manifest.to_json(), encoding="utf-8")
        _fsync(partial_manifest)
        for written in (partial, partial_manifest):
            written.chmod(0o600)  # personal data: readable by the owner only, before it has its name
        os.replace(partial, path)
        os.replace(partial_manifest, manifest_path(path))  # last: a manifest means a complete backup
        _fsync(path.parent)
    except OSError as exc:
        raise BackupError("file_error", path=str(exc.filename or path), reason=exc.strerror or str(exc)) from None
    finally:
        for leftover in (partial, partial_manifest):
            leftover.unlink(missing_ok=True)
    return manifest


@dataclass
class BackupTaken:
    path: Path
    manifest: Manifest
    pruned: list[Path]


def take_backup(
    database: Database,
    settings: Settings,
    path: Path | None = None,
    trigger: str = "manual",
    now: dt.datetime | None = None,
) -> BackupTaken:
    """Back up, record the outcome in the database, and prune the default folder by `backup_keep`.

    `path` may be a folder (the default name is used inside it) or a file name.
    """
    backend = backend_of(database.url)
    target = default_backup_path(settings, backend, now)
    if path is not None:
        path = Path(path).expanduser().absolute()
        target = path / target.name if path.is_dir() else path
    started = utcnow()
    try:
        manifest = write_backup(database, target)
    except BackupError as exc:
        _record(database, BackupRecord(started_at=started, path=str(target), trigger=trigger, error=str(exc)))
        raise
    _record(
        database,
        BackupRecord(
            started_at=started,
            finished_at=utcnow(),
            path=str(target),
            size_bytes=manifest.bytes,
            revision=manifest.schema_revision,
            trigger=trigger,
        ),
    )
    pruned = prune(settings.backups_path, settings.backup_keep) if target.parent == settings.backups_path else []
    return BackupTaken(target, manifest, pruned)


def _record(database: Database, record: BackupRecord) -> None:
    """Best effort: a backup of a database that cannot take this write is still a backup."""
    try:
        with database.transaction() as session:
            session.add(record)
    except SQLAlchemyError:
        pass


def last_backup(session: Session) -> BackupRecord | None:
    """The last successful backup (manual or scheduled)."""
    return session.scalars(
        select(BackupRecord)
        .where(BackupRecord.error.is_(None), BackupRecord.finished_at.is_not(None))
        .order_by(BackupRecord.finished_at.desc())
        .limit(1)
    ).first()


@dataclass(frozen=True)
class BackupStatus:
    last_at: dt.datetime | None
    path: str | None

    @property
    def stale(self) -> bool:
        return self.last_at is None or utcnow() - self.last_at > STALE_AFTER


def backup_status(session: Session) -> BackupStatus:
    record = last_backup(session)
    return BackupStatus(record.finished_at if record else None, record.path if record else None)


def backups_in(folder: Path) -> list[tuple[dt.datetime, Path]]:
    """Complete backups (with a manifest) in a folder, newest first."""
    found = []
    for manifest_file in folder.glob("mailer-*.json"):
        backup = manifest_file.with_suffix("")
        try:
            created = dt.datetime.fromisoformat(json.loads(manifest_file.read_text(encoding="utf-8"))["created_at"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if backup.exists():
            found.append((created, backup))
    return sorted(found, reverse=True)


def prune(folder: Path, keep: BackupKeep) -> list[Path]:
    """Delete backups `keep` no longer asks for: the newest of each of the last `daily` days and of
    each of the last `weekly` ISO weeks stay. Backups hold personal data: they age out, never edited."""
    backups = backups_in(folder)
    kept: set[Path] = set()
    for count, period in (
        (keep.daily, lambda moment: moment.date()),
        (keep.weekly, lambda moment: moment.isocalendar()[:2]),
    ):
        seen: list = []
        for created, backup in backups:
            key = period(created)
            if key not in seen:
                if len(seen) == count:
                    break
                seen.append(key)
                kept.add(backup)
    removed = []
    for _created, backup in backups:
        if backup not in kept:
            backup.unlink(missing_ok=True)
            manifest_path(backup).unlink(missing_ok=True)
            removed.append(backup)
    return removed


def row_counts(database: Database) -> dict[str, int]:
    """Rows per table of a live database (for `mailer restore` and `db copy` to print)."""
    with database.engine.connect() as connection:
        if database.is_sqlite:
            names = (
                connection.execute(
                    text(
                        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
                    )
                )
                .scalars()
                .all()
            )
            return {name: connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one() for name in names}
        return postgres_counts(connection)


__all__ = [
    "BackupError",
    "BackupStatus",
    "BackupTaken",
    "Manifest",
    "backup_status",
    "default_backup_path",
    "last_backup",
    "manifest_path",
    "prune",
    "row_counts",
    "take_backup",
    "write_backup",
]
