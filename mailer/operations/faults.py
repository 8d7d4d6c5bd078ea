"""Faults of the instance folder and the database file, named with the path and the fix.

A read-only folder, a full disk or a deleted SQLite file otherwise surfaces as a driver
traceback a hundred lines long, or worse, not at all: SQLite keeps writing into a deleted
file that nobody will ever read again. Every command checks first (`check_instance`), errors
met later are translated (`fault_from_error`), and the worker and /healthz watch the file.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from sqlalchemy import make_url

from mailer.errors import DomainError

MIN_FREE_BYTES = 1024 * 1024  # below this, no command starts: SQLite needs room for its journal


class InstanceFault(DomainError):
    """Something about the instance's files stops the work: a code whose text names `path` and the fix."""

    prefix = "error.ops."

    def __init__(self, code: str, /, path: Path | str, **params):
        super().__init__(code, path=str(path), **params)
        self.path = str(path)


def sqlite_path(database_url: str) -> Path | None:
    """The SQLite database file of a URL, or None (PostgreSQL, or an in-memory database)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).resolve()


def _fault_for_folder(folder: Path) -> InstanceFault | None:
    if not folder.is_dir():
        return InstanceFault("instance_missing", folder)
    if not os.access(folder, os.W_OK | os.X_OK):
        return InstanceFault("folder_readonly", folder)
    if _nearly_full(folder):
        return InstanceFault("disk_full", folder)
    return None


def check_instance(instance_path: Path, database_url: str, need_database: bool = True) -> None:
    """Raise InstanceFault when the instance folder or the SQLite file cannot be used for writing.

    `need_database=False` (restore): a missing database file is what is being repaired.
    """
    fault = _fault_for_folder(instance_path)
    if fault:
        raise fault
    path = sqlite_path(database_url)
    if path is None:
        return
    if path.parent != instance_path:
        fault = _fault_for_folder(path.parent)
        if fault:
            raise fault
    if not path.exists():
        if need_database:
            raise InstanceFault("database_missing", path)
        return
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if file.exists() and not os.access(file, os.R_OK | os.W_OK):
            raise InstanceFault("database_file_readonly", file)


# Driver messages (SQLite, PostgreSQL) and OS errors that mean the files, the server or the
# settings, not the program, are at fault: each needle's words must all be in the message.
_MESSAGES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("database or disk is full",), "disk_full"),
    (("could not extend file",), "server_disk_full"),  # PostgreSQL: "...: No space left on device"
    (("no space left on device",), "disk_full"),
    (("readonly database",), "database_readonly"),
    (("read-only transaction",), "server_readonly"),  # PostgreSQL: a standby, default_transaction_read_only
    (("unable to open database file",), "cannot_open"),
    (("disk i/o error",), "io_error"),
    (("connection refused",), "server_unreachable"),
    (("could not translate host name",), "server_unreachable"),
    (("name or service not known",), "server_unreachable"),
    (("timeout expired",), "server_unreachable"),
    (('database "', "does not exist"), "server_database_missing"),
    (("password authentication failed",), "server_auth"),
    (('role "', "does not exist"), "server_auth"),
    (("no pg_hba.conf entry",), "server_auth"),
)
_ERRNOS = {
    errno.ENOSPC: "disk_full",
    errno.EDQUOT: "quota",
    errno.EROFS: "readonly_fs",
    errno.EACCES: "permission",
    errno.EPERM: "permission",
}


def fault_from_error(exc: BaseException, where: Path | str) -> InstanceFault | None:
    """The InstanceFault an error stands for, or None when it is a bug or something else."""
    if isinstance(exc, OSError) and exc.errno in _ERRNOS:
        return InstanceFault(_ERRNOS[exc.errno], exc.filename or where)
    text = str(getattr(exc, "orig", None) or exc).lower()
    for needles, code in _MESSAGES:
        if all(needle in text for needle in needles):
            if code == "io_error" and _nearly_full(Path(where)):
                code = "disk_full"  # SQLite says "disk I/O error" when a write into its -shm or -wal file finds no room
            return InstanceFault(code, where)
    return None


def _nearly_full(place: Path) -> bool:
    """Less room than SQLite needs for its journal, on the disk of `place` (or its nearest existing folder)."""
    folder = next((path for path in (place, *place.parents) if path.is_dir()), None)
    return folder is not None and shutil.disk_usage(folder).free < MIN_FREE_BYTES


def check_new_database(database_url: str) -> None:
    """Before `mailer init` creates a SQLite file: refuse when the old file's -wal or -shm is still there.

    Why: a database file deleted while `mailer serve` or the worker runs leaves its -wal and
    -shm files in use, and SQLite takes them for the new file's own: seen failing with "disk
    I/O error" (leaving a broken empty file that later commands blamed on the disk), and
    otherwise the running process's pages would be written into the new database's log.
    """
    path = sqlite_path(database_url)
    if path is None or path.exists():
        return
    for side in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        if side.exists():
            raise InstanceFault("stale_side_file", side, database=path)


class FileWatch:
    """Notices when a SQLite file is deleted or replaced under a running process.

    An open SQLite connection keeps writing into a deleted file (the inode lives on), so
    answers would be "saved" where nobody will read them; the worker and /healthz ask
    `problem()` and stop or report instead.
    """

    def __init__(self, database_url: str):
        self.path = sqlite_path(database_url)
        self.identity = self._identity()

    def _identity(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat() if self.path else None
        except FileNotFoundError:
            return None
        return (stat.st_dev, stat.st_ino) if stat else None

    def problem(self) -> InstanceFault | None:
        """None while the file is the one first seen; else what happened to it."""
        if self.path is None:
            return None
        current = self._identity()
        if current is None:
            return InstanceFault("file_deleted", self.path)
        if self.identity is None:
            self.identity = current  # first seen now (created after this process started)
        elif current != self.identity:
            return InstanceFault("file_replaced", self.path)
        return None
