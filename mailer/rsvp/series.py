"""The choose-your-session page: one link for a whole series, an answer per session.

Answers stay per meeting and person (mailer.rsvp.answers.record_answer owns them), so each
session keeps its own capacity and waitlist: choosing a full session puts the person on its
waitlist. Choosing another session later says no to the one held before; declining the
series is a no to every session still open. Reading the page only logs an open (mail
scanners follow every link); nothing here knows about HTTP.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.contacts.models import Contact, TestPerson, is_test_key, is_test_person
from mailer.db import utcnow
from mailer.mail.tokens import BadToken, TokenCodec
from mailer.meetings.models import Meeting, Question, Series, SeriesChoice
from mailer.meetings.questions import list_questions
from mailer.rsvp.answers import AnswerError, answers_closed, record_answer
from mailer.rsvp.models import Answer, Response
from mailer.rsvp.questions import QuestionAnswerError, current_answers, parse_question_answers
from mailer.rsvp.service import places_left, record_open


@dataclass
class SessionLine:
    """One session as the page shows it, with the person's answer to it."""

    meeting: Meeting
    response: Response | None
    closed: bool
    places_left: int | None  # None: no limit

    @property
    def chosen(self) -> bool:
        return self.response is not None and self.response.answer is Answer.YES

    @property
    def waitlisted(self) -> bool:
        return self.chosen and self.response is not None and self.response.waitlisted

    @property
    def full(self) -> bool:
        return self.places_left == 0 and not (self.chosen and not self.waitlisted)


@dataclass
class SeriesPage:
    contact: Contact
    series: Series
    sessions: list[SessionLine] = field(default_factory=list)
    error: AnswerError | None = None
    tested: bool = False  # a test link's POST: checked and shown, never saved
    questions: list[Question] = field(default_factory=list)  # the series' questions, in order
    answers: dict[int, Any] = field(default_factory=dict)  # the person's answers to them, by question id

    @property
    def test(self) -> bool:
        return is_test_person(self.contact)

    @property
    def several(self) -> bool:
        return self.series.choice is SeriesChoice.SEVERAL

    @property
    def closed(self) -> bool:
        """Nothing left to choose: every session has started, passed its deadline or been called off."""
        return all(line.closed for line in self.sessions)

    @property
    def answered(self) -> bool:
        return any(line.response is not None for line in self.sessions)

    @property
    def declined(self) -> bool:
        return self.answered and not any(line.chosen for line in self.sessions)


def resolve_series(session: Session, codec: TokenCodec, token: str) -> tuple[Contact, Series]:
    """The contact and series a series link names; BadToken for anything not current."""
    contact_key, series_key = codec.loads("series", token)
    series = session.scalar(select(Series).where(Series.link_key == series_key)) if series_key else None
    if series is None:
        raise BadToken()
    if is_test_key(contact_key):
        return TestPerson.from_key(contact_key), series  # type: ignore[return-value]
    contact = session.scalar(select(Contact).where(Contact.link_key == contact_key))
    if contact is None:
        raise BadToken()
    return contact, series


def _page(
    session: Session, contact: Contact, series: Series, tz: ZoneInfo, now: dt.datetime | None = None
) -> SeriesPage:
    responses: dict[int, Response] = {}
    if not is_test_person(contact):
        responses = {
            response.meeting_id: response
            for response in session.scalars(
                select(Response).where(
                    Response.contact_id == contact.id,
                    Response.meeting_id.in_([meeting.id for meeting in series.sessions]),
                )
            )
        }
    lines = [
        SessionLine(meeting, responses.get(meeting.id), answers_closed(meeting, tz, now), places_left(meeting))
        for meeting in series.sessions
    ]
    # Every chosen session holds the same answers (saved with each); a chosen one's come first.
    held = sorted(
        (line.response for line in lines if line.response is not None),
        key=lambda response: response.answer is not Answer.YES,
    )
    answers = current_answers(session, held[0].id) if held else {}
    return SeriesPage(contact, series, lines, questions=list_questions(session, series), answers=answers)


