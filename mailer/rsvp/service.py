"""The answer page, links and unsubscribing: what a recipient's link can do.

Callers pass a session and get plain results; nothing here knows about HTTP.
Reading a page only logs an open (mail scanners follow every link, so a view
must never count as an answer); answers change only through answers.record_answer,
places only through answers.record_answer and answers.promote_waitlisted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, object_session

from mailer.contacts.events import contact_suppressed
from mailer.contacts.models import (
    Contact,
    RetiredLinkKey,
    Suppression,
    SuppressionReason,
    TestPerson,
    address_hash,
    is_test_key,
    is_test_person,
)
from mailer.contacts.queries import find_contact
from mailer.db import Base, rowcount, utcnow
from mailer.identifiers import new_link_key
from mailer.mail.tokens import BadToken, TokenCodec
from mailer.meetings.models import Meeting, Question
from mailer.meetings.questions import questions_for
from mailer.rsvp.answers import (  # noqa: F401  (the answer's rules, re-exported for callers)
    LIMITS,
    AnswerError,
    AnswersClosed,
    answers_closed,
    parse_answer,
    places_taken,
    record_answer,
)
from mailer.rsvp.models import LinkOpen, Response
from mailer.rsvp.questions import current_answers


@dataclass
class RsvpPage:
    contact: Contact
    meeting: Meeting
    response: Response | None
    closed: bool
    error: AnswerError | None = None
    tested: dict[str, Any] | None = None  # a test link's POST: the answer as it would have been saved (it is not)
    questions: list[Question] = field(default_factory=list)  # the meeting's questions, in order
    answers: dict[int, Any] = field(default_factory=dict)  # the person's answers to them, by question id

    @property
    def test(self) -> bool:
        """Opened through a test mail's link: the page works, nothing is saved or counted."""
        return is_test_person(self.contact)


# -- tokens -----------------------------------------------------------------------------


def resolve(session: Session, codec: TokenCodec, purpose: str, token: str) -> tuple[Contact, Meeting | None]:
    """The contact (and meeting) a token names; BadToken for anything not current, whatever the cause.

    A test mail's token names the made-up test person (a TestPerson, never stored). An
    unsubscribe token also works with a link key that `revoke_links` retired: revoking
    stops answers on someone's behalf, never their way out of the mailings.
    """
    contact_key, meeting_key = codec.loads(purpose, token)
    meeting = session.scalar(select(Meeting).where(Meeting.link_key == meeting_key)) if meeting_key else None
    if is_test_key(contact_key):
        if purpose in ("rsvp", "evaluation") and meeting is None:
            raise BadToken()
        return TestPerson.from_key(contact_key), meeting  # type: ignore[return-value]
    contact = session.scalar(select(Contact).where(Contact.link_key == contact_key))
    if contact is None and purpose == "unsubscribe":
        contact = session.scalar(
            select(Contact)
            .join(RetiredLinkKey, RetiredLinkKey.contact_id == Contact.id)
            .where(RetiredLinkKey.link_key == contact_key)
        )
        if contact is not None and contact.is_erased:
            contact = None  # erasure ends every link ever sent, these too
    if contact is None or (purpose in ("rsvp", "evaluation") and meeting is None):
        raise BadToken()
    return contact, meeting


def resolve_rsvp(session: Session, codec: TokenCodec, token: str) -> tuple[Contact, Meeting]:
    contact, meeting = resolve(session, codec, "rsvp", token)
    return contact, meeting  # type: ignore[return-value]  # resolve() ensures a meeting for "rsvp"


def revoke_links(session: Session, email: str) -> Contact:
    """Give the person a new link key: every link sent to them so far stops working at once."""
    contact = find_contact(session, email)
    session.add(RetiredLinkKey(contact_id=contact.id, link_key=contact.link_key, retired_at=utcnow()))
    contact.link_key = new_link_key()
    return contact


# -- the answer page --------------------------------------------------------------------


def current_response(session: Session, contact: Contact, meeting: Meeting) -> Response | None:
    return session.scalar(select(Response).where(Response.meeting_id == meeting.id, Response.contact_id == contact.id))


def places_left(meeting: Meeting) -> int | None:
    """Free places now (None: no limit), for the waitlist's words: "one place left" is not "full"."""
    if meeting.capacity is None:
        return None
    session = object_session(meeting)
    assert session is not None, "a meeting loaded from the database"
    return max(meeting.capacity - places_taken(session, meeting.id), 0)


def _page(
    session: Session,
    contact: Contact,
    meeting: Meeting,
    closed: bool,
    error: AnswerError | None = None,
    response: Response | None = None,
    answered: bool = True,
) -> RsvpPage:
    """The page with the meeting's questions and (`answered`) the person's current answers to them."""
    if answered and response is None and not is_test_person(contact):
        response = current_response(session, contact, meeting)
    answers = current_answers(session, response.id) if response is not None else {}
    return RsvpPage(
        contact,
        meeting,
        response,
        closed,
        error,
        questions=questions_for(session, meeting.id, meeting.series_id),
        answers=answers,
    )


def view_rsvp(session: Session, codec: TokenCodec, token: str, tz: ZoneInfo) -> RsvpPage:
    """What the page shows, without logging anything (a re-shown form after an expired CSRF token)."""
    contact, meeting = resolve_rsvp(session, codec, token)
    return _page(session, contact, meeting, answers_closed(meeting, tz))


