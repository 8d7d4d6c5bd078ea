"""organisation short name: the abbreviation staff use for a member organisation

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-02 10:00:00

New column and whether it is personal:
- organisations.short_name (e.g. "SKF" for Sveriges Körförbund), set by staff on the
  organisation page: not personal. Existing organisations have none until staff add one.
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(sa.Column("short_name", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("short_name")
