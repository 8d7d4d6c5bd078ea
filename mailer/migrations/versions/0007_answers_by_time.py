"""answers by time: an index for "the answers given this week"

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 02:30:00

The weekly digest lists the answers a meeting got in the period; without this index it read
every answer of the meeting and sorted the week's (100,000 invited: a fifth of the digest).
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_responses_meeting_updated", "responses", ["meeting_id", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_responses_meeting_updated", table_name="responses")
