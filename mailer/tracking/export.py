"""The attendee list for name tags and catering, as CSV for Swedish Excel or as .xlsx.

A cell that starts with =, +, - or @ (or a tab or carriage return) could run as a
formula when a spreadsheet opens the file: in CSV it gets a leading apostrophe,
in .xlsx it is stored as a text cell.
"""

from __future__ import annotations

import csv
import io
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mailer.contacts.models import Contact, Membership
from mailer.meetings.models import Meeting
from mailer.rsvp.models import Answer, Response
from mailer.translations import translate

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
COLUMNS = ("name", "organisations", "email", "answer", "guests", "diet", "accessibility", "comment", "answered_at")


def headers(language: str) -> list[str]:
    """The column names in the list's language (catalog keys export.col_*)."""
    return [translate(f"export.col_{column}", language) for column in COLUMNS]


def answer_words(language: str) -> dict[str, str]:
    return {answer: translate(f"export.answer_{answer}", language) for answer in ("yes", "no", "waitlisted")}


def attendee_rows(session: Session, meeting: Meeting, tz: ZoneInfo, language: str = "sv") -> list[list[object]]:
    """Yes first, then the waiting list, then no; by name within each."""
    responses = session.scalars(
        select(Response).where(Response.meeting_id == meeting.id)
        .options(selectinload(Response.contact).selectinload(Contact.memberships).selectinload(Membership.organisation))
    ).all()
    words = answer_words(language)

    def key(response: Response) -> tuple[int, str]:
        rank = 0 if response.answer is Answer.YES and not response.waitlisted else 1 if response.answer is Answer.YES else 2
        return rank, ((response.contact.name or response.contact.email) if response.contact else "").lower()

    rows: list[list[object]] = []
    for response in sorted(responses, key=key):
        contact = response.contact
        answer = words["waitlisted"] if response.waitlisted else words[response.answer.value]
        rows.append([
            contact.name if contact else "", ", ".join(sorted(membership.organisation.name for membership in contact.memberships)) if contact else "",
            contact.email if contact else "", answer, response.guests, response.diet or "", response.accessibility or "", response.comment or "",
            response.updated_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
        ])
    return rows


def neutralise(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def to_csv(rows: list[list[object]], language: str = "sv", delimiter: str = ";") -> bytes:
    """UTF-8 with BOM, so Excel opens å, ä, ö right; semicolons by default, as Swedish Excel expects."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(headers(language))
    writer.writerows([neutralise(value) for value in row] for row in rows)
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(rows: list[list[object]], title: str, language: str = "sv") -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title[:31] or "Svar"
    sheet.append(headers(language))
    for row in rows:
        sheet.append(row)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever the text starts with
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