def open_rsvp(session: Session, codec: TokenCodec, token: str, tz: ZoneInfo) -> RsvpPage:
    """A GET of the page: logged as an open, never as an answer (a test link's not at all)."""
    page = view_rsvp(session, codec, token, tz)
    if not page.test:
        record_open(session, page.contact, page.meeting)
    return page


def _insert(session: Session, model: type[Base]) -> postgresql.Insert | sqlite.Insert:
    """INSERT … ON CONFLICT for the backend in use (both spell it the same way)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


def record_open(session: Session, contact: Contact, meeting: Meeting, now: dt.datetime | None = None) -> None:
    """One row per person and meeting, counted up; an upsert because scanners open links in parallel."""
    now = now or utcnow()
    statement = _insert(session, LinkOpen).values(
        meeting_id=meeting.id, contact_id=contact.id, first_at=now, last_at=now, count=1
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[LinkOpen.meeting_id, LinkOpen.contact_id],
            set_={"last_at": now, "count": LinkOpen.count + 1},
        )
    )


# Contact and meeting of an answer in one indexed lookup, without loading either object.
ANSWER_TARGET = (
    select(
        Contact.id.label("contact_id"),
        Meeting.id,
        Meeting.capacity,
        Meeting.max_guests,
        Meeting.rsvp_by,
        Meeting.starts_at,
        Meeting.cancelled_at,
        Meeting.series_id,
    )
    .select_from(Contact)
    .join(Meeting, Meeting.link_key == bindparam("meeting_key"))
    .where(Contact.link_key == bindparam("contact_key"))
)


def answer_rsvp(
    session: Session, codec: TokenCodec, token: str, form: Mapping[str, Any], tz: ZoneInfo
) -> RsvpPage | None:
    """A POST of the page: None once the answer is saved. Invalid input comes back as a page
    with `error`, a closed meeting as one with `closed`; in both cases nothing is written."""
    contact_key, meeting_key = codec.loads("rsvp", token)
    if is_test_key(contact_key):
        return _test_answer(session, codec, token, form, tz)
    target = (
        session.connection().execute(ANSWER_TARGET, {"contact_key": contact_key, "meeting_key": meeting_key}).first()
        if meeting_key
        else None
    )
    if target is None:
        raise BadToken()
    try:
        record_answer(session, SimpleNamespace(id=target.contact_id), target, form, tz)
        return None
    except AnswerError as exc:
        error, closed = exc, False
    except AnswersClosed:
        error, closed = None, True
    contact, meeting = session.get_one(Contact, target.contact_id), session.get_one(Meeting, target.id)
    return _page(session, contact, meeting, closed, error)


def _test_answer(session: Session, codec: TokenCodec, token: str, form: Mapping[str, Any], tz: ZoneInfo) -> RsvpPage:
    """A test link's POST: checked like a real answer, then shown as it would be saved, and not saved."""
    contact, meeting = resolve_rsvp(session, codec, token)
    page = _page(session, contact, meeting, answers_closed(meeting, tz), answered=False)
    if page.closed:
        return page
    try:
        page.tested = parse_answer(form, meeting, page.questions)
    except AnswerError as exc:
        page.error = exc
    return page


# -- unsubscribing ----------------------------------------------------------------------


def _suppression(session: Session, contact: Contact) -> Suppression | None:
    return session.scalar(select(Suppression).where(Suppression.address_hash == address_hash(contact.email)))


def view_subscription(session: Session, codec: TokenCodec, token: str) -> tuple[Contact, bool]:
    """Whether the address is suppressed, for any reason: the page must offer the way back."""
    contact, _ = resolve(session, codec, "unsubscribe", token)
    if is_test_person(contact):
        return contact, False
    return contact, _suppression(session, contact) is not None


def unsubscribe(session: Session, codec: TokenCodec, token: str) -> Contact:
    """Suppress the address for all future campaigns; a second time changes nothing (a test link: nothing)."""
    contact, _ = resolve(session, codec, "unsubscribe", token)
    if is_test_person(contact):
        return contact
    added = rowcount(
        session.execute(
            _insert(session, Suppression)
            .values(
                address_hash=address_hash(contact.email),
                email=contact.email,
                reason=SuppressionReason.UNSUBSCRIBED,
                detail="unsubscribe link",
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=[Suppression.address_hash])
        )
    )
    if added:  # a second click, or an address already suppressed, is no new event
        contact_suppressed(session, contact.email, SuppressionReason.UNSUBSCRIBED, "unsubscribe link", source="link")
    return contact


def resubscribe(session: Session, codec: TokenCodec, token: str) -> Contact:
    """Lift an unsubscription or a bounce: the person is reading mail at this address.

    An erasure is never lifted (an erased person has no links anyway).
    """
    contact, _ = resolve(session, codec, "unsubscribe", token)
    if is_test_person(contact):
        return contact
    session.execute(
        delete(Suppression).where(
            Suppression.address_hash == address_hash(contact.email),
            Suppression.reason.in_([SuppressionReason.UNSUBSCRIBED, SuppressionReason.BOUNCED]),
        )
    )
    return contact
