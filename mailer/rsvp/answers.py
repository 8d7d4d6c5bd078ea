"""Recording an answer: the one owner of a person's answer, their place and the waitlist.

Why Core statements, prepared once, and not the ORM: this runs for every RSVP POST, where
loading and flushing ORM objects cost several times more than the SQL itself (a few
milliseconds an answer against a fraction of one). The statements run on the session's own
connection, in the caller's transaction. ORM objects for responses that the session already
holds are expired afterwards, so a caller never reads a stale answer.

A new yes that does not fit joins the end of the waitlist; one that fits gets a place even
while others wait, as the waitlist only ever holds parties that do not fit (every freed place
goes to the first in line whose party fits). Someone who already has a place keeps it; asking
for more guests than there is room for is refused on the `guests` field instead. Every change
is kept in the history.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from mailer.db import utcnow
from mailer.meetings.models import Meeting
from mailer.meetings.questions import asked_questions
from mailer.outbox.models import OutboxMessage
from mailer.rsvp.events import answer_changed
from mailer.rsvp.models import Answer, QuestionAnswer, Response, ResponseChange
from mailer.rsvp.questions import (
    Asked,
    QuestionAnswerError,
    answers_differ,
    current_answers,
    parse_question_answers,
    save_question_answers,
    snapshot,
)

LIMITS = {"comment": 1000}
FIELDS = ("answer", "guests", "comment")  # besides the meeting's questions (mailer.rsvp.questions)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class AnswerError(ValueError):
    """Invalid input. `field` names the form field; `reason` is a stable code pages translate.

    `question`: the field is one of the meeting's questions (its texts are the same for all of them).
    """

    def __init__(self, field: str, reason: str, limit: int | None = None, question: bool = False):
        super().__init__(f"{field}: {reason}" + (f" (limit {limit})" if limit is not None else ""))
        self.field, self.reason, self.limit, self.question = field, reason, limit, question


class AnswersClosed(Exception):
    """The RSVP deadline has passed or the meeting has started: answers are read-only."""


@dataclass(frozen=True)
class Saved:
    """What an answer left behind: the response row and whether it waits for a place."""

    response_id: int
    answer: Answer
    guests: int
    waitlisted: bool


class AnsweredMeeting(Protocol):
    """What answering reads of a meeting: a Meeting, or a row of rsvp.service.ANSWER_TARGET."""

    @property
    def id(self) -> int: ...
    @property
    def capacity(self) -> int | None: ...
    @property
    def max_guests(self) -> int: ...
    @property
    def rsvp_by(self) -> dt.date | None: ...
    @property
    def starts_at(self) -> dt.datetime: ...
    @property
    def cancelled_at(self) -> dt.datetime | None: ...
    @property
    def series_id(self) -> int | None: ...


class Answerer(Protocol):
    """Who answers: a Contact, or just its id (rsvp.service.answer_rsvp loads nothing more)."""

    @property
    def id(self) -> int: ...


# Core statements on the tables (run once an answer: no ORM objects to build).
RESPONSES, RESPONSE_CHANGES, MESSAGES = Response.__table__, ResponseChange.__table__, OutboxMessage.__table__
_NO_ROW = -1  # "other than" no response: matches no id
CURRENT = select(RESPONSES.c.id, *(RESPONSES.c[name] for name in FIELDS), RESPONSES.c.waitlisted).where(
    RESPONSES.c.meeting_id == bindparam("meeting_id"), RESPONSES.c.contact_id == bindparam("contact_id")
)
PLACES_TAKEN = select(func.coalesce(func.sum(1 + RESPONSES.c.guests), 0)).where(
    RESPONSES.c.meeting_id == bindparam("meeting_id"),
    RESPONSES.c.answer == Answer.YES,
    RESPONSES.c.waitlisted.is_(False),
    RESPONSES.c.id != bindparam("other"),
)
NEW_RESPONSE = insert(RESPONSES)
CHANGE_RESPONSE = update(RESPONSES).where(RESPONSES.c.id == bindparam("response_id"))
LOG_CHANGE = insert(RESPONSE_CHANGES)
QUEUE_MAIL = insert(MESSAGES)


def answers_closed(meeting: AnsweredMeeting, tz: ZoneInfo, now: dt.datetime | None = None) -> bool:
    """Past the deadline, started, or cancelled: answers are read-only."""
    now = now or utcnow()
    past_deadline = meeting.rsvp_by is not None and now.astimezone(tz).date() > meeting.rsvp_by
    return past_deadline or now >= meeting.starts_at or meeting.cancelled_at is not None


def _single(form: Mapping[str, Any], name: str) -> str:
    """The field's value; a field sent more than once counts with its first value, as a browser never
    sends these twice (a hand-made or replayed form may)."""
    value = form.get(name)
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    return value if isinstance(value, str) else ""


def _text(form: Mapping[str, Any], name: str) -> str | None:
    value = _CONTROL.sub("", _single(form, name)).strip()
    if len(value) > LIMITS[name]:
        raise AnswerError(name, "too_long", LIMITS[name])
    return value or None


def parse_answer(
    form: Mapping[str, Any],
    meeting: AnsweredMeeting,
    questions: Sequence[Asked] = (),
    require_questions: bool = True,
) -> dict[str, Any]:
    """The form's values, checked (raises AnswerError naming the field); writes nothing.

    The answers to `questions` come under "questions", by question id (missing: left as they are).
    `require_questions=False` takes a yes without the required questions' answers (a sign-up's yes:
    the person answers them later on their answer page).
    """
    try:
        answer = Answer(_single(form, "answer").strip())
    except ValueError:
        raise AnswerError("answer", "required") from None
    guests = 0
    if answer is Answer.YES:  # a "no" ignores whatever the (hidden) guests field still holds
        raw_guests = _single(form, "guests").strip() or "0"
        # ASCII digits only: str.isdigit() is also true for '²', which int() refuses, and
        # a few thousand digits would make int() raise (Python caps its digits).
        if not (raw_guests.isascii() and raw_guests.isdigit()):
            raise AnswerError("guests", "not_a_number", meeting.max_guests)
        if len(raw_guests) > 6 or int(raw_guests) > meeting.max_guests:
            raise AnswerError("guests", "too_many", meeting.max_guests)
        guests = int(raw_guests)
    values: dict[str, Any] = {"answer": answer, "guests": guests, **{name: _text(form, name) for name in LIMITS}}
    try:
        values["questions"] = parse_question_answers(
            form, questions, required=require_questions and answer is Answer.YES
        )
    except QuestionAnswerError as exc:
        raise AnswerError(exc.field, exc.reason, exc.limit, question=True) from None
    return values


def lock_meeting(session: Session, meeting_id: int) -> None:
    """Serialise answers to one meeting so places are never counted twice.

    SQLite already runs every transaction as BEGIN IMMEDIATE (one writer); on PostgreSQL
    the meeting row is locked before anything is counted.
    """
    if session.get_bind().dialect.name != "sqlite":
        session.execute(select(Meeting.id).where(Meeting.id == meeting_id).with_for_update())


def places_taken(session: Session, meeting_id: int, other_than: int | None = None) -> int:
    return int(
        session.connection()
        .execute(PLACES_TAKEN, {"meeting_id": meeting_id, "other": _NO_ROW if other_than is None else other_than})
        .scalar_one()
    )


def record_answer(
    session: Session,
    contact: Answerer,
    meeting: AnsweredMeeting,
    form: Mapping[str, Any],
    tz: ZoneInfo,
    now: dt.datetime | None = None,
    notify: bool = True,
    require_questions: bool = True,
) -> Saved:
    """Save the person's answer, keep it in the history, and queue the mail it calls for.

    `contact` needs an `id`; `meeting` its id, capacity, max_guests, rsvp_by and starts_at.
    `notify=False` leaves out the person's own confirmation (a series choice that moves them to
    another session mails the new one only); others moved up from the waitlist are mailed anyway.
    `require_questions=False`: a yes is taken without the meeting's required questions (see parse_answer).
    """
    now = now or utcnow()
    if answers_closed(meeting, tz, now):
        raise AnswersClosed()
    questions = asked_questions(session, meeting.id, meeting.series_id)
    values = parse_answer(form, meeting, questions, require_questions)
    asked = values.pop("questions")
    session.flush()  # what the session holds is in the database before it is read here
    lock_meeting(session, meeting.id)
    db = session.connection()
    row = db.execute(CURRENT, {"meeting_id": meeting.id, "contact_id": contact.id}).first()
    before = None if row is None else (Answer(row.answer), row.waitlisted, row.guests)
    was_waiting = before is not None and before[0] is Answer.YES and before[1]
    had_place = before is not None and before[0] is Answer.YES and not before[1]
    waitlisted, free = False, None
    if values["answer"] is Answer.YES and meeting.capacity is not None:
        other = _NO_ROW if row is None else row.id
        free = meeting.capacity - places_taken(session, meeting.id, other)
        needed = 1 + values["guests"]
        if had_place and needed > free:
            raise AnswerError("guests", "no_room", max(free - 1, 0))
        waitlisted = not had_place and needed > free
    state = {**values, "waitlisted": waitlisted}
    answered_before = {} if row is None else current_answers(session, row.id)
    changed = (
        row is None
        or any(getattr(row, key) != value for key, value in state.items())
        or answers_differ(answered_before, asked)
    )
    if row is None:
        inserted = db.execute(
            NEW_RESPONSE,
            {
                **state,
                "meeting_id": meeting.id,
                "contact_id": contact.id,
                "created_at": now,
                "updated_at": now,
                "waitlisted_at": now if waitlisted else None,
            },
        ).inserted_primary_key
        assert inserted is not None, "an INSERT of one row has its new key"
        response_id = inserted[0]
    else:
        response_id = row.id
        if changed:
            stamp = {"waitlisted_at": now} if waitlisted and not was_waiting else {}
            db.execute(CHANGE_RESPONSE, {**state, **stamp, "response_id": response_id, "updated_at": now})
    save_question_answers(session, response_id, answered_before, asked, now)
    if changed:
        db.execute(
            LOG_CHANGE,
            {
                **state,
                "response_id": response_id,
                "at": now,
                "answers": snapshot(questions, {**answered_before, **asked}),
            },
        )
    saved = Saved(response_id, values["answer"], values["guests"], waitlisted)
    forget_responses(session)
    if _places_freed(before, saved):
        promoted = promote_waitlisted(session, meeting, now, skip_mail_for=response_id)
        if any(response.id == response_id for response in promoted):
            saved = Saved(response_id, saved.answer, saved.guests, False)
    if not notify:
        pass
    elif was_waiting and saved.answer is Answer.YES and not saved.waitlisted:
        enqueue_confirmation(session, meeting.id, contact.id, saved, promoted=True)
    elif _mail_due(before, saved):
        enqueue_confirmation(
            session,
            meeting.id,
            contact.id,
            saved,
            promoted=False,
            places_left=max(free, 0) if saved.waitlisted and free is not None else None,
        )
    if changed:
        answer_changed(session, response_id, contact.id, meeting.id, "answered")
    return saved


def forget_responses(session: Session) -> None:
    """Expire the session's Response objects: rows were changed behind the ORM's back."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, (Response, ResponseChange, QuestionAnswer)):
            session.expire(obj)


