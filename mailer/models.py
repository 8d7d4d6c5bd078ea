"""Every table, imported in one place so Alembic and tests see the whole schema."""

from mailer.attendance.models import Attendance
from mailer.audit.models import AuditEntry
from mailer.bounces.models import BounceEvent
from mailer.campaigns.models import Campaign, CampaignState
from mailer.contacts.consent import ConsentRecord, LawfulBasis
from mailer.contacts.models import (
    Contact,
    ImportRejection,
    Membership,
    Organisation,
    RetiredLinkKey,
    Suppression,
    SuppressionReason,
)
from mailer.digest.models import DigestRun
from mailer.evaluations.models import Evaluation, EvaluationReceipt
from mailer.meetings.models import Meeting, Question, QuestionKind, Series, SeriesChoice
from mailer.operations.models import BackupRecord, HealthProbe, WorkerHeartbeat
from mailer.outbox.models import MessageState, OutboxMessage
from mailer.outbox.ratelimit import SendRate, SendReservation
from mailer.outbox.relay import RelayStatus
from mailer.rsvp.models import Answer, LinkOpen, QuestionAnswer, Response, ResponseChange
from mailer.signup.models import SignupRequest
from mailer.webhooks.models import WebhookDelivery, WebhookEndpoint

__all__ = [
    "Answer",
    "Attendance",
    "AuditEntry",
    "BackupRecord",
    "BounceEvent",
    "HealthProbe",
    "Campaign",
    "DigestRun",
    "Evaluation",
    "EvaluationReceipt",
    "CampaignState",
    "Contact",
    "ImportRejection",
    "LinkOpen",
    "Meeting",
    "Membership",
    "Series",
    "SeriesChoice",
    "MessageState",
    "Organisation",
    "OutboxMessage",
    "Response",
    "ResponseChange",
    "RelayStatus",
    "RetiredLinkKey",
    "SendRate",
    "SendReservation",
    "Suppression",
    "SuppressionReason",
    "WorkerHeartbeat",
    "ConsentRecord",
    "LawfulBasis",
    "SignupRequest",
    "WebhookDelivery",
    "WebhookEndpoint",
    "Question",
    "QuestionKind",
    "QuestionAnswer",
]
