"""Meeting changes by a person (web app or CLI), each with its audit-log entry in the same transaction."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from mailer.audit.log import record
from mailer.meetings.models import Meeting
from mailer.meetings.service import add_meeting, update_meeting


def create(session: Session, tz: ZoneInfo, actor: str, **fields) -> Meeting:
    meeting = add_meeting(session, tz, **fields)
    record(session, actor, "meetings.create", f"meeting:{meeting.slug}")
    return meeting


def update(session: Session, tz: ZoneInfo, actor: str, meeting: Meeting, *,
           evaluation_anonymous: bool | None = None, **changes) -> Meeting:
    """Change a meeting; the audit entry names the columns whose values really changed."""
    columns = [column.key for column in Meeting.__table__.columns]
    before = {name: getattr(meeting, name) for name in columns}
    update_meeting(session, tz, meeting, evaluation_anonymous=evaluation_anonymous, **changes)
    changed = [name for name in columns if getattr(meeting, name) != before[name] and name != "updated_at"]
    if changed:
        record(session, actor, "meetings.update", f"meeting:{meeting.slug}", fields=changed)
    return meeting
