"""Every table, imported in one place so Alembic and tests see the whole schema."""

from mailer.contacts.models import Contact, ImportRejection, Membership, Organisation, Suppression, SuppressionReason
from mailer.meetings.models import Meeting

__all__ = [
    "Contact",
    "ImportRejection",
    "Meeting",
    "Membership",
    "Organisation",
    "Suppression",
    "SuppressionReason",
]
