"""operations: the workers' heartbeats, the record of backups taken, the health probe row

Revision ID: 0012
Revises: 0015
Create Date: 2026-12-02 08:00:00

Neither table holds personal data (every column: not personal). The heartbeat lets the staff
pages, /healthz and `mailer doctor` say when the worker stopped while mail waits; the backup
record lets them say when the last good backup was taken.
"""

import sqlalchemy as sa
from alembic import op

import mailer.db

revision = "0012"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worker_heartbeats",
        sa.Column("owner", sa.String(length=100), nullable=False),  # not personal
        sa.Column("started_at", mailer.db.UTCDateTime(timezone=True), nullable=False),  # not personal
        sa.Column("seen_at", mailer.db.UTCDateTime(timezone=True), nullable=False),  # not personal
        sa.Column("stopped_at", mailer.db.UTCDateTime(timezone=True), nullable=True),  # not personal
        sa.PrimaryKeyConstraint("owner"),
    )
    op.create_index("ix_worker_heartbeats_seen_at", "worker_heartbeats", ["seen_at"])
    op.create_table(
        "backups",
        sa.Column("id", sa.Integer(), nullable=False),  # not personal
        sa.Column("started_at", mailer.db.UTCDateTime(timezone=True), nullable=False),  # not personal
        sa.Column("finished_at", mailer.db.UTCDateTime(timezone=True), nullable=True),  # not personal
        sa.Column("path", sa.String(length=1000), nullable=False),  # not personal
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),  # not personal
        sa.Column("revision", sa.String(length=32), nullable=True),  # not personal
        sa.Column("trigger", sa.String(length=20), nullable=False),  # not personal
        sa.Column("error", sa.Text(), nullable=True),  # not personal
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_backups_finished_at", "backups", ["finished_at"])
    op.create_table(
        "health_probe",
        sa.Column("name", sa.String(length=50), nullable=False),  # not personal
        sa.Column("checked_at", mailer.db.UTCDateTime(timezone=True), nullable=False),  # not personal
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("health_probe")
    op.drop_index("ix_backups_finished_at", table_name="backups")
    op.drop_table("backups")
    op.drop_index("ix_worker_heartbeats_seen_at", table_name="worker_heartbeats")
    op.drop_table("worker_heartbeats")