def _places_freed(before: tuple[Answer, bool, int] | None, saved: Saved) -> bool:
    """Whether this answer can let someone on the waitlist move up.

    The waitlist only ever holds people the first in line does not fit for (every
    change of places or capacity moves it up), so it moves only when this answer
    gave places back, or took its owner out of the line.
    """
    if before is None or before[0] is not Answer.YES:
        return False
    _, was_waiting, guests = before
    if was_waiting:
        return saved.answer is Answer.NO or not saved.waitlisted
    return saved.answer is Answer.NO or saved.guests < guests


def _mail_due(before: tuple[Answer, bool, int] | None, saved: Saved) -> bool:
    """A new yes, a change from yes to no, and a new number of guests on a held place are mailed."""
    if saved.answer is Answer.NO:
        return before is not None and before[0] is Answer.YES
    if before is None or before[0] is Answer.NO:
        return True
    had_place = not before[1]
    return had_place and before[2] != saved.guests


def promote_waitlisted(
    session: Session, meeting: AnsweredMeeting, now: dt.datetime | None = None, skip_mail_for: int | None = None
) -> list[Response]:
    """Give free places to the waitlist in the order people joined it, each to the first in
    line whose party fits: a party of two first in line does not keep one free place empty
    for everyone behind it. Each person moved up is mailed (promoted=True), except the
    response whose id is `skip_mail_for` (its owner's own answer sends that mail).
    """
    now = now or utcnow()
    session.flush()
    free = None if meeting.capacity is None else meeting.capacity - places_taken(session, meeting.id)
    waiting = session.scalars(
        select(Response)
        .where(Response.meeting_id == meeting.id, Response.waitlisted.is_(True), Response.contact_id.is_not(None))
        .order_by(Response.waitlisted_at, Response.id)
    )
    promoted = []
    for response in waiting:
        if free is not None and 1 + response.guests > free:
            continue  # keeps its place in line: the next free places may fit it
        response.waitlisted = False
        response.updated_at = now
        response.history.append(
            ResponseChange(
                answer=response.answer,
                waitlisted=False,
                guests=response.guests,
                comment=response.comment,
                answers=response.history[-1].answers if response.history else None,
                at=now,
            )
        )
        promoted.append(response)
        if free is not None:
            free -= 1 + response.guests
        if response.id != skip_mail_for and response.contact_id is not None:  # (selected: never None)
            enqueue_confirmation(
                session,
                meeting.id,
                response.contact_id,
                Saved(response.id, response.answer, response.guests, False),
                promoted=True,
            )
    session.flush()
    for response in promoted:
        if response.id != skip_mail_for and response.contact_id is not None:  # its owner's own answer reports it
            answer_changed(session, response.id, response.contact_id, meeting.id, "promoted")
    return promoted


def enqueue_confirmation(
    session: Session, meeting_id: int, contact_id: int, saved: Saved, promoted: bool, places_left: int | None = None
) -> None:
    """Queued in the caller's transaction: the mail exists exactly when the answer does.

    `places_left` (waitlisted with places free, but too few for the party) lets the mail say
    "one place left" instead of "fully booked".
    """
    response = {
        "answer": saved.answer.value,
        "guests": saved.guests,
        "waitlisted": saved.waitlisted,
        "promoted": promoted,
    }
    if places_left:
        response["places_left"] = places_left
    session.connection().execute(
        QUEUE_MAIL,
        {
            "campaign_id": None,
            "template": "confirmation",
            "contact_id": contact_id,
            "meeting_id": meeting_id,
            "extra": {"response": response},
        },
    )
