"""Series changes by a person (web app or CLI), each with its audit-log entry in the same transaction."""

from __future__ import annotations

from sqlalchemy.orm import Session

from mailer.audit.log import record
from mailer.meetings.models import Meeting, Question, Series
from mailer.meetings.questions import questions_for
from mailer.meetings.series import SeriesError, add_session, create_series, get_series, remove_session
from mailer.meetings.service import get_meeting
from mailer.rsvp.questions import AnswersStranded, carry_answers


def create(
    session: Session, actor: str, *, slug: str, title: str, choice: str = "one", description: str | None = None
) -> Series:
    series = create_series(session, slug=slug, title=title, choice=choice, description=description)
    record(session, actor, "series.create", f"series:{series.slug}", choice=series.choice.value)
    return series


def add(session: Session, actor: str, series_slug: str, meeting_slug: str) -> Meeting:
    """Attach the session; answers already given to its own diet and accessibility questions move
    to the series' (a session asks its series' questions)."""
    series = get_series(session, series_slug)
    meeting = get_meeting(session, meeting_slug)
    asked = questions_for(session, meeting.id, meeting.series_id)
    meeting = add_session(session, series, meeting_slug)
    moved = _carry(session, meeting, asked, questions_for(session, meeting.id, series.id))
    record(session, actor, "series.add", f"series:{series_slug}", meeting=meeting.slug, answers_moved=moved)
    return meeting


def remove(session: Session, actor: str, series_slug: str, meeting_slug: str) -> Meeting:
    """Detach the session; the answers to the series' questions go back to the meeting's own."""
    series = get_series(session, series_slug)
    asked = questions_for(session, 0, series.id)
    meeting = remove_session(session, series, meeting_slug)
    moved = _carry(session, meeting, asked, questions_for(session, meeting.id, None))
    record(session, actor, "series.remove", f"series:{series_slug}", meeting=meeting.slug, answers_moved=moved)
    return meeting


def _carry(session: Session, meeting: Meeting, asked: list[Question], to_ask: list[Question]) -> int:
    try:
        return carry_answers(session, meeting.id, asked, to_ask)
    except AnswersStranded as exc:
        raise SeriesError("meeting", "answers_stranded", slug=meeting.slug, questions=", ".join(exc.labels)) from None
