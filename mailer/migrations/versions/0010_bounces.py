"""bounce events: delivery reports read from the bounce mailbox

Revision ID: 0010
Revises: 0012
Create Date: 2026-12-02 08:00:00

Soft bounces are counted over 30 days before an address is suppressed, and a report read
twice must change nothing: both need the reports that were applied.
"""

import sqlalchemy as sa
from alembic import op

import mailer.db

revision = "0010"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bounce_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=True),
        sa.Column("counts", sa.Boolean(), nullable=False),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("created_at", mailer.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("fingerprint"),
    )
    with op.batch_alter_table("bounce_events", schema=None) as batch_op:
        batch_op.create_index("ix_bounce_events_contact_created", ["contact_id", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_bounce_events_message_id"), ["message_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("bounce_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bounce_events_message_id"))
        batch_op.drop_index("ix_bounce_events_contact_created")
    op.drop_table("bounce_events")
