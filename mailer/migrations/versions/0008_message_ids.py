"""message ids: each outbox row keeps the Message-ID it was sent with

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 08:00:00

Message-IDs were derived from the row id (`<invitation.42@domain>`): a second instance or a
restored database repeated them, and receiving servers drop a message whose id they have
seen. They are random now, so the row stores its own: a retry reuses it, and a bounce can be
matched to the message it answers. Rows sent before this revision keep no id (NULL).
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("message_id", sa.String(length=250), nullable=True))
        batch.create_unique_constraint("uq_messages_message_id", ["message_id"])


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_constraint("uq_messages_message_id", type_="unique")
        batch.drop_column("message_id")
