"""Sending the outbox: claim due rows in batches, send over one connection, record each outcome.

Delivery guarantee. A row is marked `sending` (committed) before its SMTP transaction and
`sent` (committed) right after the server accepted it. If the process dies in between, the
row is found in `sending` on restart, flagged `uncertain` and sent again: at-least-once with
a one-message window per worker. A row is never marked sent before the server accepted it.

One commit per message keeps that window at one message: the commit that records message
n's outcome also marks message n+1 `sending`, right before its SMTP transaction, so a worker
never has more than one row in `sending`. Everything else is batched: a claimed batch is
loaded in a few queries (batch.py), and its messages are built by one Composer per template
and meeting (mail/compose.py), the same path previews and test sends take.

Whose fault a refusal is decides what happens (mailer.mail.replies): a dead mailbox bounces and
is suppressed; a full one is tried again; a refusal by the relay for reasons of its own (quota,
policy, 421, our sender) suppresses nobody and pauses sending (relay.py, and the campaign through
its state machine) until a retry time, after which it resumes by itself. The same non-recipient
reply for three different recipients in a row is the relay's too (the circuit breaker). A relay
that does not answer: three timeouts in a row stop the batch, and every sender waits (one
minute, doubling, at most thirty); a timeout alone marks nothing sent or failed.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from mailer.audit.log import record
from mailer.campaigns import service as campaigns
from mailer.campaigns.models import Campaign, CampaignState
from mailer.campaigns.service import finish_if_done, series_of_campaigns
from mailer.claims import dead_here, worker_id
from mailer.config import Settings
from mailer.db import Database, rowcount, utcnow
from mailer.logs import mask_email
from mailer.mail.message import wire_address
from mailer.mail.replies import Fault, same_reply
from mailer.mail.templates import EmailTemplates
from mailer.mail.transport import (
    ConnectionFailure,
    MessageRejected,
    RecipientRejected,
    RelayRefused,
    RelayTimeout,
    TemporaryFailure,
    Transport,
    make_transport,
)
from mailer.mail.verp import envelope_sender
from mailer.outbox import relay
from mailer.outbox.batch import SENDABLE, Batch, Item, Row
from mailer.outbox.models import MessageState, OutboxMessage
from mailer.outbox.ratelimit import LimitReached, SharedRateLimiter
from mailer.outbox.record import Ledger, Outcome

log = logging.getLogger(__name__)

DELAYS = (60, 300, 900, 3600, 3 * 3600)  # seconds to wait before the 2nd, 3rd, … try
MAX_TRIES = len(DELAYS) + 1
# A claim older than this belongs to a dead worker. A live one renews its claims every
# quarter of it, so a worker that died on another host frees its rows within two minutes.
LEASE = dt.timedelta(minutes=2)
FLUSH_BEFORE_WAIT = 0.02  # seconds: record the last outcome before sleeping for a rate-limit slot
TIMEOUTS_IN_A_ROW = 3  # then the batch stops and every sender waits (relay.py)
BREAKER = 3  # the same non-recipient reply for this many different recipients in a row pauses sending
WORKER = "worker"  # the audit log's actor for pauses


@dataclass
class BatchResult:
    claimed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    connection_error: str | None = None
    paused_until: dt.datetime | None = None  # the relay is paused: nothing to send before then

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
        self.transport = transport or make_transport(
            settings.smtp_url, settings.outbox_path, settings.smtp_timeout, settings.smtp_connect_timeout
        )
        self.delays = DELAYS if delays is None else delays
        self.owner = owner or worker_id()
        self.limiter = SharedRateLimiter(
            database,
            settings.send_rate_per_minute,
            per_hour=settings.send_limit_per_hour,
            per_day=settings.send_limit_per_day,
        )
        self.timeouts = 0  # timeouts in a row, across batches
        self.streak: tuple[str | None, set[str]] = (None, set())  # the circuit breaker's reply and recipients
        self.relay_troubled = False  # a relay pause is on record: the next accepted message clears it
        self.held: set[int] = set()  # campaigns paused during this batch: their rows are left alone
        # Pauses a send called for, applied once its outcome is recorded: (scope, reason, reply, campaign, until).
        self._holds: list[tuple[str, str, str, int | None, dt.datetime | None]] = []
        self.ledger = Ledger(database, self.owner, LEASE)

    # -- claiming -------------------------------------------------------------------------
    def recover(self) -> int:
        """Take back what dead workers held: their claims, and their in-flight rows.

        A worker is dead when its lease ran out, or at once when it ran on this
        host and its process is gone. In-flight (`sending`) rows are flagged
        uncertain and sent again: the server may or may not have accepted them.
        """
        stale = utcnow() - LEASE
        with self.db.transaction() as session:
            owners = set(
                session.scalars(
                    select(OutboxMessage.claimed_by).distinct().where(OutboxMessage.claimed_by.is_not(None))
                )
            )
            dead = [owner for owner in owners if owner is not None and owner != self.owner and dead_here(owner)]
            held_by_dead = or_(OutboxMessage.claimed_at < stale, OutboxMessage.claimed_by.in_(dead))
            in_flight = rowcount(
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.state == MessageState.SENDING, held_by_dead)
                    .values(state=MessageState.QUEUED, uncertain=True, claimed_by=None, claimed_at=None)
                )
            )
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.claimed_by.is_not(None), held_by_dead)
                .values(claimed_by=None, claimed_at=None)
            )
        if in_flight:
            log.warning(
                "%d message(s) were in flight when a worker stopped; they are sent again and flagged uncertain",
                in_flight,
            )
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
            session.execute(
                update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(claimed_by=self.owner, claimed_at=now)
            )
        return ids

    def _release(self, ids: list[int]) -> None:
        if ids:
            with self.db.transaction() as session:
                session.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id.in_(ids),
                        OutboxMessage.claimed_by == self.owner,
                        OutboxMessage.state != MessageState.SENDING,
                    )
                    .values(claimed_by=None, claimed_at=None)
                )

    # -- sending --------------------------------------------------------------------------
    def run_once(self, campaign_id: int | None = None, template: str | None = None) -> BatchResult:
        """Claim one batch of due rows (of one campaign or template, if given) and send it."""
        result = BatchResult()
        self.held = set()
        with self.db.transaction() as session:
            for resumed in campaigns.resume_due(session):
                log.info("campaign %s: retry time reached, sending again", resumed)
            if self.transport.rate_limited:
                held = relay.current_pause(session)
                if held is not None:
                    result.paused_until = held.until
                    return result
                self.relay_troubled = relay.troubled(session)
            ids = self._claim(session, campaign_id, template)
        result.claimed = len(ids)
        if not ids:
            return result
        try:
            self.transport.connect()
        except RelayTimeout as exc:
            self._release(ids)
            self._timed_out(exc.reply, None, result)
            result.connection_error = exc.reply
            return result
        except ConnectionFailure as exc:
            self._release(ids)
            result.connection_error = exc.reply
            log.warning("mail server unavailable: %s", exc.reply)
            if exc.verdict is not None and exc.verdict.pauses:  # e.g. 535 5.7.8: our login is refused
                self._hold_relay(exc.verdict.reason, exc.reply, None, result)
            return result
        with self.db.transaction() as session:
            batch = Batch(session, self.settings, self.templates, self.owner, ids, series_of_campaigns)
        done: list[Outcome] = []
        try:
            with self.db.engine.connect() as self.ledger.connection:  # one connection for the batch's commits
                for position, row in enumerate(batch.rows):
                    if row.campaign_id in self.held:
                        continue  # its campaign was paused meanwhile: the rows stay queued
                    done = self._one(batch, row, len(batch.rows) - position, done, result)
                    if result.connection_error or result.paused_until:
                        break
                self.ledger.commit(done, None)
                done = []
        finally:
            self.ledger.connection = None
            if done:  # an error escaped: keep what is known, free the rest for other workers
                self.ledger.commit(done, None)
            self._release(ids)
        touched = {row.campaign_id for row in batch.rows if row.campaign_id is not None}
        if touched:
            with self.db.transaction() as session:
                for touched_id in touched:
                    campaign = session.get(Campaign, touched_id)
                    if campaign is not None:  # rows keep their campaign: it is never deleted
                        finish_if_done(session, campaign)
        return result

    def _one(self, batch: Batch, row: Row, upcoming: int, done: list[Outcome], result: BatchResult) -> list[Outcome]:
        """Send one row; returns the outcomes not yet committed."""
        item = batch.prepare(row)
        if item.skip is None and self.transport.rate_limited:
            try:
                if done and self.limiter.delay(upcoming) > FLUSH_BEFORE_WAIT:
                    self.ledger.commit(done, None)  # a kill while waiting must not leave a sent row in `sending`
                    done = []
                self.limiter.wait(upcoming)
            except LimitReached as exc:  # the relay's hour or day is full: every sender waits for room
                self.ledger.commit(done, None)
                until = dt.datetime.fromtimestamp(exc.until, dt.UTC)
                with self.db.transaction() as session:
                    result.paused_until = relay.pause(session, relay.LIMIT, None, until).until
                log.info("sending limit per %s reached; the rest goes out from %s", exc.window, until.isoformat())
                return []
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
        outcome = self._send(item, result)
        if outcome.state is MessageState.SENT:
            batch.sent(row)
            self._went_through(item)
        if outcome.state is not MessageState.QUEUED:
            result.count(outcome.state)
        if result.connection_error or self._holds:
            self.ledger.commit([outcome], None)  # recorded before the pause, which has its own transaction
            self._apply_holds(result)
            return []
        return [outcome]

    def _send(self, item: Item, result: BatchResult) -> Outcome:
        """The SMTP transaction, outside any database transaction; a pause it calls for is noted
        (self._holds) and applied by the caller once the outcome is recorded."""
        attempt = item.attempts + 1
        self._holds = []
        assert item.to_email is not None and item.data is not None, "only built items are sent (batch.py)"
        try:
            self.transport.send(
                wire_address(self._envelope_sender(item)), wire_address(item.to_email), item.data, item.message_id
            )
        except RecipientRejected as exc:
            self._streak_ends()
            return self._logged(Outcome(item, MessageState.BOUNCED, exc.reply, sent=True))
        except RelayRefused as exc:
            verdict = exc.verdict
            if verdict.fault is Fault.RELAY or self._breaks(exc.reply, item):
                # Not this message's fault: it goes back to the queue without using an attempt.
                self._holds.append(
                    (
                        "relay",
                        verdict.reason if verdict.fault is Fault.RELAY else "breaker",
                        exc.reply,
                        item.campaign_id,
                        None,
                    )
                )
                return self._logged(Outcome(item, MessageState.QUEUED, exc.reply, sent=True, attempts=item.attempts))
            until = utcnow() + relay.wait_for(verdict.reason)
            if item.campaign_id is not None:
                self._holds.append(("campaign", verdict.reason, exc.reply, item.campaign_id, until))
            return self._retry(item, attempt, exc.reply, not_before=until)
        except MessageRejected as exc:
            if self._breaks(exc.reply, item):
                self._holds.append(("relay", "breaker", exc.reply, item.campaign_id, None))
                return self._logged(Outcome(item, MessageState.QUEUED, exc.reply, sent=True, attempts=item.attempts))
            return self._logged(Outcome(item, MessageState.FAILED, exc.reply, sent=True))
        except RelayTimeout as exc:
            # Nothing is known: neither sent nor failed, and no attempt used; flagged uncertain when
            # the whole message may have reached the server.
            self._timed_out(exc.reply, item, result)
            return self._logged(
                Outcome(
                    item,
                    MessageState.QUEUED,
                    exc.reply,
                    sent=True,
                    attempts=item.attempts,
                    uncertain=True if exc.maybe_delivered else None,
                )
            )
        except ConnectionFailure as exc:
            # No connection could be made: nothing of the message left, so no attempt is used;
            # the row goes back to the queue and the batch stops (the worker backs off).
            result.connection_error = exc.reply
            if exc.verdict is not None and exc.verdict.pauses:
                self._holds.append(("relay", exc.verdict.reason, exc.reply, item.campaign_id, None))
            return self._logged(Outcome(item, MessageState.QUEUED, exc.reply, sent=True, attempts=item.attempts))
        except TemporaryFailure as exc:
            if exc.verdict is not None and exc.verdict.fault is Fault.SOFT:
                self._streak_ends()
            elif exc.verdict is not None and self._breaks(exc.reply, item):
                self._holds.append(("relay", "breaker", exc.reply, item.campaign_id, None))
                return self._logged(Outcome(item, MessageState.QUEUED, exc.reply, sent=True, attempts=item.attempts))
            return self._retry(item, attempt, exc.reply)
        return Outcome(item, MessageState.SENT, sent=True)

    def _envelope_sender(self, item: Item) -> str:
        """Bounces come back to a per-message tagged address (VERP) when a bounce address is set."""
        settings = self.settings
        return envelope_sender(settings.bounce_address, settings.mail_from.addr_spec, settings.secret_key, item.id)

    def _retry(self, item: Item, attempt: int, reply: str, not_before: dt.datetime | None = None) -> Outcome:
        """Try again after the attempt's delay (counted from `not_before`, a pause's end), or fail after the last."""
        if attempt < len(self.delays) + 1:
            retry_at = (not_before or utcnow()) + dt.timedelta(seconds=self.delays[attempt - 1])
            return self._logged(Outcome(item, MessageState.RETRYING, reply, retry_at, sent=True))
        return self._logged(Outcome(item, MessageState.FAILED, reply, sent=True))

    # -- pauses ---------------------------------------------------------------------------
    def _breaks(self, reply: str, item: Item) -> bool:
        """The circuit breaker: True at the BREAKER-th different recipient in a row with this reply."""
        key = same_reply(reply)
        recipients = self.streak[1] if self.streak[0] == key else set()
        recipients.add((item.to_email or "").lower())
        self.streak = (key, recipients)
        if len(recipients) >= BREAKER:
            self._streak_ends()
            return True
        return False

    def _streak_ends(self) -> None:
        self.streak = (None, set())

    def _went_through(self, item: Item) -> None:
        self.timeouts = 0
        self._streak_ends()
        if self.relay_troubled:
            with self.db.transaction() as session:
                relay.clear(session)
            self.relay_troubled = False

    def _timed_out(self, reply: str, item: Item | None, result: BatchResult) -> None:
        self.timeouts += 1
        log.warning("mail server did not answer (%d in a row): %s", self.timeouts, reply)
        if self.timeouts >= TIMEOUTS_IN_A_ROW:
            self.timeouts = 0
            result.connection_error = reply
            self._holds.append(("relay", relay.TIMEOUT, reply, item.campaign_id if item else None, None))
            if item is None:
                self._apply_holds(result)

    def _apply_holds(self, result: BatchResult) -> None:
        holds, self._holds = self._holds, []
        for scope, reason, reply, campaign_id, until in holds:
            if scope == "relay":
                self._hold_relay(reason, reply, campaign_id, result)
            else:
                assert campaign_id is not None and until is not None, "a campaign's hold names it and its end"
                self._hold_campaign(reason, reply, campaign_id, until)

    def _hold_relay(self, reason: str, reply: str, campaign_id: int | None, result: BatchResult) -> None:
        """Every sender stops until the retry time; the campaign that heard it is paused with the reply."""
        now = utcnow()
        with self.db.transaction() as session:
            held = relay.pause(session, reason, reply, now=now)
            campaign = session.get(Campaign, campaign_id) if campaign_id is not None else None
            if campaign is not None and reason != relay.TIMEOUT:  # a timeout is no reply: the page says so
                campaigns.pause(session, campaign, reason, reply, held.until)
            if held.since == now and (
                reason != relay.TIMEOUT or held.strikes <= 1
            ):  # new (timeouts: the first in a row)
                record(
                    session,
                    WORKER,
                    "sending.pause",
                    f"campaign:{campaign_id}" if campaign_id else None,
                    reason=reason,
                    until=held.until.isoformat(),
                    status=_status(reply),
                )
        result.paused_until = held.until
        self.relay_troubled = True
        log.warning("sending paused until %s (%s): %s", held.until.isoformat(), reason, reply)

    def _hold_campaign(self, reason: str, reply: str, campaign_id: int, until: dt.datetime) -> None:
        with self.db.transaction() as session:
            campaign = session.get(Campaign, campaign_id)
            if campaign is not None and campaigns.pause(session, campaign, reason, reply, until):
                record(
                    session,
                    WORKER,
                    "campaign.pause",
                    f"campaign:{campaign_id}",
                    reason=reason,
                    until=until.isoformat(),
                    status=_status(reply),
                )
        self.held.add(campaign_id)
        log.warning("campaign %s paused until %s (%s): %s", campaign_id, until.isoformat(), reason, reply)

    @staticmethod
    def _logged(outcome: Outcome) -> Outcome:
        log.info(
            "message %s to %s: %s (%s)",
            outcome.item.id,
            mask_email(outcome.item.to_email),
            outcome.state.value,
            outcome.error,
        )
        return outcome

    def close(self) -> None:
        self.transport.close()


def _status(reply: str) -> str | None:
    """The reply's codes only, for the audit log (a reply may quote an address; the log keeps none)."""
    from mailer.mail.replies import enhanced_status

    return (
        " ".join(filter(None, (reply.split(" ", 1)[0] if reply[:3].isdigit() else None, enhanced_status(reply))))
        or None
    )
