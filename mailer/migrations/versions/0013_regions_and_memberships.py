"""regions canonical, and what each list says of a person kept on its membership

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-02 08:00:00

Regions were stored as each list spelled them ("Sörmland", "Region Sörmland", "Södermanlands
län"), so a round "to Sörmland" missed people: every contact, organisation and meeting region
becomes the canonical name of `mailer.regions`; a value that is not a region is left as it is
and listed on stderr, for staff to correct. Memberships get the name, title and region as the
list states them (name and title are personal), filled from the contact for existing rows.
"""

import sys

import sqlalchemy as sa
from alembic import op

from mailer.regions import canonical_region

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None


def _canonicalise(connection, table: str) -> list[str]:
    """Rewrite the table's regions to canonical names; returns the values that are not a region."""
    unmapped = []
    for (value,) in connection.execute(sa.text(f"SELECT DISTINCT region FROM {table} WHERE region IS NOT NULL")):
        canonical = canonical_region(value)
        if canonical is None:
            if value.strip():
                unmapped.append(value)
            continue
        if canonical != value:
            connection.execute(
                sa.text(f"UPDATE {table} SET region = :canonical WHERE region = :value"),
                {"canonical": canonical, "value": value},
            )
    return unmapped


def upgrade() -> None:
    # Plain ADD/DROP COLUMN (SQLite has both since 3.35): a batch copy of `organisations` would drop
    # the old table, and with foreign keys on, every membership with it (ON DELETE CASCADE).
    op.add_column("memberships", sa.Column("name", sa.String(length=200), nullable=True))  # personal
    op.add_column("memberships", sa.Column("title", sa.String(length=200), nullable=True))  # personal
    op.add_column("memberships", sa.Column("region", sa.String(length=100), nullable=True))  # not personal
    op.add_column(
        "organisations", sa.Column("named_by_staff", sa.Boolean(), server_default=sa.false(), nullable=False)
    )  # not personal

    connection = op.get_bind()
    for table in ("contacts", "organisations", "meetings"):
        unmapped = _canonicalise(connection, table)
        if unmapped:
            print(
                f"mailer: migration 0013: {table}: not a region, left as written (correct by hand): "
                + ", ".join(repr(v) for v in sorted(unmapped)),
                file=sys.stderr,
            )
    connection.execute(
        sa.text(
            "UPDATE memberships SET name = (SELECT c.name FROM contacts c WHERE c.id = memberships.contact_id), "
            "region = (SELECT c.region FROM contacts c WHERE c.id = memberships.contact_id)"
        )
    )


def downgrade() -> None:
    op.drop_column("organisations", "named_by_staff")
    for column in ("region", "title", "name"):
        op.drop_column("memberships", column)
