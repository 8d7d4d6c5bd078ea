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
    update_meeting(session, tz, meeting, evaluation_anonymous=evaluation_anonymous, **changes)
    changed = sorted(changes) + (["evaluation_anonymous"] if evaluation_anonymous is not None else [])
    record(session, actor, "meetings.update", f"meeting:{meeting.slug}", fields=changed)
    return meeting
