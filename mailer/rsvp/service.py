"""Answers, the waitlist and unsubscribing: every RSVP state transition has its owner here.

Callers pass a session and get plain results; nothing here knows about HTTP.
Reading a page only logs an open (mail scanners follow every link, so a view
must never count as an answer); answers change only through `record_answer`,
places only through `record_answer` and `promote_waitlisted`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from mailer.contacts.csvfile import normalise_email
from mailer.contacts.models import Contact, Suppression, SuppressionReason, address_hash, new_link_key
from mailer.db import utcnow
from mailer.meetings.models import Meeting
from mailer.outbox.models import OutboxMessage
from mailer.rsvp.models import Answer, LinkOpen, Response, ResponseChange
from mailer.rsvp.tokens import BadToken, TokenCodec

LIMITS = {"diet": 300, "accessibility": 300, "comment": 1000}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class AnswerError(ValueError):
    """Invalid input. `field` names the form field; `reason` is a stable code pages translate."""

    def __init__(self, field: str, reason: str, limit: int | None = None):
        super().__init__(f"{field}: {reason}" + (f" (limit {limit})" if limit is not None else ""))
        self.field, self.reason, self.limit = field, reason, limit


class AnswersClosed(Exception):
    """The RSVP deadline has passed or the meeting has started: answers are read-only."""


@dataclass
class RsvpPage:
    contact: Contact
    meeting: Meeting
    response: Response | None
    closed: bool
    error: AnswerError | None = None


# -- tokens -----------------------------------------------------------------------------

def resolve(session: Session, codec: TokenCodec, purpose: str, token: str) -> tuple[Contact, Meeting | None]:
    """The contact (and meeting) a token names; BadToken for anything not current, whatever the cause."""
    contact_key, meeting_key = codec.loads(purpose, token)
    contact = session.scalar(select(Contact).where(Contact.link_key == contact_key))
    meeting = session.scalar(select(Meeting).where(Meeting.link_key == meeting_key)) if meeting_key else None
    if contact is None or (purpose in ("rsvp", "evaluation") and meeting is None):
        raise BadToken()
    return contact, meeting


def resolve_rsvp(session: Session, codec: TokenCodec, token: str) -> tuple[Contact, Meeting]:
    contact, meeting = resolve(session, codec, "rsvp", token)
    return contact, meeting  # type: ignore[return-value]  # resolve() ensures a meeting for "rsvp"


def revoke_links(session: Session, email: str) -> Contact:
    """Give the person a new link key: every link sent to them so far stops working at once."""
    try:
        key = normalise_email(email)
    except ValueError:
        key = email.strip().lower()
    contact = session.scalar(select(Contact).where(Contact.email == key))
    if contact is None:
        raise LookupError(f"no contact with the address {email.strip()!r}")
    contact.link_key = new_link_key()
    return contact


# -- the answer page --------------------------------------------------------------------

def answers_closed(meeting: Meeting, tz: ZoneInfo, now: dt.datetime | None = None) -> bool:
    now = now or utcnow()
    past_deadline = meeting.rsvp_by is not None and now.astimezone(tz).date() > meeting.rsvp_by
    return past_deadline or now >= meeting.starts_at


def current_response(session: Session, contact: Contact, meeting: Meeting) -> Response | None:
    return session.scalar(select(Response).where(Response.meeting_id == meeting.id,
                                                 Response.contact_id == contact.id))


def view_rsvp(session: Session, codec: TokenCodec, token: str, tz: ZoneInfo) -> RsvpPage:
    """What the page shows, without logging anything (a re-shown form after an expired CSRF token)."""
    contact, meeting = resolve_rsvp(session, codec, token)
    return RsvpPage(contact, meeting, current_response(session, contact, meeting), answers_closed(meeting, tz))


def open_rsvp(session: Session, codec: TokenCodec, token: str, tz: ZoneInfo) -> RsvpPage:
    """A GET of the page: logged as an open, never as an answer."""
    page = view_rsvp(session, codec, token, tz)
    record_open(session, page.contact, page.meeting)
    return page


def _insert(session: Session, model):
    """INSERT … ON CONFLICT for the backend in use (both spell it the same way)."""
    return (postgresql if session.get_bind().dialect.name == "postgresql" else sqlite).insert(model)


def record_open(session: Session, contact: Contact, meeting: Meeting, now: dt.datetime | None = None) -> None:
    """One row per person and meeting, counted up; an upsert because scanners open links in parallel."""
    now = now or utcnow()
    statement = _insert(session, LinkOpen).values(meeting_id=meeting.id, contact_id=contact.id,
                                                  first_at=now, last_at=now, count=1)
    session.execute(statement.on_conflict_do_update(
        index_elements=[LinkOpen.meeting_id, LinkOpen.contact_id],
        set_={"last_at": now, "count": LinkOpen.count + 1},
    ))


def answer_rsvp(session: Session, codec: TokenCodec, token: str, form: Mapping[str, str | None],
                tz: ZoneInfo) -> RsvpPage:
    """A POST of the page. Invalid input comes back as `page.error`, a closed meeting as
    `page.closed`; in both cases nothing is written."""
    contact, meeting = resolve_rsvp(session, codec, token)
    try:
        response = record_answer(session, contact, meeting, form, tz)
    except AnswerError as exc:
        return RsvpPage(contact, meeting, current_response(session, contact, meeting), False, exc)
    except AnswersClosed:
        return RsvpPage(contact, meeting, current_response(session, contact, meeting), True)
    return RsvpPage(contact, meeting, response, False)


def _text(form: Mapping[str, str | None], name: str) -> str | None:
    value = _CONTROL.sub("", form.get(name) or "").strip()
    if len(value) > LIMITS[name]:
        raise AnswerError(name, "too_long", LIMITS[name])
    return value or None


def _parse(form: Mapping[str, str | None], meeting: Meeting) -> dict:
    try:
        answer = Answer((form.get("answer") or "").strip())
    except ValueError:
        raise AnswerError("answer", "required") from None
    guests = 0
    if answer is Answer.YES:  # a "no" ignores whatever the (hidden) guests field still holds
        raw_guests = (form.get("guests") or "0").strip()
        # ASCII digits only: str.isdigit() is also true for '²', which int() refuses, and
        # a few thousand digits would make int() raise (Python caps its digits).
        if not (raw_guests.isascii() and raw_guests.isdigit()):
            raise AnswerError("guests", "not_a_number", meeting.max_guests)
        if len(raw_guests) > 6 or int(raw_guests) > meeting.max_guests:
            raise AnswerError("guests", "too_many", meeting.max_guests)
        guests = int(raw_guests)
    return {"answer": answer, "guests": guests, **{name: _text(form, name) for name in LIMITS}}


def _lock(session: Session, meeting: Meeting) -> None:
    """Serialise answers to one meeting so places are never counted twice.

    SQLite already runs every transaction as BEGIN IMMEDIATE (one writer);
    on PostgreSQL the meeting row is locked before anything is counted.
    """
    session.execute(select(Meeting.id).where(Meeting.id == meeting.id).with_for_update())


def _others(query, response: Response | None):
    return query if response is None or response.id is None else query.where(Response.id != response.id)


def _places_taken(session: Session, meeting: Meeting, other_than: Response | None = None) -> int:
    return session.scalar(_others(select(func.coalesce(func.sum(1 + Response.guests), 0)).where(
        Response.meeting_id == meeting.id, Response.answer == Answer.YES, Response.waitlisted.is_(False)),
        other_than))


def _anyone_waiting(session: Session, meeting: Meeting, other_than: Response | None) -> bool:
    query = select(Response.id).where(Response.meeting_id == meeting.id, Response.waitlisted.is_(True))
    return session.scalar(_others(query, other_than).limit(1)) is not None


def record_answer(session: Session, contact: Contact, meeting: Meeting, form: Mapping[str, str | None],
                  tz: ZoneInfo, now: dt.datetime | None = None) -> Response:
    """Save the person's answer, keep it in the history, and queue the mail it calls for.

    A new yes that does not fit, or arrives while others wait, joins the end of
    the waitlist. Someone who already has a place keeps it; asking for more
    guests than there is room for is refused on the `guests` field instead.
    """
    now = now or utcnow()
    if answers_closed(meeting, tz, now):
        raise AnswersClosed()
    values = _parse(form, meeting)
    _lock(session, meeting)
    response = current_response(session, contact, meeting)
    before = None if response is None else (response.answer, response.waitlisted, response.guests)
    was_waiting = before is not None and before[0] is Answer.YES and before[1]
    had_place = before is not None and before[0] is Answer.YES and not before[1]
    waitlisted = False
    if values["answer"] is Answer.YES and meeting.capacity is not None:
        free = meeting.capacity - _places_taken(session, meeting, other_than=response)
        needed = 1 + values["guests"]
        if had_place and needed > free:
            raise AnswerError("guests", "no_room", max(free - 1, 0))
        waitlisted = not had_place and (was_waiting or needed > free or _anyone_waiting(session, meeting, response))
    if response is None:
        response = Response(meeting_id=meeting.id, contact_id=contact.id, created_at=now)
        session.add(response)
    changed = before is None or response.waitlisted != waitlisted \
        or any(getattr(response, key) != value for key, value in values.items())
    if waitlisted and not was_waiting:
        response.waitlisted_at = now
    for key, value in values.items():
        setattr(response, key, value)
    response.waitlisted = waitlisted
    if changed:
        response.updated_at = now
        _log_change(response, now)
    session.flush()
    if _places_freed(before, response):
        promote_waitlisted(session, meeting, now, skip_mail_for=response)
    if was_waiting and response.answer is Answer.YES and not response.waitlisted:
        enqueue_confirmation(session, response, promoted=True)
    elif _mail_due(before, response):
        enqueue_confirmation(session, response, promoted=False)
    return response


def _places_freed(before: tuple | None, response: Response) -> bool:
    """Whether this answer can let someone on the waitlist move up.

    The waitlist only ever holds people the first in line does not fit for (every
    change of places or capacity moves it up), so it moves only when this answer
    gave places back, or took its owner out of the line.
    """
    if before is None or before[0] is not Answer.YES:
        return False
    _, was_waiting, guests = before
    if was_waiting:
        return response.answer is Answer.NO or not response.waitlisted
    return response.answer is Answer.NO or response.guests < guests


def _mail_due(before: tuple | None, response: Response) -> bool:
    """A new yes, a change from yes to no, and a new number of guests on a held place are mailed."""
    if response.answer is Answer.NO:
        return before is not None and before[0] is Answer.YES
    if before is None or before[0] is Answer.NO:
        return True
    had_place = not before[1]
    return had_place and before[2] != response.guests


def _log_change(response: Response, now: dt.datetime) -> None:
    response.history.append(ResponseChange(
        answer=response.answer, waitlisted=response.waitlisted, guests=response.guests, diet=response.diet,
        accessibility=response.accessibility, comment=response.comment, at=now))


def promote_waitlisted(session: Session, meeting: Meeting, now: dt.datetime | None = None,
                       skip_mail_for: Response | None = None) -> list[Response]:
    """Move people up in the order they joined the waitlist, while the first in line fits.

    Strictly first come, first served: a smaller party further back never
    jumps the queue. Each person moved up is mailed (promoted=True).
    """
    now = now or utcnow()
    free = None if meeting.capacity is None else meeting.capacity - _places_taken(session, meeting)
    waiting = session.scalars(
        select(Response).where(Response.meeting_id == meeting.id, Response.waitlisted.is_(True),
                               Response.contact_id.is_not(None))
        .order_by(Response.waitlisted_at, Response.id))
    promoted = []
    for response in waiting:
        if free is not None and 1 + response.guests > free:
            break
        response.waitlisted = False
        response.updated_at = now
        _log_change(response, now)
        promoted.append(response)
        if free is not None:
            free -= 1 + response.guests
        if response is not skip_mail_for:
            enqueue_confirmation(session, response, promoted=True)
    session.flush()
    return promoted


def enqueue_confirmation(session: Session, response: Response, promoted: bool) -> OutboxMessage:
    """Queued in the caller's transaction: the mail exists exactly when the answer does."""
    message = OutboxMessage(
        campaign_id=None, template="confirmation", contact_id=response.contact_id, meeting_id=response.meeting_id,
        extra={"response": {"answer": response.answer.value, "guests": response.guests,
                             "waitlisted": response.waitlisted, "promoted": promoted}})
    session.add(message)
    return message


