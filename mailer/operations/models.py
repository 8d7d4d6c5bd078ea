"""What operations record in the database: the workers' heartbeats and the backups taken.

Neither table holds personal data: a worker is named by host and process id, a backup by
its file path, size and schema revision.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mailer.db import Base, UTCDateTime, not_personal, utcnow


class WorkerHeartbeat(Base):
    """One row per worker process: when it started, when it was last heard from, when it stopped."""

    __tablename__ = "worker_heartbeats"

    owner: Mapped[str] = mapped_column(
        String(100), primary_key=True, info=not_personal()
    )  # "host:pid" of the worker process
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True, info=not_personal())
    stopped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, info=not_personal())


class BackupRecord(Base):
    """Each backup attempt, manual or scheduled; the last one without an error is "the last backup"."""

    __tablename__ = "backups"

    id: Mapped[int] = mapped_column(primary_key=True, info=not_personal())
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True, info=not_personal())
    path: Mapped[str] = mapped_column(String(1000), info=not_personal())  # the backup file's path
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, info=not_personal())
    revision: Mapped[str | None] = mapped_column(String(32), info=not_personal())  # the schema revision
    trigger: Mapped[str] = mapped_column(String(20), info=not_personal())  # "manual" or "scheduled"
    error: Mapped[str | None] = mapped_column(Text, info=not_personal())  # why it failed (an OS or driver message)


class HealthProbe(Base):
    """One row /healthz rewrites: proof that the database takes a write, not only a read."""

    __tablename__ = "health_probe"

    name: Mapped[str] = mapped_column(String(50), primary_key=True, info=not_personal())  # "healthz"
    checked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, info=not_personal())
