"""The attendee list for name tags and catering, as CSV for Swedish Excel or as .xlsx.

A cell that starts with =, +, - or @ (or a tab or carriage return) could run as a
formula when a spreadsheet opens the file: in CSV it gets a leading apostrophe,
in .xlsx it is stored as a text cell.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mailer.contacts.models import Contact, Membership
from mailer.meetings.models import Meeting, Question
from mailer.meetings.questions import questions_for
from mailer.rsvp.models import Answer, Response
from mailer.rsvp.questions import answer_text, answers_of
from mailer.translations import translate

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
COLUMNS = ("name", "organisations", "email", "answer", "guests", "comment", "answered_at")
QUESTIONS_AFTER = COLUMNS.index("guests") + 1  # the meeting's questions, one column each, come after guests


class AttendeeRows(list[list[object]]):
    """The list's rows, with the questions whose answers fill one column each."""

    def __init__(self, rows: list[list[object]], questions: Sequence[Question]):
        super().__init__(rows)
        self.questions = list(questions)


def headers(language: str, questions: Sequence[Question] = ()) -> list[str]:
    """The column names in the list's language (catalog keys export.col_*, the questions' own labels)."""
    names = [translate(f"export.col_{column}", language) for column in COLUMNS]
    return names[:QUESTIONS_AFTER] + [question.label(language) for question in questions] + names[QUESTIONS_AFTER:]


def answer_words(language: str) -> dict[str, str]:
    return {answer: translate(f"export.answer_{answer}", language) for answer in ("yes", "no", "waitlisted")}


def attendee_rows(session: Session, meeting: Meeting, tz: ZoneInfo, language: str = "sv") -> AttendeeRows:
    """Yes first, then the waiting list, then no; by name within each. A column per question the
    meeting asks (its series' for a session), in the list's language."""
    responses = session.scalars(
        select(Response)
        .where(Response.meeting_id == meeting.id)
        .options(selectinload(Response.contact).selectinload(Contact.memberships).selectinload(Membership.organisation))
    ).all()
    words = answer_words(language)
    questions = questions_for(session, meeting.id, meeting.series_id)
    answers = answers_of(session, [response.id for response in responses])

    def key(response: Response) -> tuple[int, str]:
        rank = (
            0
            if response.answer is Answer.YES and not response.waitlisted
            else 1
            if response.answer is Answer.YES
            else 2
        )
        return rank, ((response.contact.name or response.contact.email) if response.contact else "").lower()

    rows: list[list[object]] = []
    for response in sorted(responses, key=key):
        contact = response.contact
        answer = words["waitlisted"] if response.waitlisted else words[response.answer.value]
        rows.append(
            [
                contact.name if contact else "",
                ", ".join(sorted(membership.organisation.name for membership in contact.memberships))
                if contact
                else "",
                contact.email if contact else "",
                answer,
                response.guests,
                *(answer_text(question, answers[response.id].get(question.id), language) for question in questions),
                response.comment or "",
                response.updated_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
            ]
        )
    return AttendeeRows(rows, questions)


def neutralise(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _questions_of(rows: list[list[object]]) -> list[Question]:
    return rows.questions if isinstance(rows, AttendeeRows) else []


def to_csv(rows: list[list[object]], language: str = "sv", delimiter: str = ";") -> bytes:
    """UTF-8 with BOM, so Excel opens å, ä, ö right; semicolons by default, as Swedish Excel expects."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([neutralise(header) for header in headers(language, _questions_of(rows))])  # staff's labels
    writer.writerows([neutralise(value) for value in row] for row in rows)
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(rows: list[list[object]], title: str, language: str = "sv") -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title[:31] or "Svar"
    for row in [headers(language, _questions_of(rows)), *rows]:  # the headers hold staff's question labels
        sheet.append(row)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever the text starts with
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
