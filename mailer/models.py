"""Every table, imported in one place so Alembic and tests see the whole schema."""

from mailer.campaigns.models import Campaign, CampaignState
from mailer.contacts.models import Contact, ImportRejection, Membership, Organisation, Suppression, SuppressionReason
from mailer.meetings.models import Meeting
from mailer.outbox.models import MessageState, OutboxMessage
from mailer.rsvp.models import Answer, LinkOpen, Response, ResponseChange

__all__ = [
    "Answer", "Campaign", "CampaignState", "Contact", "ImportRejection", "LinkOpen", "Meeting",
    "Membership", "MessageState", "Organisation", "OutboxMessage", "Response", "ResponseChange",
    "Suppression", "SuppressionReason",
]
