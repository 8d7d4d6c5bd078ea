"""GDPR: show everything held about one person, and erase it on request.

Erasure keeps the anonymous counts right: the contact row stays as an
anonymous placeholder (no address, name, phone or language; its memberships
and coarse region stay, so "invited", "yes" and "organisations represented"
do not change), every free text the person wrote is cleared, and a one-way
hash of the address goes on the suppression list, so a later import of the
same list cannot bring them back.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from mailer.contacts.csvfile import normalise_email
from mailer.contacts.models import (
    ERASED_DOMAIN,
    Contact,
    Membership,
    Suppression,
    SuppressionReason,
    address_hash,
    new_link_key,
)
from mailer.db import utcnow
from mailer.evaluations.models import Evaluation, EvaluationReceipt
from mailer.meetings.models import Meeting
from mailer.outbox.compose import STAFF_TEMPLATES
from mailer.outbox.models import OutboxMessage
from mailer.rsvp.models import LinkOpen, Response, ResponseChange
from mailer.tracking.models import Attendance

ERASED_TEXT = "[raderad]"


def _find(session: Session, email: str) -> Contact:
    try:
        key = normalise_email(email)
    except ValueError:
        key = email.strip().lower()
    contact = session.scalar(select(Contact).where(Contact.email == key)
                             .options(selectinload(Contact.memberships).selectinload(Membership.organisation)))
    if contact is None:
        raise LookupError(f"no contact with address {email.strip()!r}")
    return contact


def _when(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def export_person(session: Session, email: str) -> dict[str, Any]:
    """Everything held about one person, as plain JSON-able data (GDPR Art. 15)."""
    contact = _find(session, email)
    meetings = {m.id: m.slug for m in session.scalars(select(Meeting))}
    suppression = session.scalar(select(Suppression).where(Suppression.address_hash == address_hash(contact.email)))
    responses = session.scalars(select(Response).where(Response.contact_id == contact.id)
                                .options(selectinload(Response.history))).all()
    return {
        "contact": {"email": contact.email, "name": contact.name, "language": contact.language,
                    "region": contact.region, "phone": contact.phone, "created_at": _when(contact.created_at),
                    "updated_at": _when(contact.updated_at)},
        "memberships": [{"organisation": m.organisation.slug, "organisation_name": m.organisation.name,
                         "role": m.role, "name": m.name, "title": m.title, "region": m.region,
                         "since": _when(m.created_at)} for m in contact.memberships],
        "messages": [{"template": m.template, "campaign": m.campaign_id, "meeting": meetings.get(m.meeting_id),
                      "state": m.state.value, "attempts": m.attempts, "sent_at": _when(m.sent_at),
                      "last_error": m.last_error}
                     for m in session.scalars(select(OutboxMessage).where(OutboxMessage.contact_id == contact.id)
                                              .order_by(OutboxMessage.id))],
        "responses": [{"meeting": meetings.get(r.meeting_id), "answer": r.answer.value, "waitlisted": r.waitlisted,
                       "guests": r.guests, "diet": r.diet, "accessibility": r.accessibility, "comment": r.comment,
                       "history": [{"at": _when(h.at), "answer": h.answer.value, "waitlisted": h.waitlisted,
                                    "guests": h.guests, "diet": h.diet, "accessibility": h.accessibility,
                                    "comment": h.comment} for h in r.history]}
                      for r in responses],
        "link_opens": [{"meeting": meetings.get(o.meeting_id), "first": _when(o.first_at), "last": _when(o.last_at),
                        "count": o.count}
                       for o in session.scalars(select(LinkOpen).where(LinkOpen.contact_id == contact.id))],
        "attendance": [{"meeting": meetings.get(a.meeting_id), "checked_in_at": _when(a.checked_in_at)}
                       for a in session.scalars(select(Attendance).where(Attendance.contact_id == contact.id))],
        "evaluations": [{"meeting": meetings.get(e.meeting_id), "value": e.value, "knowledge": e.knowledge,
                         "cooperation": e.cooperation, "comment": e.comment}
                        for e in session.scalars(select(Evaluation).where(Evaluation.contact_id == contact.id))],
        "anonymous_evaluations_given": [meetings.get(r.meeting_id) for r in session.scalars(
            select(EvaluationReceipt).where(EvaluationReceipt.contact_id == contact.id))],
        "suppression": None if suppression is None else {
            "reason": suppression.reason.value, "since": _when(suppression.created_at), "detail": suppression.detail},
    }


@dataclass
class Erasure:
    contact_id: int
    messages: int
    responses: int
    staff_mails_scrubbed: int


def forget(session: Session, email: str) -> Erasure:
    """Erase one person's personal data everywhere (GDPR Art. 17); see the module docstring."""
    contact = _find(session, email)
    address, name = contact.email, contact.name
    hashed = address_hash(address)

    suppression = session.scalar(select(Suppression).where(Suppression.address_hash == hashed))
    if suppression is None:
        session.add(Suppression(address_hash=hashed, reason=SuppressionReason.ERASED))
    else:
        suppression.reason, suppression.email, suppression.detail = SuppressionReason.ERASED, None, None

    contact.email = f"erased-{contact.id}@{ERASED_DOMAIN}"
    # The placeholder is suppressed too, so the audience and the sender skip it
    # through the same suppression check as everyone else.
    session.add(Suppression(address_hash=address_hash(contact.email), email=contact.email,
                            reason=SuppressionReason.ERASED))
    contact.name = contact.phone = contact.language = None
    contact.link_key = new_link_key()  # every link ever sent stops working
    for membership in contact.memberships:
        membership.role = membership.name = membership.title = None  # each list's own spelling too

    messages = session.execute(update(OutboxMessage).where(OutboxMessage.contact_id == contact.id)
                               .values(to_email=None, last_error=None)).rowcount
    response_ids = select(Response.id).where(Response.contact_id == contact.id)
    responses = session.execute(update(Response).where(Response.contact_id == contact.id)
                                .values(diet=None, accessibility=None, comment=None)).rowcount
    session.execute(update(ResponseChange).where(ResponseChange.response_id.in_(response_ids))
                    .values(diet=None, accessibility=None, comment=None))
    session.execute(update(Attendance).where(Attendance.contact_id == contact.id).values(name=None))
    session.execute(update(Evaluation).where(Evaluation.contact_id == contact.id).values(comment=None))
    scrubbed = _scrub_staff_mails(session, [address] + ([name] if name else []))
    session.flush()
    return Erasure(contact.id, messages, responses, scrubbed)


def _scrub_staff_mails(session: Session, needles: list[str]) -> int:
    """Digests and organisation reports carry names and addresses in their stored context."""
    count = 0
    for row in session.scalars(select(OutboxMessage).where(OutboxMessage.template.in_(STAFF_TEMPLATES),
                                                           OutboxMessage.extra.is_not(None))):
        text = json.dumps(row.extra, ensure_ascii=False)
        cleaned = text
        for needle in needles:
            cleaned = cleaned.replace(json.dumps(needle, ensure_ascii=False)[1:-1], ERASED_TEXT)
        if cleaned != text:
            row.extra = json.loads(cleaned)
            count += 1
    return count
