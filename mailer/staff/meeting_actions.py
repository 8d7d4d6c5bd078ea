"""A new meeting by a person (web app or CLI), with its audit-log entry in the same transaction.

Changes and cancellations, which may mail those coming, belong to `mailer.staff.meeting_changes`.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from mailer.audit.log import record
from mailer.meetings.models import Meeting
from mailer.meetings.service import add_meeting


def create(session: Session, tz: ZoneInfo, actor: str, **fields) -> Meeting:
    meeting = add_meeting(session, tz, **fields)
    record(session, actor, "meetings.add", f"meeting:{meeting.slug}")
    return meeting
