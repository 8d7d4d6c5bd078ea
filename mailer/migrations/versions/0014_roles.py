"""roles: one role per staff account, deactivation, a campaign's internal note

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 08:00:00

Accounts that existed before roles could do everything, so they become admin.
New columns and whether they are personal:
- staff_users.role (admin/staff/viewer): not personal.
- staff_users.deactivated_at: not personal (when an admin switched the account off).
- campaigns.note: not personal (the office's internal note on a campaign: purpose, who
  to follow up; the staff guide asks not to write about individual recipients there).
"""

import sqlalchemy as sa
from alembic import op

import mailer.db

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_users") as batch:
        batch.add_column(sa.Column("role", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("deactivated_at", mailer.db.UTCDateTime(timezone=True), nullable=True))
    op.execute("UPDATE staff_users SET role = 'admin'")
    with op.batch_alter_table("staff_users") as batch:
        batch.alter_column("role", existing_type=sa.String(length=10), nullable=False)
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("note")
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_column("deactivated_at")
        batch.drop_column("role")
