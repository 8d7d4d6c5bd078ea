"""Series: meetings offered together; one invitation, and the invitee chooses a session.

Staff make a series and attach meetings to it as its sessions. Answers stay per meeting
(mailer.rsvp.series records them), so a session's capacity and waitlist are its meeting's.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.db import utcnow
from mailer.errors import DomainError, found
from mailer.identifiers import SLUG_RE
from mailer.meetings.models import Meeting, Series, SeriesChoice
from mailer.meetings.questions import add_default_questions
from mailer.meetings.service import get_meeting


class SeriesError(DomainError, ValueError):
    """A series that cannot be made or changed as asked; `field` names the input at fault."""

    prefix = "error.series."

    def __init__(self, field: str, code: str, /, **params: object):
        super().__init__(code, **params)
        self.field = field


def create_series(
    session: Session, *, slug: str, title: str, choice: str = "one", description: str | None = None
) -> Series:
    """Validate everything before writing anything; raises SeriesError naming the field."""
    slug = slug.strip().lower()
    if not SLUG_RE.match(slug):
        raise SeriesError("slug", "bad_slug", slug=slug)
    title = title.strip()
    if not title:
        raise SeriesError("title", "required")
    if len(title) > 200:
        raise SeriesError("title", "too_long", limit=200)
    try:
        how_many = SeriesChoice(choice.strip().lower())
    except ValueError:
        raise SeriesError("choice", "bad_choice", choice=choice) from None
    if session.scalar(select(Series.id).where(Series.slug == slug)) is not None:
        raise SeriesError("slug", "slug_taken", slug=slug)
    series = Series(slug=slug, title=title, choice=how_many, description=(description or "").strip() or None)
    session.add(series)
    session.flush()
    add_default_questions(session, series)
    return series


def get_series(session: Session, slug: str) -> Series:
    return found(session.scalar(select(Series).where(Series.slug == slug)), "no_series", slug=slug)


def list_series(session: Session) -> list[Series]:
    return list(session.scalars(select(Series).order_by(Series.created_at, Series.id)))


def add_session(session: Session, series: Series, meeting_slug: str) -> Meeting:
    """Attach a meeting as a session; a meeting belongs to one series at most."""
    meeting = get_meeting(session, meeting_slug)
    if meeting.series_id is not None and meeting.series_id != series.id:
        assert meeting.series is not None
        raise SeriesError("meeting", "in_other_series", slug=meeting.slug, series=meeting.series.slug)
    meeting.series = series
    session.flush()
    session.refresh(series, ["sessions"])
    return meeting


def remove_session(session: Session, series: Series, meeting_slug: str) -> Meeting:
    """Detach a session that nobody has answered through the series yet (answers stay the meeting's)."""
    meeting = get_meeting(session, meeting_slug)
    if meeting.series_id != series.id:
        raise SeriesError("meeting", "not_a_session", slug=meeting.slug, series=series.slug)
    meeting.series = None
    session.flush()
    session.refresh(series, ["sessions"])
    return meeting


def open_sessions(series: Series, now: dt.datetime | None = None) -> list[Meeting]:
    """Sessions still ahead and not called off: what an invitation or reminder can offer."""
    now = now or utcnow()
    return [meeting for meeting in series.sessions if meeting.cancelled_at is None and meeting.starts_at > now]
