"""Can the database be read and written right now? For /healthz and `mailer doctor`.

A bare SELECT 1 answers happily from a deleted SQLite file, a read-only file or a full disk;
only a committed write shows that answers given now will be kept.
"""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from mailer.db import Database, utcnow
from mailer.operations.faults import FileWatch, fault_from_error
from mailer.operations.models import HealthProbe


def database_problem(database: Database, watch: FileWatch | None = None) -> str | None:
    """None when a write commits; else a one-line reason naming the path or the error."""
    problem = watch.problem() if watch else None
    if problem:
        return str(problem)  # English: /healthz is read by machines and their operators' logs
    try:
        with database.transaction() as session:
            session.merge(HealthProbe(name="healthz", checked_at=utcnow()))
    except (SQLAlchemyError, OSError) as exc:
        fault = fault_from_error(exc, database.engine.url.render_as_string(hide_password=True))
        if fault:
            return str(fault)
        orig = getattr(exc, "orig", None) or exc
        return f"{type(orig).__name__}: {str(orig).splitlines()[0] if str(orig) else ''}"[:300]
    return None
