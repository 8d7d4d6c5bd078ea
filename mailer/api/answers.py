"""Answers and attendance, read only, filtered by meeting, organisation and time (`since`).

Paged by (time, id) of the last change: a client that keeps the last `next_cursor`, or asks
`since` its last run, sees every answer given or changed after it, exactly once per change.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session, selectinload

from mailer.api.context import Context
from mailer.api.errors import ApiError, not_found
from mailer.api.paging import PageRequest, page
from mailer.attendance.models import Attendance
from mailer.contacts.models import Contact, Membership, Organisation
from mailer.meetings.models import Meeting
from mailer.rsvp.models import QuestionAnswer, Response
from mailer.rsvp.questions import described_answers


def _since(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.strip().replace(" ", "+"))
    except ValueError:
        raise ApiError("bad_since", 400, field="since") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _filters(
    session: Session,
    column_meeting: InstrumentedAttribute[Any],
    column_contact: InstrumentedAttribute[Any],
    meeting: str | None,
    organisation: str | None,
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if meeting:
        meeting_id = session.scalar(select(Meeting.id).where(Meeting.slug == meeting))
        if meeting_id is None:
            raise not_found("meeting", meeting)
        conditions.append(column_meeting == meeting_id)
    if organisation:
        org_id = session.scalar(select(Organisation.id).where(Organisation.slug == organisation))
        if org_id is None:
            raise not_found("organisation", organisation)
        conditions.append(column_contact.in_(select(Membership.contact_id).where(Membership.organisation_id == org_id)))
    return conditions


def _after(
    paging: PageRequest, time_column: InstrumentedAttribute[Any], id_column: InstrumentedAttribute[Any]
) -> list[ColumnElement[bool]]:
    if not paging.after:
        return []
    if len(paging.after) != 2 or not isinstance(paging.after[1], int):
        raise ApiError("bad_cursor", 400, field="cursor")
    try:
        when = dt.datetime.fromisoformat(str(paging.after[0]))
    except ValueError:
        raise ApiError("bad_cursor", 400, field="cursor") from None
    return [or_(time_column > when, and_(time_column == when, id_column > paging.after[1]))]


def _person(contact: Contact | None) -> dict[str, Any] | None:
    if contact is None:
        return None
    return {
        "id": contact.id,
        "email": contact.email,
        "name": contact.name,
        "organisations": sorted(membership.organisation.slug for membership in contact.memberships),
    }


def render_answer(response: Response) -> dict[str, Any]:
    return {
        "id": response.id,
        "meeting": response.meeting.slug,
        "contact": _person(response.contact),
        "answer": response.answer.value,
        "waitlisted": response.waitlisted,
        "guests": response.guests,
        "answers": described_answers(response),
        "comment": response.comment,
        "created_at": response.created_at.isoformat(),
        "updated_at": response.updated_at.isoformat(),
    }


def list_answers(
    ctx: Context, paging: PageRequest, meeting: str | None, organisation: str | None, since: str | None
) -> dict[str, Any]:
    after = _since(since)
    with ctx.db.reading() as session:
        conditions = _filters(session, Response.meeting_id, Response.contact_id, meeting, organisation)
        conditions += _after(paging, Response.updated_at, Response.id)
        if after is not None:
            conditions.append(Response.updated_at > after)
        rows = list(
            session.scalars(
                select(Response)
                .where(*conditions)
                .options(
                    selectinload(Response.meeting),
                    selectinload(Response.answers).selectinload(QuestionAnswer.question),
                    selectinload(Response.contact)
                    .selectinload(Contact.memberships)
                    .selectinload(Membership.organisation),
                )
                .order_by(Response.updated_at, Response.id)
                .limit(paging.limit + 1)
            )
        )
        return page(
            rows, paging, key=lambda response: [response.updated_at.isoformat(), response.id], render=render_answer
        )


def render_attendance(row: Attendance, meeting: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "meeting": meeting,
        "contact": _person(row.contact),
        "name": row.name or (row.contact.name if row.contact else None),
        "organisation_name": row.organisation_name,
        "walk_in": row.walk_in,
        "checked_in_at": row.checked_in_at.isoformat(),
    }


def list_attendance(
    ctx: Context, paging: PageRequest, meeting: str | None, organisation: str | None, since: str | None
) -> dict[str, Any]:
    after = _since(since)
    with ctx.db.reading() as session:
        conditions = _filters(session, Attendance.meeting_id, Attendance.contact_id, meeting, organisation)
        conditions += _after(paging, Attendance.checked_in_at, Attendance.id)
        if after is not None:
            conditions.append(Attendance.checked_in_at > after)
        rows = session.execute(
            select(Attendance, Meeting.slug)
            .join(Meeting, Meeting.id == Attendance.meeting_id)
            .where(*conditions)
            .options(
                selectinload(Attendance.contact).selectinload(Contact.memberships).selectinload(Membership.organisation)
            )
            .order_by(Attendance.checked_in_at, Attendance.id)
            .limit(paging.limit + 1)
        ).all()
        return page(
            rows,
            paging,
            key=lambda row: [row[0].checked_in_at.isoformat(), row[0].id],
            render=lambda row: render_attendance(*row),
        )
