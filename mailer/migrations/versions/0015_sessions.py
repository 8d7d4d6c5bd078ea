"""sessions: a per-account session generation, raised to end every open session at once

Revision ID: 0015
Revises: 0009
Create Date: 2026-12-02 08:00:00

Log-out, a password change, deactivation and a role change raise it; a session cookie
carrying an older value is refused at its next request. Not personal data.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_users") as batch:
        batch.add_column(sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_column("session_generation")
