"""series: meetings offered together, one invitation and the invitee picks a session

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 18:30:00

New table and columns, and whether they are personal:
- series (slug, link_key, title, description, choice "one"/"several", created_at): not personal.
- meetings.series_id: the series a meeting is a session of, or none: not personal.
"""

import sqlalchemy as sa
from alembic import op

import mailer.db

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("link_key", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("choice", sa.String(length=20), nullable=False),
        sa.Column("created_at", mailer.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("link_key"),
        sa.UniqueConstraint("slug"),
    )
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("series_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_meetings_series_id"), ["series_id"], unique=False)
        batch_op.create_foreign_key("fk_meetings_series_id_series", "series", ["series_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_constraint("fk_meetings_series_id_series", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_meetings_series_id"))
        batch_op.drop_column("series_id")
    op.drop_table("series")
