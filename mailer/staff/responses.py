"""A meeting's answers as staff read them: one row per person, filterable, with check-in state.

The figures come from `mailer.tracking.status.full_status` and the evaluation
summary from `mailer.evaluations.service.summarise`; check-ins go through
`mailer.attendance.checkin`, which owns them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mailer.attendance.checkin import CheckinResult, add_walk_in, check_in, undo_check_in
from mailer.attendance.models import Attendance
from mailer.audit.log import record
from mailer.campaigns.audience import invited_to
from mailer.contacts.models import Contact, Membership
from mailer.evaluations.service import Summary, summarise
from mailer.meetings.models import Meeting
from mailer.meetings.questions import questions_for
from mailer.meetings.service import get_meeting
from mailer.rsvp.models import Answer, Response
from mailer.rsvp.questions import answer_text, answers_of
from mailer.tracking.export import attendee_rows, to_csv, to_xlsx
from mailer.tracking.status import full_status

ANSWERS = ("yes", "waitlisted", "no", "no_answer")


@dataclass
class Row:
    contact_id: int
    email: str
    name: str
    organisations: list[str]
    org_slugs: list[str]
    answer: str  # one of ANSWERS
    guests: int = 0
    answers: list[str] = field(default_factory=list)  # to the meeting's questions (ResponsesPage.questions), as text
    comment: str = ""
    answered_at: dt.datetime | None = None
    checked_in: bool = False


@dataclass
class ResponsesPage:
    meeting: Meeting
    figures: dict
    rows: list[Row]
    walk_ins: list[Attendance]
    evaluation: Summary
    organisations: list[tuple[str, str]] = field(default_factory=list)  # (slug, name) for the filter
    questions: list[str] = field(default_factory=list)  # the questions' labels, one column each


def _contacts(session: Session, ids) -> dict[int, Contact]:
    query = (
        select(Contact)
        .where(Contact.id.in_(ids))
        .options(selectinload(Contact.memberships).selectinload(Membership.organisation))
    )
    return {contact.id: contact for contact in session.scalars(query)}


def _row(contact: Contact, answer: str, **values) -> Row:
    memberships = sorted(contact.memberships, key=lambda membership: membership.organisation.name)
    return Row(
        contact.id,
        contact.email,
        contact.name or "",
        [membership.organisation.name for membership in memberships],
        [membership.organisation.slug for membership in memberships],
        answer,
        **values,
    )


def response_rows(
    session: Session,
    meeting: Meeting,
    answer: str | None = None,
    org: str | None = None,
    text: str | None = None,
    language: str = "sv",
) -> list[Row]:
    """Yes, waiting list, no, then invited without an answer; by name within each. Each answer
    carries the answers to the meeting's questions, in `language`."""
    responses = session.scalars(
        select(Response).where(Response.meeting_id == meeting.id, Response.contact_id.is_not(None))
    ).all()
    questions = questions_for(session, meeting.id, meeting.series_id)
    given = answers_of(session, [response.id for response in responses])
    answered = {response.contact_id for response in responses}
    unanswered = set(session.scalars(invited_to(meeting.id))) - answered
    contacts = _contacts(session, answered | unanswered)
    present = set(session.scalars(select(Attendance.contact_id).where(Attendance.meeting_id == meeting.id)))
    rows = []
    for response in responses:
        if response.contact_id is None:  # (selected: never None)
            continue
        kind = "waitlisted" if response.waitlisted else "yes" if response.answer is Answer.YES else "no"
        texts = [answer_text(question, given[response.id].get(question.id), language) for question in questions]
        rows.append(
            _row(
                contacts[response.contact_id],
                kind,
                guests=response.guests,
                answers=texts,
                comment=response.comment or "",
                answered_at=response.updated_at,
                checked_in=response.contact_id in present,
            )
        )
    rows += [_row(contacts[cid], "no_answer", checked_in=cid in present) for cid in unanswered if cid is not None]
    if answer in ANSWERS:
        rows = [row for row in rows if row.answer == answer]
    if org:
        rows = [row for row in rows if org in row.org_slugs]
    if text and text.strip():
        wanted = text.strip().casefold()
        rows = [row for row in rows if wanted in row.name.casefold() or wanted in row.email]
    return sorted(rows, key=lambda row: (ANSWERS.index(row.answer), (row.name or row.email).casefold()))


def responses_page(
    session: Session, slug: str, answer: str | None = None, org: str | None = None, language: str = "sv"
) -> ResponsesPage:
    meeting = get_meeting(session, slug)
    figures = full_status(session, meeting)
    per_meeting, _ = summarise(session, [meeting])
    walk_ins = session.scalars(
        select(Attendance)
        .where(Attendance.meeting_id == meeting.id, Attendance.walk_in.is_(True))
        .order_by(Attendance.id)
    ).all()
    organisations = [(slug_, data["name"]) for slug_, data in figures["by_organisation"].items()]
    labels = [question.label(language) for question in questions_for(session, meeting.id, meeting.series_id)]
    return ResponsesPage(
        meeting,
        figures,
        response_rows(session, meeting, answer, org, language=language),
        list(walk_ins),
        per_meeting[0],
        organisations,
        labels,
    )


def attendee_file(session: Session, slug: str, tz, language: str, kind: str) -> bytes:
    """The attendee list (yes, waiting list, no) as CSV for Swedish Excel, or as .xlsx."""
    meeting = get_meeting(session, slug)
    rows = attendee_rows(session, meeting, tz, language)
    return to_csv(rows, language) if kind == "csv" else to_xlsx(rows, meeting.title, language)


def checkin_rows(session: Session, slug: str, text: str | None = None) -> tuple[Meeting, list[Row], list[Attendance]]:
    """Who may turn up (yes and waiting list first, then everyone else invited), for the door,
    and the walk-ins added so far: they came too, and count as such."""
    meeting = get_meeting(session, slug)
    walk_ins = session.scalars(
        select(Attendance)
        .where(Attendance.meeting_id == meeting.id, Attendance.walk_in.is_(True))
        .order_by(Attendance.id)
    ).all()
    return meeting, response_rows(session, meeting, text=text), list(walk_ins)


def mark_arrived(session: Session, slug: str, email: str, actor: str) -> CheckinResult:
    result = check_in(session, get_meeting(session, slug), [email])
    if result.checked_in:
        record(session, actor, "meetings.checkin", f"meeting:{slug}", people=len(result.checked_in))
    return result


def unmark_arrived(session: Session, slug: str, email: str, actor: str) -> bool:
    done = undo_check_in(session, get_meeting(session, slug), email)
    if done:
        record(session, actor, "meetings.checkin_undo", f"meeting:{slug}")
    return done


def walk_in(session: Session, slug: str, name: str, organisation: str | None, actor: str) -> Attendance:
    attendance = add_walk_in(session, get_meeting(session, slug), name, organisation)
    record(session, actor, "meetings.walk_in", f"meeting:{slug}")
    return attendance
