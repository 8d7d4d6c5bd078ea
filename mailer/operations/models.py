"""What operations record in the database: the workers' heartbeats and the backups taken.

Neither table holds personal data: a worker is named by host and process id, a backup by
its file path, size and schema revision.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mailer.db import Base, UTCDateTime, utcnow


class WorkerHeartbeat(Base):
    """One row per worker process: when it started, when it was last heard from, when it stopped."""

    __tablename__ = "worker_heartbeats"

    owner: Mapped[str] = mapped_column(String(100), primary_key=True)  # not personal: "host:pid:nonce"
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)  # not personal
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)  # not personal
    stopped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # not personal


class BackupRecord(Base):
    """Each backup attempt, manual or scheduled; the last one without an error is "the last backup"."""

    __tablename__ = "backups"

    id: Mapped[int] = mapped_column(primary_key=True)  # not personal
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)  # not personal
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)  # not personal
    path: Mapped[str] = mapped_column(String(1000))  # not personal: the backup file's path
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)  # not personal
    revision: Mapped[str | None] = mapped_column(String(32))  # not personal: the schema revision
    trigger: Mapped[str] = mapped_column(String(20))  # not personal: "manual" or "scheduled"
    error: Mapped[str | None] = mapped_column(Text)  # not personal: why it failed (an OS or driver message)


class HealthProbe(Base):
    """One row /healthz rewrites: proof that the database takes a write, not only a read."""

    __tablename__ = "health_probe"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)  # not personal: "healthz"
    checked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)  # not personal
