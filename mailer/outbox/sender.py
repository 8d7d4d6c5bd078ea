"""Sending the outbox: claim due rows in batches, send over one connection, record each outcome.

Delivery guarantee. A row is marked `sending` (committed) before its SMTP transaction and
`sent` (committed) right after the server accepted it. If the process dies in between, the
row is found in `sending` on restart, flagged `uncertain` and sent again: at-least-once with
a one-message window per worker. A row is never marked sent before the server accepted it.

One commit per message keeps that window at one message: the commit that records message
n's outcome also marks message n+1 `sending`, right before its SMTP transaction, so a worker
never has more than one row in `sending`. Everything else is batched: a claimed batch is
loaded in a few queries (batch.py), outcomes are recorded with prepared statements (record.py),
and messages to contacts are built from a skeleton made once per template and meeting
(fast.py), byte for byte what compose() builds, by helper processes when the rate asks for
more than one process can build (pool.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from dataclasses import dataclass, field

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from mailer.bounces.verp import envelope_sender
from mailer.campaigns.models import Campaign, CampaignState
from mailer.campaigns.service import finish_if_done
from mailer.config import Settings
from mailer.logs import mask_email
from mailer.db import Database, utcnow
from mailer.mail.templates import EmailTemplates
from mailer.mail.transport import (
    ConnectionFailure, MessageRejected, RecipientRejected, TemporaryFailure, Transport, make_transport,
)
from mailer.outbox.batch import SENDABLE, Batch, Item, Row
from mailer.outbox.fast import FastComposer
from mailer.outbox import pool
from mailer.outbox.models import MessageState, OutboxMessage
from mailer.outbox.record import Ledger, Outcome
from mailer.outbox.ratelimit import SharedRateLimiter

log = logging.getLogger(__name__)

DELAYS = (60, 300, 900, 3600, 3 * 3600)  # seconds to wait before the 2nd, 3rd, … try
MAX_TRIES = len(DELAYS) + 1
# A claim older than this belongs to a dead worker. A live one renews its claims every
# quarter of it, so a worker that died on another host frees its rows within two minutes.
LEASE = dt.timedelta(minutes=2)
FLUSH_BEFORE_WAIT = 0.02  # seconds: record the last outcome before sleeping for a rate-limit slot


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


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
        self.limiter = SharedRateLimiter(database, settings.send_rate_per_minute)
        self.composers: dict[tuple, FastComposer] = {}
        self.ledger = Ledger(database, self.owner, LEASE)
        self.pool: pool.BuildPool | None = None

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
                OutboxMessage.state.in_(SENDABLE),
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
        if not self.db.is_sqlite:  # workers share the work: each skips the rows another is claiming
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
        with self.db.transaction() as session:
            batch = Batch(session, self.settings, self.templates, self.owner, ids, self.composers)
        helpers = pool.wanted(self.settings, len(batch))
        if helpers:
            self.pool = self.pool or pool.BuildPool(self.settings, helpers)
            batch.prebuild(self.pool)
        done: list[Outcome] = []
        try:
            with self.db.engine.connect() as self.ledger.connection:  # one connection for the batch's commits
                for position, row in enumerate(batch.rows):
                    done = self._one(batch, row, len(batch.rows) - position, done, result)
                    if result.connection_error:
                        break
                self.ledger.commit(done, None)
                done = []
        finally:
            self.ledger.connection = None
            if done:  # an error escaped: keep what is known, free the rest for other workers
                self.ledger.commit(done, None)
            self._release(ids)
        campaigns = {row.campaign_id for row in batch.rows if row.campaign_id is not None}
        if campaigns:
            with self.db.transaction() as session:
                for cid in campaigns:
                    finish_if_done(session, session.get(Campaign, cid))
        return result

    def _one(self, batch: Batch, row: Row, upcoming: int, done: list[Outcome],
             result: BatchResult) -> list[Outcome]:
        """Send one row; returns the outcomes not yet committed."""
        item = batch.prepare(row)
        if item.skip is None and self.transport.rate_limited:
            if done and self.limiter.delay(upcoming) > FLUSH_BEFORE_WAIT:
                self.ledger.commit(done, None)  # a kill while waiting must not leave a sent row in `sending`
                done = []
            self.limiter.wait(upcoming)
        if item.skip is None:
            batch.build(row, item)
        if item.skip or item.failure:
            state = MessageState.SKIPPED if item.skip else MessageState.FAILED
            result.count(state)
            return [*done, Outcome(item, state, item.skip or item.failure)]
        marked = self.ledger.commit(done, item)
        if marked is not MessageState.SENDING:  # cancelled, taken over, or suppressed meanwhile
            if marked is not None:
                result.count(marked)
            return []
        outcome = self._send(item)
        if outcome.state is MessageState.QUEUED:
            result.connection_error = outcome.error
            return [outcome]
        result.count(outcome.state)
        if outcome.state is MessageState.SENT:
            batch.sent(row)
        return [outcome]

    def _send(self, item: Item) -> Outcome:
        """The SMTP transaction, outside any database transaction."""
        attempt = item.attempts + 1
        try:
            self.transport.send(self._envelope_sender(item), envelope_address(item.to_email), item.data,
                                item.message_id)
        except RecipientRejected as exc:
            return self._logged(Outcome(item, MessageState.BOUNCED, exc.reply, sent=True))
        except MessageRejected as exc:
            return self._logged(Outcome(item, MessageState.FAILED, exc.reply, sent=True))
        except ConnectionFailure as exc:
            # No connection could be made: nothing of the message left, so no attempt is used;
            # the row goes back to the queue and the batch stops (the worker backs off).
            return self._logged(Outcome(item, MessageState.QUEUED, exc.reply, sent=True, attempts=item.attempts))
        except TemporaryFailure as exc:
            if attempt < len(self.delays) + 1:
                retry_at = utcnow() + dt.timedelta(seconds=self.delays[attempt - 1])
                return self._logged(Outcome(item, MessageState.RETRYING, exc.reply, retry_at, sent=True))
            return self._logged(Outcome(item, MessageState.FAILED, exc.reply, sent=True))
        return Outcome(item, MessageState.SENT, sent=True)

    def _envelope_sender(self, item: Item) -> str:
        """Bounces come back to a per-message tagged address (VERP) when a bounce address is set."""
        settings = self.settings
        return envelope_sender(settings.bounce_address, settings.mail_from.addr_spec, settings.secret_key, item.id)

    @staticmethod
    def _logged(outcome: Outcome) -> Outcome:
        log.info("message %s to %s: %s (%s)", outcome.item.id, mask_email(outcome.item.to_email), outcome.state.value,
                 outcome.error)
        return outcome

    def close(self) -> None:
        self.transport.close()
        if self.pool is not None:
            self.pool.close()
            self.pool = None


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
