"""api tokens: keys other systems use for the JSON API on behalf of a staff account

Revision ID: 0018
Revises: 0020
Create Date: 2026-12-02 19:00:00

New table and whether its columns are personal:
- api_tokens (staff_user_id, token_hash: SHA-256 of the token, never the token itself, prefix: its
  first characters for telling tokens apart, label: what staff say it is for, scope read/write,
  created_at, last_used_at, revoked_at): not personal. Deleted with the account (ON DELETE CASCADE).
"""

import sqlalchemy as sa
from alembic import op

import mailer.db

revision = "0018"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=True),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("created_at", mailer.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", mailer.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", mailer.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_user_id"], ["staff_users.id"], ondelete="CASCADE", name="fk_api_tokens_staff_user_id_staff_users"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_staff_user_id"), ["staff_user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_staff_user_id"))
    op.drop_table("api_tokens")
