"""Sending the outbox: claim due rows in batches, send over one connection, record each outcome.

Delivery guarantee. A row is marked `sending` (committed) before its SMTP
transaction and `sent` (committed) right after the server accepted it. If the
process dies in between, the row is found in `sending` on restart, flagged
`uncertain` and sent again: at-least-once with a one-message window per
worker. A row is never marked sent before the server accepted it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Callable

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, selectinload

from mailer.campaigns.models import Campaign, CampaignState
from mailer.campaigns.service import finish_if_done
from mailer.config import Settings
from mailer.contacts.models import Contact, Membership, Suppression, SuppressionReason, address_hash
from mailer.db import Database, utcnow
from mailer.mail.message import stable_message_id
from mailer.meetings.models import Meeting
from mailer.mail.templates import EmailTemplates, TemplateProblem
from mailer.mail.transport import (
    ConnectionFailure,
    MessageRejected,
    RecipientRejected,
    TemporaryFailure,
    Transport,
    make_transport,
)
from mailer.outbox.compose import STAFF_TEMPLATES, compose, compose_staff
from mailer.outbox.models import MessageState, OutboxMessage

log = logging.getLogger(__name__)

DELAYS = (60, 300, 900, 3600, 3 * 3600)  # seconds to wait before the 2nd, 3rd, … try
MAX_TRIES = len(DELAYS) + 1
LEASE = dt.timedelta(minutes=10)  # a claim older than this belongs to a dead worker


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def redact(email: str | None) -> str:
    """Logs never carry full addresses."""
    if not email or "@" not in email:
        return "?"
    local, _, domain = email.partition("@")
    return f"{local[:1]}…@{domain}"


class RateLimiter:
    """At most `per_minute` messages a minute, spread evenly."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic, sleep=time.sleep):
        self.interval = 60.0 / per_minute
        self.clock, self.sleep = clock, sleep
        self.next_slot = 0.0

    def wait(self) -> None:
        now = self.clock()
        if now < self.next_slot:
            self.sleep(self.next_slot - now)
            now = self.next_slot
        self.next_slot = now + self.interval


@dataclass
class BatchResult:
    claimed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    connection_error: str | None = None

    def count(self, state: MessageState) -> None:
        self.outcomes[state.value] = self.outcomes.get(state.value, 0) + 1


