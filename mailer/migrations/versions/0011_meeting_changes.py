"""meeting changes: a calendar SEQUENCE and a cancellation time per meeting; retired link keys

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 08:00:00

`meetings.sequence` and `meetings.cancelled_at` (not personal) let an update or a cancellation
replace the calendar entry people already have (same UID, higher SEQUENCE). `retired_link_keys`
(personal: it points to a person) keeps unsubscribe links working after `contacts revoke-links`.
"""

import sqlalchemy as sa
from alembic import op

import mailer.db

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sequence", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("cancelled_at", mailer.db.UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        "retired_link_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("link_key", sa.String(length=32), nullable=False),
        sa.Column("retired_at", mailer.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("link_key"),
    )
    with op.batch_alter_table("retired_link_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_retired_link_keys_contact_id"), ["contact_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("retired_link_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_retired_link_keys_contact_id"))
    op.drop_table("retired_link_keys")
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_column("cancelled_at")
        batch_op.drop_column("sequence")
