"""several workers: the shared sending rate

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 18:00:00

The scheduler role needs no table (a PostgreSQL advisory lock, or the one SQLite worker's
lock file); the rate limit that all workers share is one row per limit.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "send_rate",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("next_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("send_rate")
