"""Retention: answers and evaluations of meetings older than the retention period are anonymised.

The figures stay (how many said yes, the scores), the link to the person goes:
responses, attendance and evaluations lose their contact and free text, and
logged link opens are deleted. Run daily by the worker; harmless to repeat.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from mailer.db import utcnow
from mailer.evaluations.models import Evaluation, EvaluationReceipt
from mailer.meetings.models import Meeting
from mailer.rsvp.models import LinkOpen, Response, ResponseChange
from mailer.tracking.models import Attendance


@dataclass
class Anonymised:
    meetings: int
    responses: int
    evaluations: int


def cutoff(months: int, now: dt.datetime | None = None) -> dt.datetime:
    return (now or utcnow()) - dt.timedelta(days=round(months * 365.25 / 12))


def anonymise_expired(session: Session, months: int, now: dt.datetime | None = None) -> Anonymised:
    old = select(Meeting.id).where(Meeting.ends_at < cutoff(months, now))
    meeting_ids = list(session.scalars(old))
    if not meeting_ids:
        return Anonymised(0, 0, 0)
    response_ids = select(Response.id).where(Response.meeting_id.in_(meeting_ids))
    session.execute(update(ResponseChange).where(ResponseChange.response_id.in_(response_ids))
                    .values(diet=None, accessibility=None, comment=None))
    responses = session.execute(
        update(Response).where(Response.meeting_id.in_(meeting_ids), Response.contact_id.is_not(None))
        .values(contact_id=None, diet=None, accessibility=None, comment=None)).rowcount
    evaluations = session.execute(
        update(Evaluation).where(Evaluation.meeting_id.in_(meeting_ids), Evaluation.contact_id.is_not(None))
        .values(contact_id=None, comment=None)).rowcount
    session.execute(update(EvaluationReceipt).where(EvaluationReceipt.meeting_id.in_(meeting_ids))
                    .values(contact_id=None))
    session.execute(update(Attendance).where(Attendance.meeting_id.in_(meeting_ids))
                    .values(contact_id=None, name=None))
    session.execute(delete(LinkOpen).where(LinkOpen.meeting_id.in_(meeting_ids)))
    return Anonymised(len(meeting_ids), responses, evaluations)
