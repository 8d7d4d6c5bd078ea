"""Reading reports (scan) and acting on them (process): the one owner of what a bounce changes.

Only a signed tag on our bounce address (verp.py), or the random Message-ID stored with an outbox
row, makes a report ours, naming the row and so the contact; an address in the report's text never does. What a report of ours changes:
- hard: the contact's address is suppressed (reason bounced; the code and the server's words kept);
- soft that counts (full mailbox, expiry, no code): counted; `soft_bounce_limit` of them within
  SOFT_WINDOW suppress the address;
- soft that is the sender's, the relay's or the message's fault, and delay warnings: recorded only;
- complaint (ARF): the address is unsubscribed;
- auto-replies and other mail: nothing;
- a report about a staff test mail (its signed test tag): nothing, reported as `test-mail`.
Each report is applied in its own transaction, once: its fingerprint is unique.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailer.bounces.models import DELAYED, BounceEvent
from mailer.bounces.reading import COMPLAINT, HARD, NOT_BOUNCE, SOFT, Reading, read_message
from mailer.bounces.sources import Incoming, open_source
from mailer.config import Settings
from mailer.contacts.models import Contact, SuppressionReason
from mailer.contacts.subscriptions import suppress
from mailer.db import Database, utcnow
from mailer.logs import mask_email
from mailer.mail.verp import TEST_PREFIX, tagged_message_ids
from mailer.outbox.models import OutboxMessage

log = logging.getLogger(__name__)
SOFT_WINDOW = dt.timedelta(days=30)


@dataclass
class Report:
    """One line of `mailer bounces scan/process`; the JSON fields are a documented interface."""

    file: str
    kind: str
    recipients: list[str]
    status: str | None
    contact_id: int | None
    # what process did (None for scan): suppressed, counted, unsubscribed, recorded, nothing, already-processed
    action: str | None = None
    soft_count: int | None = None  # with counted/suppressed by soft bounces: how many within 30 days
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _ours(session: Session, settings: Settings, reading: Reading) -> OutboxMessage | None:
    """The outbox row of a message to a contact that the report is about: named by a correctly
    signed tag, or by the random Message-ID stored with the row (quoted in the report, or in its
    In-Reply-To/References), which nobody but the recipient has seen either."""
    if not reading.trusted or reading.kind == NOT_BOUNCE:
        return None  # a reply by a person, or anything else, is not a report about our message
    if settings.bounce_address:
        keys = (settings.secret_key, *settings.old_secret_keys)
        for row_id in tagged_message_ids(reading.tag_text, settings.bounce_address, keys):
            row = session.get(OutboxMessage, row_id)
            if row is not None and row.contact_id is not None:
                return row
    for message_id in reading.original_ids:
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.message_id == message_id))
        if row is not None and row.contact_id is not None:
            return row
    return None


def _test_mail_campaign(settings: Settings, reading: Reading) -> int | None:
    """The campaign whose staff test mail the report is about (its signed test tag), if any."""
    if not settings.bounce_address or not reading.trusted or reading.kind == NOT_BOUNCE:
        return None
    keys = (settings.secret_key, *settings.old_secret_keys)
    found = tagged_message_ids(reading.tag_text, settings.bounce_address, keys, TEST_PREFIX)
    return found[0] if found else None


def scan(session: Session, settings: Settings, incoming: Incoming) -> Report:
    """What the message is and whose; changes nothing."""
    reading = read_message(incoming.data, incoming.truncated)
    row = _ours(session, settings, reading)
    return Report(
        incoming.label,
        reading.kind,
        reading.recipients,
        reading.status,
        row.contact_id if row is not None else None,
        problem=reading.problem,
    )


def apply(session: Session, settings: Settings, incoming: Incoming, now: dt.datetime | None = None) -> Report:
    """Scan, then act on a report of ours (see the module docstring)."""
    now = now or utcnow()
    reading = read_message(incoming.data, incoming.truncated)
    row = _ours(session, settings, reading)
    report = Report(
        incoming.label,
        reading.kind,
        reading.recipients,
        reading.status,
        row.contact_id if row is not None else None,
        action="nothing",
        problem=reading.problem,
    )
    if row is None and reading.kind in (HARD, SOFT, COMPLAINT):
        test_campaign = _test_mail_campaign(settings, reading)
        if test_campaign is not None:  # a staff test mail's report: held against nobody
            report.action = "test-mail"
            log.info("bounce report %s: %s for a test mail of campaign %d", incoming.label, reading.kind, test_campaign)
            return report
    if row is None or reading.kind not in (HARD, SOFT, COMPLAINT):
        return report
    contact = session.get(Contact, row.contact_id)
    if contact is None or contact.is_erased:
        return report
    fingerprint = hashlib.sha256(incoming.data).hexdigest()
    if session.scalar(select(BounceEvent.id).where(BounceEvent.fingerprint == fingerprint)) is not None:
        report.action = "already-processed"
        return report
    kind = DELAYED if reading.delayed else reading.kind
    session.add(
        BounceEvent(
            fingerprint=fingerprint,
            contact_id=contact.id,
            message_id=row.id,
            kind=kind,
            status=reading.status,
            counts=reading.kind == SOFT and reading.counts,
            reply=reading.reply,
            created_at=now,
        )
    )
    session.flush()
    report.action, report.soft_count = _act(session, settings, contact, reading, now)
    log.info("bounce report %s: %s for %s: %s", incoming.label, reading.kind, mask_email(contact.email), report.action)
    return report


def _act(
    session: Session, settings: Settings, contact: Contact, reading: Reading, now: dt.datetime
) -> tuple[str, int | None]:
    if reading.kind == COMPLAINT:
        suppress(
            session,
            contact.email,
            SuppressionReason.UNSUBSCRIBED,
            "complaint (ARF feedback report)",
            source="complaint",
        )
        return "unsubscribed", None
    if reading.kind == HARD:
        suppress(session, contact.email, SuppressionReason.BOUNCED, _detail(reading), source="bounce_report")
        return "suppressed", None
    if not reading.counts:  # the sender's, relay's or message's fault, or a delay warning
        return "recorded", None
    count = (
        session.scalar(
            select(func.count())
            .select_from(BounceEvent)
            .where(
                BounceEvent.contact_id == contact.id,
                BounceEvent.counts.is_(True),
                BounceEvent.created_at > now - SOFT_WINDOW,
            )
        )
        or 0
    )
    if count >= settings.soft_bounce_limit:
        suppress(
            session,
            contact.email,
            SuppressionReason.BOUNCED,
            f"{count} soft bounces in {SOFT_WINDOW.days} days; last: {_detail(reading)}",
            source="bounce_report",
        )
        return "suppressed", count
    return "counted", count


def _detail(reading: Reading) -> str:
    """What the suppression keeps: the code and the server's words (the report's reply)."""
    return " ".join(part for part in (reading.status, reading.reply) if part)[:1000] or reading.kind


def scan_path(database: Database, settings: Settings, path: Path) -> Iterator[Report]:
    """Raises SourceError at once when PATH cannot be read; then one report per message."""
    messages = open_source(path)

    def reports() -> Iterator[Report]:
        for incoming in messages:
            with database.transaction() as session:
                report = scan(session, settings, incoming)
            yield report

    return reports()


def process_path(database: Database, settings: Settings, path: Path) -> Iterator[Report]:
    """Like scan_path, applied; each Maildir message moves to done/ once its report is committed."""
    messages = open_source(path)

    def reports() -> Iterator[Report]:
        for incoming in messages:
            report = process_one(database, settings, incoming)
            if incoming.done is not None:
                incoming.done()
            yield report

    return reports()


def process_one(database: Database, settings: Settings, incoming: Incoming) -> Report:
    """Apply one report in its own transaction. The same report applied by two readers at once
    (two workers, or a run by hand racing the worker) is applied once: the loser of the unique
    fingerprint tries again and finds it already processed."""
    try:
        with database.transaction() as session:
            return apply(session, settings, incoming)
    except IntegrityError:
        with database.transaction() as session:
            return apply(session, settings, incoming)
