"""relay pauses: why and until when sending stopped; the log the relay's limits are counted over

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 08:30:00

A relay's quota or policy reply pauses a campaign (its reply and retry time are kept on it)
or all sending (relay_status); send_reservations logs the reserved send slots so that the
hour's and the day's limits hold across workers. Existing suppressions are left as they are:
the staff page of suppressions shows each one's stored reply, so a wrong one can be undone.

Personal data: campaigns.pause_reply and relay_status.reply are personal (a relay's reply may
quote an address); every other new column is not.
"""

import sqlalchemy as sa
from alembic import op

from mailer.db import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("paused_until", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("pause_reason", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("pause_reply", sa.Text(), nullable=True))
    op.create_table(
        "relay_status",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("since", UTCDateTime(timezone=True), nullable=True),
        sa.Column("paused_until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("strikes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "send_reservations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_send_reservations_name_at", "send_reservations", ["name", "at"])


def downgrade() -> None:
    op.drop_index("ix_send_reservations_name_at", table_name="send_reservations")
    op.drop_table("send_reservations")
    op.drop_table("relay_status")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("pause_reply")
        batch.drop_column("pause_reason")
        batch.drop_column("paused_until")
