"""How a series stands: each session's figures, and the series' own (people, not answers).

A person invited to a series is invited to each session; per session the figures are the
meeting's (mailer.tracking.figures). For the series as a whole each person counts once: chose a
session (with a place), only waits for one, declined every session, or has not answered.
Participants and represented organisations are the union over the sessions.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailer.attendance.coverage import organisations_represented_in, participants_of
from mailer.campaigns.audience import invited_to_series
from mailer.contacts.models import Organisation
from mailer.meetings.models import Series
from mailer.rsvp.models import Answer, LinkOpen, Response
from mailer.rsvp.service import places_left
from mailer.tracking.figures import status_by_meeting

SERIES_FIGURES = (
    "invited",
    "chose",
    "waitlisted_only",
    "declined",
    "no_answer",
    "opened_not_answered",
    "participants",
    "organisations_represented",
    "organisations_total",
)


def series_status(session: Session, series: Series) -> dict[str, Any]:
    """Every figure of the series with stable keys (`mailer series status --json`, the staff page)."""
    ids = [meeting.id for meeting in series.sessions]
    per_meeting = status_by_meeting(session, ids)
    invited = set(session.scalars(invited_to_series(series.id)))
    answers: dict[int, set[str]] = {}
    for contact_id, answer, waitlisted in session.execute(
        select(func.coalesce(Response.contact_id, 0), Response.answer, Response.waitlisted).where(
            Response.meeting_id.in_(ids), Response.contact_id.is_not(None)
        )
    ):
        answers.setdefault(contact_id, set()).add(
            "no" if answer == Answer.NO else ("waitlisted" if waitlisted else "yes")
        )
    opened = (
        set(
            session.scalars(
                select(LinkOpen.contact_id).where(LinkOpen.meeting_id.in_(ids), LinkOpen.contact_id.is_not(None))
            )
        )
        if ids
        else set()
    )
    came = participants_of(session, ids)
    represented = organisations_represented_in(session, ids)
    sessions = []
    for meeting in series.sessions:
        figures = per_meeting[meeting.id].to_json()
        sessions.append(
            {
                "slug": meeting.slug,
                "title": meeting.title,
                "city": meeting.city,
                "starts": meeting.starts_at.isoformat(),
                "capacity": meeting.capacity,
                "places_left": places_left(meeting),
                "cancelled": meeting.cancelled_at is not None,
                **figures,
            }
        )
    return {
        "slug": series.slug,
        "title": series.title,
        "choice": series.choice.value,
        "invited": len(invited),
        "chose": sum(1 for given in answers.values() if "yes" in given),
        "waitlisted_only": sum(
            1 for given in answers.values() if given == {"waitlisted"} or given == {"waitlisted", "no"}
        ),
        "declined": sum(1 for given in answers.values() if given == {"no"}),
        "no_answer": len(invited - set(answers)),
        "opened_not_answered": len(opened - set(answers)),
        "participants": len(came),
        "organisations_represented": len(represented),
        "organisations_total": session.scalar(select(func.count()).select_from(Organisation)),
        "sessions": sessions,
    }


__all__ = ["SERIES_FIGURES", "series_status"]
