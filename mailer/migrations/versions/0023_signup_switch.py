"""signup switch: staff close, reopen or set a closing time for a meeting's or series' sign-up page

Revision ID: 0023
Revises: 0021
Create Date: 2026-12-03 10:00:00

New columns and whether they are personal:
- meetings.signup_closes_at, series.signup_closes_at: when public sign-up closes (None: open until
  it closes by itself; a past time: closed). Not personal.
"""

import sqlalchemy as sa
from alembic import op

import mailer.db

revision = "0023"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("meetings", "series"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("signup_closes_at", mailer.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for table in ("series", "meetings"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("signup_closes_at")