def view_series(session: Session, codec: TokenCodec, token: str, tz: ZoneInfo) -> SeriesPage:
    """What the page shows, without logging anything."""
    contact, series = resolve_series(session, codec, token)
    return _page(session, contact, series, tz)


def open_series(session: Session, codec: TokenCodec, token: str, tz: ZoneInfo) -> SeriesPage:
    """A GET: logged as an open of each session offered, never as an answer (a test link's not at all)."""
    page = view_series(session, codec, token, tz)
    if not page.test:
        for line in page.sessions:
            if not line.closed:
                record_open(session, page.contact, line.meeting)
    return page


def _checked(page: SeriesPage, answer: str, chosen: Sequence[str]) -> tuple[Answer, set[str]]:
    """The form's answer and chosen session slugs, checked (raises AnswerError naming the field)."""
    try:
        said = Answer((answer or "").strip())
    except ValueError:
        raise AnswerError("answer", "required") from None
    if said is Answer.NO:
        return said, set()
    slugs = {slug.strip() for slug in chosen if slug and slug.strip()}
    by_slug = {line.meeting.slug: line for line in page.sessions}
    if not slugs:
        raise AnswerError("session", "required")
    if any(slug not in by_slug for slug in slugs):
        raise AnswerError("session", "unknown")
    if not page.several and len(slugs) > 1:
        raise AnswerError("session", "only_one")
    if any(by_slug[slug].closed and not by_slug[slug].chosen for slug in slugs):
        raise AnswerError("session", "closed")
    return said, slugs


def _kept(response: Response | None) -> dict[str, str | None]:
    """A session's other answers (guests, comment) stay as they were when the choice is saved again."""
    if response is None or response.answer is not Answer.YES:
        return {}
    return {"guests": str(response.guests), "comment": response.comment}


def answer_series(
    session: Session,
    codec: TokenCodec,
    token: str,
    answer: str,
    chosen: Sequence[str],
    tz: ZoneInfo,
    now: dt.datetime | None = None,
    form: Mapping[str, Any] | None = None,
) -> SeriesPage | None:
    """A POST: None once saved; a page with `error` (nothing written) for bad input, and for a
    test link a page with `tested` (nothing written either).

    A yes records yes on each chosen open session (its capacity decides between a place and the
    waitlist) and no on each open session the person held before but did not choose now; a no
    declines every open session. Sessions already closed are left as they are. The answers to
    the series' questions in `form` (by field) are saved with each chosen session.
    """
    now = now or utcnow()
    contact, series = resolve_series(session, codec, token)
    page = _page(session, contact, series, tz, now)
    form = form or {}
    try:
        said, slugs = _checked(page, answer, chosen)
        parse_question_answers(form, page.questions, required=said is Answer.YES)
    except AnswerError as exc:
        page.error = exc
        return page
    except QuestionAnswerError as exc:
        page.error = AnswerError(exc.field, exc.reason, exc.limit, question=True)
        return page
    asked = {question.field: form[question.field] for question in page.questions if question.field in form}
    if page.closed:
        return page
    if page.test:
        page.tested = True
        return page
    newly_chosen = any(line.meeting.slug in slugs and not line.chosen for line in page.sessions)
    for line in page.sessions:  # in time order: every answer locks its meetings in the same order
        if line.closed:
            continue
        if line.meeting.slug in slugs:
            record_answer(session, contact, line.meeting, {**_kept(line.response), **asked, "answer": "yes"}, tz, now)
        elif said is Answer.NO or line.chosen:
            # Moving to another session: the new one's confirmation is the mail; the old one's "no"
            # is mailed only when nothing new was chosen.
            record_answer(
                session, contact, line.meeting, {"answer": "no"}, tz, now, notify=said is Answer.NO or not newly_chosen
            )
    return None
