"""One claimed batch of outbox rows, loaded in a few queries and turned into message bytes.

Why batches: loading each row with its contact, organisations, suppression and "mailed
before?" check costs about eight queries a message, more than building the message. Here a
batch of a hundred rows costs six queries in all, and messages to contacts are built by the
FastComposer (one per template and meeting in the batch).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.config import Settings
from mailer.contacts.models import Contact, Membership, Organisation, Suppression, SuppressionReason, address_hash
from mailer.mail.message import flatten, stable_message_id
from mailer.mail.templates import SERVICE_TEMPLATES, EmailTemplates, TemplateProblem
from mailer.meetings.models import Meeting
from mailer.outbox.compose import STAFF_TEMPLATES, compose, compose_staff
from mailer.outbox.fast import FastComposer
from mailer.outbox.models import MessageState, OutboxMessage
from mailer.outbox.pool import BuildPool, Job

log = logging.getLogger(__name__)

SENDABLE = (MessageState.QUEUED, MessageState.RETRYING)


@dataclass
class Item:
    """What the send loop needs of one row: nothing here touches the database again."""

    id: int
    campaign_id: int | None
    template: str
    attempts: int
    message_id: str
    to_email: str | None = None
    data: bytes | None = None
    address_hash: str | None = None  # checked against suppressions once more when marked sending
    skip: str | None = None  # why it is final without a send (suppressed, erased)
    failure: str | None = None  # why it could not be built


@dataclass
class Recipient:
    """A contact as compose() and the templates read it (duck-typed), loaded by plain queries:
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
    extra: dict | None
    attempts: int
    contact: Recipient | None = None


class Batch:
    def __init__(self, session: Session, settings: Settings, templates: EmailTemplates, owner: str, ids: list[int],
                 composers: dict[tuple, FastComposer]):
        self.settings, self.templates, self.composers = settings, templates, composers
        t = OutboxMessage
        self.rows = [Row(*r) for r in session.execute(
            select(t.id, t.campaign_id, t.contact_id, t.meeting_id, t.template, t.to_email, t.extra, t.attempts)
            .where(t.id.in_(ids), t.claimed_by == owner, t.state.in_(SENDABLE)).order_by(t.id))]
        contact_ids = list({r.contact_id for r in self.rows if r.contact_id is not None})
        contacts = {c[0]: Recipient(*c) for c in session.execute(
            select(Contact.id, Contact.email, Contact.name, Contact.language, Contact.link_key)
            .where(Contact.id.in_(contact_ids)))} if contact_ids else {}
        if contacts:
            for contact_id, name in session.execute(
                    select(Membership.contact_id, Organisation.name).join(Organisation)
                    .where(Membership.contact_id.in_(contact_ids))):
                contacts[contact_id].memberships.append(SimpleNamespace(organisation=SimpleNamespace(name=name)))
        for row in self.rows:
            row.contact = contacts.get(row.contact_id)
        hashes = [address_hash(c.email) for c in contacts.values()]
        self.suppressed = dict(session.execute(select(Suppression.address_hash, Suppression.reason)
                                               .where(Suppression.address_hash.in_(hashes))).all()) if hashes else {}
        self.mailed = set(session.scalars(
            select(OutboxMessage.contact_id).distinct()
            .where(OutboxMessage.contact_id.in_(contact_ids), OutboxMessage.state == MessageState.SENT)
        )) if contact_ids else set()
        meeting_ids = {r.meeting_id for r in self.rows if r.meeting_id}
        self.meetings = {m.id: m for m in session.scalars(select(Meeting).where(Meeting.id.in_(meeting_ids)))} \
            if meeting_ids else {}
        self._checked: dict[tuple, FastComposer] = {}  # this batch's composers, already checked
        self.prebuilt: dict[int, None] = {}  # rows whose messages helper processes are building
        self._results: Iterator = iter(())

    def __len__(self) -> int:
        return len(self.rows)

    def prepare(self, row: Row) -> Item:
        """The row's address, or why it is skipped; the message is built later, by `build`."""
        item = Item(row.id, row.campaign_id, row.template, row.attempts,
                    stable_message_id(row.template, row.id, self.settings.mail_from.domain))
        contact = row.contact
        if contact is None:
            if row.template in STAFF_TEMPLATES and row.to_email:
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
            message = compose_staff(self.settings, self.templates, template=row.template, to_email=row.to_email,
                                    context=row.extra or {}, message_id=item.message_id)
            return flatten(message)
        if row.id in self.prebuilt:
            data, failure = self._prebuilt(row.id)
            if failure is not None:
                raise ValueError(failure.removeprefix("could not build the message: "))
            if data is not None:
                return data
        meeting = self.meetings.get(row.meeting_id) if row.meeting_id else None
        return message_bytes(self._composer(row.template, meeting), contact, contact.id not in self.mailed,
                             item.message_id, row.extra)

    # -- building in helper processes (pool.py) ------------------------------------------------
    def prebuild(self, pool: BuildPool) -> None:
        """Hand the batch's messages to helpers; `build` then takes them in order."""
        jobs, seen = [], set()
        for row in self.rows:
            contact = row.contact
            if contact is None or contact.id in seen or address_hash(contact.email) in self.suppressed:
                continue  # a second row to one person is built here, knowing whether the first went out
            seen.add(contact.id)
            meeting = self.meetings.get(row.meeting_id) if row.meeting_id else None
            jobs.append(Job(row.template, meeting_fingerprint(meeting),
                            (contact.id, contact.email, contact.name, contact.language, contact.link_key,
                             tuple(m.organisation.name for m in contact.memberships)),
                            contact.id not in self.mailed,
                            stable_message_id(row.template, row.id, self.settings.mail_from.domain), row.extra))
            self.prebuilt[row.id] = None
        self._results = zip(list(self.prebuilt), pool.build(jobs))

    def _prebuilt(self, row_id: int) -> tuple[bytes | None, str | None]:
        try:
            for done_id, result in self._results:
                if done_id == row_id:
                    return result
        except Exception as exc:  # a helper died: build the rest here
            log.warning("message helpers failed (%s); building here", exc)
            self.prebuilt.clear()
        return None, None

    def _composer(self, template: str, meeting: Meeting | None) -> FastComposer:
        """Kept across batches (the Sender's dict) while the meeting and the templates are unchanged;
        checked once per batch (a template check is a stat() of each file)."""
        checked = (template, meeting.id if meeting is not None else None)
        if checked in self._checked:
            return self._checked[checked]
        key = (template, meeting_fingerprint(meeting))
        if key not in self.composers or not self.composers[key].up_to_date():
            self.composers[key] = FastComposer(self.settings, self.templates, template, meeting)
        self._checked[checked] = self.composers[key]
        return self.composers[key]



def message_bytes(composer: FastComposer, contact, first_message: bool, message_id: str,
                  extra: dict | None) -> bytes:
    """The fast path's bytes, or compose()'s when the fast path declines (raises TemplateProblem)."""
    data = composer.build(contact, first_message, message_id, extra)
    if data is None:
        message = compose(composer.settings, composer.templates, template=composer.template, contact=contact,
                          meeting=composer.meeting, first_message=first_message, message_id=message_id, extra=extra)
        data = flatten(message)
    return data


def meeting_fingerprint(meeting: Meeting | None) -> tuple | None:
    if meeting is None:
        return None
    return tuple(getattr(meeting, column.key) for column in Meeting.__table__.columns)
