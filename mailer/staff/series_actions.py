"""Series changes by a person (web app or CLI), each with its audit-log entry in the same transaction."""

from __future__ import annotations

from sqlalchemy.orm import Session

from mailer.audit.log import record
from mailer.meetings.models import Meeting, Series
from mailer.meetings.series import add_session, create_series, get_series, remove_session


def create(
    session: Session, actor: str, *, slug: str, title: str, choice: str = "one", description: str | None = None
) -> Series:
    series = create_series(session, slug=slug, title=title, choice=choice, description=description)
    record(session, actor, "series.create", f"series:{series.slug}", choice=series.choice.value)
    return series


def add(session: Session, actor: str, series_slug: str, meeting_slug: str) -> Meeting:
    meeting = add_session(session, get_series(session, series_slug), meeting_slug)
    record(session, actor, "series.add", f"series:{series_slug}", meeting=meeting.slug)
    return meeting


def remove(session: Session, actor: str, series_slug: str, meeting_slug: str) -> Meeting:
    meeting = remove_session(session, get_series(session, series_slug), meeting_slug)
    record(session, actor, "series.remove", f"series:{series_slug}", meeting=meeting.slug)
    return meeting
