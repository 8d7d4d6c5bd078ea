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

MIN_FREE_BYTES = 1024 * 1024  # below this, no command starts: SQLite needs room for its journal


class InstanceFault(Exception):
    """Something about the instance's files stops the work; `path` is where, `fix` what to do."""

    def __init__(self, path: Path | str, problem: str, fix: str):
        super().__init__(f"{path}: {problem}; {fix}")
        self.path, self.problem, self.fix = str(path), problem, fix


def sqlite_path(database_url: str) -> Path | None:
    """The SQLite database file of a URL, or None (PostgreSQL, or an in-memory database)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).resolve()


def _fault_for_folder(folder: Path) -> InstanceFault | None:
    if not folder.is_dir():
        return InstanceFault(folder, "the instance folder does not exist",
                             "run `mailer init`, or set MAILER_INSTANCE_PATH to the instance folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        return InstanceFault(folder, "the folder is read-only for this user",
                             f"make it writable (chmod u+w {folder}, or remount the disk read-write)")
    if shutil.disk_usage(folder).free < MIN_FREE_BYTES:
        return InstanceFault(folder, "the disk is full", "free some space on that disk (old backups, logs) and try again")
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
            raise InstanceFault(path, "the database file is missing",
                                "restore the last backup with `mailer restore PATH` (see docs/operations.md), "
                                "or run `mailer init` to start an empty database")
        return
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if file.exists() and not os.access(file, os.R_OK | os.W_OK):
            raise InstanceFault(file, "the database file is read-only for this user", f"make it writable (chmod u+rw {file})")


# Driver messages (SQLite, PostgreSQL) and OS errors that mean the files, not the program, are at fault.
_MESSAGES = (
    ("database or disk is full", "the disk is full", "free some space on that disk and try again"),
    ("could not extend file", "the database server's disk is full", "free space on the database server"),
    ("no space left on device", "the disk is full", "free some space on that disk and try again"),
    ("readonly database", "the database is read-only", "make the database file and its folder writable"),
    ("unable to open database file", "the database file cannot be opened",
     "check that the file and its folder exist and are writable, or restore a backup (`mailer restore PATH`)"),
    ("disk i/o error", "the disk failed to read or write", "check the disk, then restore a backup if needed"),
)
_ERRNOS = {
    errno.ENOSPC: ("the disk is full", "free some space on that disk and try again"),
    errno.EDQUOT: ("the disk quota is used up", "free some space or raise the quota"),
    errno.EROFS: ("the file system is read-only", "remount it read-write"),
    errno.EACCES: ("permission denied", "make it writable for the user running mailer"),
    errno.EPERM: ("permission denied", "make it writable for the user running mailer"),
}


def fault_from_error(exc: BaseException, where: Path | str) -> InstanceFault | None:
    """The InstanceFault an error stands for, or None when it is a bug or something else."""
    if isinstance(exc, OSError) and exc.errno in _ERRNOS:
        problem, fix = _ERRNOS[exc.errno]
        return InstanceFault(exc.filename or where, problem, fix)
    text = str(getattr(exc, "orig", None) or exc).lower()
    for needle, problem, fix in _MESSAGES:
        if needle in text:
            return InstanceFault(where, problem, fix)
    return None


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

    def problem(self) -> str | None:
        """None while the file is the one first seen; else what happened to it."""
        if self.path is None:
            return None
        current = self._identity()
        if current is None:
            return f"the database file {self.path} was deleted"
        if self.identity is None:
            self.identity = current  # first seen now (created after this process started)
        elif current != self.identity:
            return f"the database file {self.path} was replaced by another file"
        return None
