"""signup: public sign-up with double opt-in, and each contact's lawful basis

Revision ID: 0022
Revises: 0017
Create Date: 2026-12-02 19:00:00

New tables and columns, and whether they are personal:
- consent_records: why a contact may be mailed (basis "consent" or "member_list").
  id, contact_id, basis, organisation_id, text_key, text, language, purpose, page_url,
  embedded_from, given_at, confirmed_at: not personal (what was shown, when, where; the row
  belongs to its contact and is deleted by erasure).
  requested_from, confirmed_from (the client's network, IPv4 /24 or IPv6 /48): personal.
- signup_requests: a sign-up waiting for confirmation (deleted when confirmed or after 7 days).
  id, key_hash, meeting_id, series_id, organisation_id, language, text_key, text, page_url,
  embedded_from, created_at, expires_at: not personal.
  email, name, requested_from: personal.
"""

import sqlalchemy as sa
from alembic import op

import mailer.db

revision = "0022"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("basis", sa.String(length=20), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("text_key", sa.String(length=100), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("language", sa.String(length=5), nullable=True),
        sa.Column("purpose", sa.String(length=300), nullable=True),
        sa.Column("page_url", sa.String(length=500), nullable=True),
        sa.Column("embedded_from", sa.String(length=300), nullable=True),
        sa.Column("requested_from", sa.String(length=64), nullable=True),
        sa.Column("confirmed_from", sa.String(length=64), nullable=True),
        sa.Column("given_at", mailer.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", mailer.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name="fk_consent_records_contact_id_contacts", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name="fk_consent_records_organisation_id_organisations",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_records_contact_id"), ["contact_id"], unique=False)

    op.create_table(
        "signup_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=True),
        sa.Column("series_id", sa.Integer(), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("text_key", sa.String(length=100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("page_url", sa.String(length=500), nullable=True),
        sa.Column("embedded_from", sa.String(length=300), nullable=True),
        sa.Column("requested_from", sa.String(length=64), nullable=True),
        sa.Column("created_at", mailer.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", mailer.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["meeting_id"], ["meetings.id"], name="fk_signup_requests_meeting_id_meetings"),
        sa.ForeignKeyConstraint(["series_id"], ["series.id"], name="fk_signup_requests_series_id_series"),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name="fk_signup_requests_organisation_id_organisations",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
    )
    with op.batch_alter_table("signup_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signup_requests_email"), ["email"], unique=False)
        batch_op.create_index(batch_op.f("ix_signup_requests_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_signup_requests_meeting_id"), ["meeting_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_signup_requests_series_id"), ["series_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signup_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signup_requests_series_id"))
        batch_op.drop_index(batch_op.f("ix_signup_requests_meeting_id"))
        batch_op.drop_index(batch_op.f("ix_signup_requests_expires_at"))
        batch_op.drop_index(batch_op.f("ix_signup_requests_email"))
    op.drop_table("signup_requests")
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_records_contact_id"))
    op.drop_table("consent_records")