class Sender:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        templates: EmailTemplates,
        transport: Transport | None = None,
        delays: tuple[int, ...] | None = None,
        owner: str | None = None,
    ):
        self.db = database
        self.settings = settings
        self.templates = templates
        self.transport = transport or make_transport(settings.smtp_url, settings.outbox_path, settings.smtp_timeout)
        self.delays = DELAYS if delays is None else delays
        self.owner = owner or worker_id()
        self.limiter = RateLimiter(settings.send_rate_per_minute)

    # -- claiming -------------------------------------------------------------------------
    def recover(self) -> int:
        """Take back what dead workers held: their claims, and their in-flight rows.

        A worker is dead when its lease ran out, or at once when it ran on this
        host and its process is gone. In-flight (`sending`) rows are flagged
        uncertain and sent again: the server may or may not have accepted them.
        """
        stale = utcnow() - LEASE
        with self.db.transaction() as session:
            owners = set(session.scalars(select(OutboxMessage.claimed_by).distinct()
                                         .where(OutboxMessage.claimed_by.is_not(None))))
            dead = [o for o in owners if o != self.owner and _dead_local_process(o)]
            held_by_dead = or_(OutboxMessage.claimed_at < stale, OutboxMessage.claimed_by.in_(dead))
            in_flight = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.state == MessageState.SENDING, held_by_dead)
                .values(state=MessageState.QUEUED, uncertain=True, claimed_by=None, claimed_at=None)
            ).rowcount
            session.execute(update(OutboxMessage).where(OutboxMessage.claimed_by.is_not(None), held_by_dead)
                            .values(claimed_by=None, claimed_at=None))
        if in_flight:
            log.warning("%d message(s) were in flight when a worker stopped; they are sent again "
                        "and flagged uncertain", in_flight)
        return in_flight

    def _claim(self, session: Session, campaign_id: int | None, template: str | None = None) -> list[int]:
        now = utcnow()
        running = select(Campaign.id).where(Campaign.state == CampaignState.RUNNING)
        query = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.state.in_([MessageState.QUEUED, MessageState.RETRYING]),
                OutboxMessage.next_attempt_at <= now,
                or_(OutboxMessage.claimed_by.is_(None), OutboxMessage.claimed_at < now - LEASE),
                or_(OutboxMessage.campaign_id.is_(None), OutboxMessage.campaign_id.in_(running)),
            )
            .order_by(OutboxMessage.id)
            .limit(self.settings.send_batch_size)
        )
        if campaign_id is not None:
            query = query.where(OutboxMessage.campaign_id == campaign_id)
        if template is not None:
            query = query.where(OutboxMessage.template == template)
        if not self.db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        ids = list(session.scalars(query))
        if ids:
            session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids))
                            .values(claimed_by=self.owner, claimed_at=now))
        return ids

    def _release(self, ids: list[int]) -> None:
        if ids:
            with self.db.transaction() as session:
                session.execute(update(OutboxMessage)
                                .where(OutboxMessage.id.in_(ids), OutboxMessage.claimed_by == self.owner,
                                       OutboxMessage.state != MessageState.SENDING)
                                .values(claimed_by=None, claimed_at=None))

    # -- sending --------------------------------------------------------------------------
    def run_once(self, campaign_id: int | None = None, template: str | None = None) -> BatchResult:
        """Claim one batch of due rows (of one campaign or template, if given) and send it."""
        result = BatchResult()
        with self.db.transaction() as session:
            ids = self._claim(session, campaign_id, template)
        result.claimed = len(ids)
        if not ids:
            return result
        try:
            self.transport.connect()
        except ConnectionFailure as exc:
            self._release(ids)
            result.connection_error = exc.reply
            log.warning("mail server unavailable: %s", exc.reply)
            return result
        campaigns: set[int] = set()
        for position, row_id in enumerate(ids):
            try:
                state, campaign = self._send_one(row_id)
            except ConnectionFailure as exc:
                self._release(ids[position:])
                result.connection_error = exc.reply
                break
            if state is not None:
                result.count(state)
            if campaign is not None:
                campaigns.add(campaign)
        if campaigns:
            with self.db.transaction() as session:
                for cid in campaigns:
                    finish_if_done(session, session.get(Campaign, cid))
        return result

    def _load(self, session: Session, row_id: int) -> OutboxMessage | None:
        return session.scalar(
            select(OutboxMessage)
            .where(OutboxMessage.id == row_id, OutboxMessage.claimed_by == self.owner,
                   OutboxMessage.state.in_([MessageState.QUEUED, MessageState.RETRYING]))
            .options(selectinload(OutboxMessage.contact).selectinload(Contact.memberships)
                     .selectinload(Membership.organisation))
        )

    def _send_one(self, row_id: int) -> tuple[MessageState | None, int | None]:
        # 1. Compose and mark `sending`, committed before the SMTP transaction starts.
        with self.db.transaction() as session:
            row = self._load(session, row_id)
            if row is None:  # cancelled or taken over meanwhile
                return None, None
            campaign_id = row.campaign_id
            message_id = stable_message_id(row.template, row.id, self.settings.mail_from.domain)
            try:
                built = self._build(session, row, message_id)
                if built is None:
                    self._finish(row, MessageState.SKIPPED, "address suppressed or erased before sending")
                    return MessageState.SKIPPED, campaign_id
                to_email, message = built
                data = message.as_bytes(policy=_policy(message))
            except (TemplateProblem, ValueError) as exc:
                self._finish(row, MessageState.FAILED, f"could not build the message: {exc}")
                return MessageState.FAILED, campaign_id
            row.state = MessageState.SENDING
            row.attempts += 1
            row.to_email = to_email
            attempt = row.attempts

        # 2. The SMTP transaction, outside any database transaction.
        if self.transport.rate_limited:
            self.limiter.wait()
        outcome, error = MessageState.SENT, None
        try:
            self.transport.send(self.settings.mail_from.addr_spec, envelope_address(to_email), data, message_id)
        except RecipientRejected as exc:
            outcome, error = MessageState.BOUNCED, exc.reply
        except MessageRejected as exc:
            outcome, error = MessageState.FAILED, exc.reply
        except TemporaryFailure as exc:
            outcome, error = (MessageState.RETRYING if attempt < len(self.delays) + 1 else MessageState.FAILED), exc.reply

        # 3. Record the outcome.
        with self.db.transaction() as session:
            row = session.get(OutboxMessage, row_id)
            if outcome is MessageState.RETRYING:
                row.next_attempt_at = utcnow() + dt.timedelta(seconds=self.delays[attempt - 1])
            if outcome is MessageState.BOUNCED:
                _suppress_bounced(session, to_email, error)
            self._finish(row, outcome, error)
        if error:
            log.info("message %s to %s: %s (%s)", row_id, redact(to_email), outcome.value, error)
        return outcome, campaign_id

    def _build(self, session: Session, row: OutboxMessage, message_id: str) -> tuple[str, EmailMessage] | None:
        """The address and the message, or None when there is nobody to send to any more."""
        contact = row.contact
        if contact is None:
            if row.template in STAFF_TEMPLATES and row.to_email:
                return row.to_email, compose_staff(self.settings, self.templates, template=row.template,
                                                   to_email=row.to_email, context=row.extra or {},
                                                   message_id=message_id)
            return None
        if self._suppressed(session, contact.email):
            return None
        first = not session.scalar(select(OutboxMessage.id).where(
            OutboxMessage.contact_id == contact.id, OutboxMessage.state == MessageState.SENT).limit(1))
        meeting = session.get(Meeting, row.meeting_id) if row.meeting_id else None
        return contact.email, compose(self.settings, self.templates, template=row.template, contact=contact,
                                      meeting=meeting, first_message=first, message_id=message_id, extra=row.extra)

    def _finish(self, row: OutboxMessage, state: MessageState, error: str | None) -> None:
        row.state = state
        row.last_error = error
        row.claimed_by = row.claimed_at = None
        if state is MessageState.SENT:
            row.sent_at = utcnow()

    @staticmethod
    def _suppressed(session: Session, email: str) -> bool:
        return session.scalar(select(Suppression.id).where(Suppression.address_hash == address_hash(email))) is not None

    def close(self) -> None:
        self.transport.close()


def _suppress_bounced(session: Session, email: str, reply: str | None) -> None:
    if session.scalar(select(Suppression.id).where(Suppression.address_hash == address_hash(email))) is None:
        session.add(Suppression(address_hash=address_hash(email), email=email,
                                reason=SuppressionReason.BOUNCED, detail=reply))


def _dead_local_process(owner: str) -> bool:
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def envelope_address(email: str) -> str:
    """IDN domains in their ASCII form, so any server takes them; non-ASCII local parts need SMTPUTF8."""
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.encode('idna').decode('ascii')}"


def _policy(message):
    """SMTPUTF8 only when an address needs it (å in the local part); plain SMTP otherwise."""
    from email.policy import SMTP, SMTPUTF8

    return SMTP if str(message["To"]).isascii() else SMTPUTF8
