"""Meetings (create, change, list) and series with their sessions (read only).

Times are given as the staff web and the CLI take them, "YYYY-MM-DD HH:MM" in the configured
time zone (Europe/Stockholm), and shown both that way and as UTC instants (`starts_at`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from mailer.api import schemas
from mailer.api.bodies import check
from mailer.api.context import Context
from mailer.api.errors import lookup
from mailer.api.paging import PageRequest, by_id, id_page
from mailer.meetings.models import Meeting, Series
from mailer.meetings.series import get_series as find_series
from mailer.meetings.service import get_meeting as find_meeting
from mailer.meetings.service import local_text
from mailer.staff import meeting_actions
from mailer.staff.meeting_changes import edit_meeting

CHANGEABLE = (
    "title",
    "region",
    "city",
    "host",
    "venue",
    "starts",
    "ends",
    "capacity",
    "max_guests",
    "rsvp_by",
    "description",
)


def render(meeting: Meeting, ctx: Context) -> dict[str, Any]:
    tz = ctx.settings.timezone
    return {
        "slug": meeting.slug,
        "title": meeting.title,
        "region": meeting.region,
        "city": meeting.city,
        "host": meeting.host,
        "venue": meeting.venue,
        "starts": local_text(meeting.starts_at, tz),
        "ends": local_text(meeting.ends_at, tz),
        "starts_at": meeting.starts_at.isoformat(),
        "ends_at": meeting.ends_at.isoformat(),
        "capacity": meeting.capacity,
        "max_guests": meeting.max_guests,
        "rsvp_by": meeting.rsvp_by.isoformat() if meeting.rsvp_by else None,
        "description": meeting.description,
        "cancelled": meeting.cancelled_at is not None,
        "series": meeting.series.slug if meeting.series is not None else None,
    }


def list_meetings(ctx: Context, paging: PageRequest) -> dict[str, Any]:
    query = by_id(select(Meeting).options(selectinload(Meeting.series)), Meeting.id, paging)
    with ctx.db.reading() as session:
        return id_page(session, query, paging, lambda meeting: render(meeting, ctx))


def get_meeting(ctx: Context, slug: str) -> dict[str, Any]:
    with ctx.db.reading() as session:
        return render(lookup("meeting", find_meeting, session, slug), ctx)


def create_meeting(ctx: Context, body: Any) -> dict[str, Any]:
    values = check(body, schemas.MEETING_NEW)
    values.setdefault("max_guests", 1)
    with ctx.db.transaction() as session:
        meeting = meeting_actions.create(session, ctx.settings.timezone, ctx.caller.actor, **values)
        return render(meeting, ctx)


def update_meeting(ctx: Context, slug: str, body: Any) -> dict[str, Any]:
    """Change the fields given; those who come are mailed about a new time or place unless `notify` is false."""
    values = check(body, schemas.MEETING_CHANGE)
    notify = values.pop("notify", True)
    with ctx.db.transaction() as session:
        meeting = lookup("meeting", find_meeting, session, slug)
        edit_meeting(
            session, ctx.settings.timezone, ctx.settings.language, ctx.caller.actor, meeting, notify=notify, **values
        )
        return render(meeting, ctx)


def render_series(series: Series, ctx: Context) -> dict[str, Any]:
    return {
        "slug": series.slug,
        "title": series.title,
        "description": series.description,
        "choice": series.choice.value,
        "sessions": [render(meeting, ctx) for meeting in series.sessions],
    }


def list_series(ctx: Context, paging: PageRequest) -> dict[str, Any]:
    query = by_id(select(Series).options(selectinload(Series.sessions).selectinload(Meeting.series)), Series.id, paging)
    with ctx.db.reading() as session:
        return id_page(session, query, paging, lambda series: render_series(series, ctx))


def get_series(ctx: Context, slug: str) -> dict[str, Any]:
    with ctx.db.reading() as session:
        return render_series(lookup("series", find_series, session, slug), ctx)
