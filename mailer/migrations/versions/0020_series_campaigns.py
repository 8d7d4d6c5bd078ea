"""series campaigns: one round invites to a series, the invitee chooses a session

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 19:00:00

Changed and new columns, and whether they are personal:
- campaigns.series_id: the series a round invites to (then meeting_id is empty): not personal.
- campaigns.meeting_id: now empty for a series round: not personal.
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("series_id", sa.Integer(), nullable=True))
        batch_op.alter_column("meeting_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_index(batch_op.f("ix_campaigns_series_id"), ["series_id"], unique=False)
        batch_op.create_foreign_key("fk_campaigns_series_id_series", "series", ["series_id"], ["id"])


def downgrade() -> None:
    op.execute("DELETE FROM messages WHERE campaign_id IN (SELECT id FROM campaigns WHERE series_id IS NOT NULL)")
    op.execute("DELETE FROM campaigns WHERE series_id IS NOT NULL")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_constraint("fk_campaigns_series_id_series", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_campaigns_series_id"))
        batch_op.alter_column("meeting_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("series_id")
