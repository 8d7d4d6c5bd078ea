"""One claimed batch of outbox rows, loaded in a few queries and turned into message bytes.

Why batches: loading each row with its contact, organisations, suppression and "mailed
before?" check costs about eight queries a message, more than building the message. Here a
batch of a hundred rows costs six queries in all, and messages to contacts are built by one
Composer per template and meeting in the batch (mail/compose.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.config import Settings
from mailer.contacts.models import Contact, Membership, Organisation, Suppression, SuppressionReason, address_hash
from mailer.mail.compose import Composer, compose_staff
from mailer.mail.message import new_message_id
from mailer.mail.templates import ADDRESSED_TEMPLATES, SERVICE_TEMPLATES, EmailTemplates, TemplateProblem
from mailer.meetings.models import Meeting, Series
from mailer.outbox.models import MessageState, OutboxMessage

SENDABLE = (MessageState.QUEUED, MessageState.RETRYING)


@dataclass
class Item:
    """What the send loop needs of one row: nothing here touches the database again."""

    id: int
    campaign_id: int | None
    template: str
    attempts: int
    message_id: str  # the row's stored one, or a new one stored when the row is marked `sending`
    to_email: str | None = None
    data: bytes | None = None
    address_hash: str | None = None  # checked against suppressions once more when marked sending
    skip: str | None = None  # why it is final without a send (suppressed, erased)
    failure: str | None = None  # why it could not be built


@dataclass
class Recipient:
    """A contact as the composer and the templates read it (duck-typed), loaded by plain queries:
    building ORM objects for a batch cost more than building its messages."""

    id: int
    email: str
    name: str | None
    language: str | None
    link_key: str
    memberships: list[SimpleNamespace] = field(default_factory=list)


@dataclass
class Row:
    id: int
    campaign_id: int | None
    contact_id: int | None
    meeting_id: int | None
    template: str
    to_email: str | None
    extra: dict[str, Any] | None
    attempts: int
    message_id: str | None
    contact: Recipient | None = None


# (session, campaign ids) -> {campaign id: its series}, for the campaigns that invite to a series
SeriesLookup = Callable[[Session, set[int]], dict[int, Series]]


class Batch:
    def __init__(
        self,
        session: Session,
        settings: Settings,
        templates: EmailTemplates,
        owner: str,
        ids: list[int],
        series_of_campaigns: SeriesLookup | None = None,
    ):
        self.settings, self.templates = settings, templates.for_sending()
        message = OutboxMessage
        self.rows = [
            Row(*row)
            for row in session.execute(
                select(
                    message.id,
                    message.campaign_id,
                    message.contact_id,
                    message.meeting_id,
                    message.template,
                    message.to_email,
                    message.extra,
                    message.attempts,
                    message.message_id,
                )
                .where(message.id.in_(ids), message.claimed_by == owner, message.state.in_(SENDABLE))
                .order_by(message.id)
            )
        ]
        contact_ids = list({row.contact_id for row in self.rows if row.contact_id is not None})
        contacts = (
            {
                row[0]: Recipient(*row)
                for row in session.execute(
                    select(Contact.id, Contact.email, Contact.name, Contact.language, Contact.link_key).where(
                        Contact.id.in_(contact_ids)
                    )
                )
            }
            if contact_ids
            else {}
        )
        if contacts:
            for contact_id, name in session.execute(
                select(Membership.contact_id, Organisation.name)
                .join(Organisation)
                .where(Membership.contact_id.in_(contact_ids))
            ):
                contacts[contact_id].memberships.append(SimpleNamespace(organisation=SimpleNamespace(name=name)))
        for row in self.rows:
            row.contact = contacts.get(row.contact_id) if row.contact_id is not None else None
        hashes = [address_hash(recipient.email) for recipient in contacts.values()]
        self.suppressed = (
            dict(
                session.execute(
                    select(Suppression.address_hash, Suppression.reason).where(Suppression.address_hash.in_(hashes))
                ).all()
            )
            if hashes
            else {}
        )
        self.mailed = (
            set(
                session.scalars(
                    select(OutboxMessage.contact_id)
                    .distinct()
                    .where(OutboxMessage.contact_id.in_(contact_ids), OutboxMessage.state == MessageState.SENT)
                )
            )
            if contact_ids
            else set()
        )
        meeting_ids = {row.meeting_id for row in self.rows if row.meeting_id}
        self.meetings = (
            {meeting.id: meeting for meeting in session.scalars(select(Meeting).where(Meeting.id.in_(meeting_ids)))}
            if meeting_ids
            else {}
        )
        # A round to a series has no meeting on its rows: its campaign names the series. Campaigns
        # sit above the outbox, so the sender passes the lookup in (campaigns.service.series_of_campaigns).
        campaign_ids = {row.campaign_id for row in self.rows if row.campaign_id and not row.meeting_id}
        self.series: dict[int, Series] = (
            series_of_campaigns(session, campaign_ids) if campaign_ids and series_of_campaigns else {}
        )
        self.composers: dict[tuple[str, int | None, int | None], Composer] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def prepare(self, row: Row) -> Item:
        """The row's address, or why it is skipped; the message is built later, by `build`."""
        message_id = row.message_id or new_message_id(self.settings.mail_from.domain)
        item = Item(row.id, row.campaign_id, row.template, row.attempts, message_id)
        contact = row.contact
        if contact is None:
            if row.template in ADDRESSED_TEMPLATES and row.to_email:
                item.to_email = row.to_email
            else:
                item.skip = "address suppressed or erased before sending"
            return item
        item.to_email, item.address_hash = contact.email, address_hash(contact.email)
        reason = self.suppressed.get(item.address_hash)
        if reason is not None and row.template in SERVICE_TEMPLATES and reason == SuppressionReason.UNSUBSCRIBED:
            # Service mail about a meeting they signed up for: unsubscribing from invitations does not
            # stop it, so it is not checked against the suppression again when marked sending.
            item.address_hash = None
        elif reason is not None:
            item.skip = "address suppressed or erased before sending"
        return item

    def build(self, row: Row, item: Item) -> None:
        """The message's bytes, built just before its send so that its Date is current."""
        try:
            item.data = self._build(row, item)
        except (TemplateProblem, ValueError) as exc:
            item.failure = f"could not build the message: {exc}"

    def sent(self, row: Row) -> None:
        """A later row to the same person in this batch is not their first message any more."""
        if row.contact_id is not None:
            self.mailed.add(row.contact_id)

    def _build(self, row: Row, item: Item) -> bytes:
        contact = row.contact
        if contact is None:
            assert row.to_email is not None
            return compose_staff(
                self.settings,
                self.templates,
                template=row.template,
                to_email=row.to_email,
                context=row.extra or {},
                message_id=item.message_id,
            )
        series = self.series.get(row.campaign_id) if row.campaign_id else None
        key = (row.template, row.meeting_id, series.id if series else None)
        if key not in self.composers:
            meeting = self.meetings.get(row.meeting_id) if row.meeting_id else None
            self.composers[key] = Composer(self.settings, self.templates, row.template, meeting, series)
        return self.composers[key].compose(contact, contact.id not in self.mailed, item.message_id, row.extra)
