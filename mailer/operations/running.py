"""Which mailer processes run against an instance: for `mailer restore`, which must not swap a
database out from under them, and for `mailer db copy`, which warns.

`mailer serve` holds an exclusive lock on `<instance>/serve.lock` and a SQLite worker on
`<database>.worker.lock` (worker/role.py); the kernel drops a lock when its process dies, however
it dies, so a held lock means a live process. PostgreSQL workers may run on other machines:
those are known by their heartbeat.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from sqlalchemy.exc import SQLAlchemyError

from mailer.config import Settings
from mailer.db import Database, utcnow
from mailer.errors import DomainError
from mailer.operations.faults import sqlite_path
from mailer.operations.heartbeat import running_workers

SERVE_LOCK = "serve.lock"


def hold_lock(path: Path, label: str) -> IO[str] | None:
    """Take an exclusive lock on `path` and write `label` in it; None when another process holds it.

    Keep the returned handle open as long as the lock should last (forked children share it).
    """
    handle = open(path, "a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(label + "\n")
    handle.flush()
    return handle


def lock_holder(path: Path) -> str | None:
    """What the process holding the lock on `path` wrote there, or None when nobody holds it."""
    if not path.exists():
        return None
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            return handle.read().strip() or "another process"
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def serve_label(host: str, port: int) -> str:
    return f"mailer serve, pid {os.getpid()}, http://{host}:{port}"


class Running(DomainError):
    """A live process of the instance, named in the reader's language ("a worker is running (host:pid)")."""

    prefix = "error.ops."


def running_against(settings: Settings) -> list[Running]:
    """One item per live web server or worker of this instance ([] when none)."""
    found = []
    web = lock_holder(settings.instance_path / SERVE_LOCK)
    if web:
        found.append(Running("web_running", who=web))
    database_file = sqlite_path(settings.database_url)
    if database_file is not None:
        worker = lock_holder(Path(f"{database_file}.worker.lock"))
        if worker:
            found.append(Running("worker_running", who=worker))
        return found
    database = Database(settings.database_url)
    try:
        with database.transaction() as session:
            now = utcnow()
            for row in running_workers(session, now):
                found.append(
                    Running("worker_heard", who=row.owner, seconds=f"{(now - row.seen_at).total_seconds():.0f}")
                )
    except SQLAlchemyError:
        pass  # no database to read: nobody can be working on it either
    finally:
        database.dispose()
    return found