# -- unsubscribing ----------------------------------------------------------------------

def _suppression(session: Session, contact: Contact) -> Suppression | None:
    return session.scalar(select(Suppression).where(Suppression.address_hash == address_hash(contact.email)))


def view_subscription(session: Session, codec: TokenCodec, token: str) -> tuple[Contact, bool]:
    """Whether the address is suppressed, for any reason: the page must offer the way back."""
    contact, _ = resolve(session, codec, "unsubscribe", token)
    return contact, _suppression(session, contact) is not None


def unsubscribe(session: Session, codec: TokenCodec, token: str) -> Contact:
    """Suppress the address for all future campaigns; a second time changes nothing."""
    contact, _ = resolve(session, codec, "unsubscribe", token)
    session.execute(_insert(session, Suppression).values(
        address_hash=address_hash(contact.email), email=contact.email, reason=SuppressionReason.UNSUBSCRIBED,
        detail="unsubscribe link", created_at=utcnow(),
    ).on_conflict_do_nothing(index_elements=[Suppression.address_hash]))
    return contact


def resubscribe(session: Session, codec: TokenCodec, token: str) -> Contact:
    """Lift an unsubscription or a bounce: the person is reading mail at this address.

    An erasure is never lifted (an erased person has no links anyway).
    """
    contact, _ = resolve(session, codec, "unsubscribe", token)
    session.execute(delete(Suppression).where(
        Suppression.address_hash == address_hash(contact.email),
        Suppression.reason.in_([SuppressionReason.UNSUBSCRIBED, SuppressionReason.BOUNCED])))
    return contact
