"""The meeting.changed webhook event, and the meeting as every event shows it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from mailer.meetings.models import Meeting
from mailer.webhooks import MEETING_CHANGED
from mailer.webhooks.events import emit


def _utc(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def meeting_data(meeting: Meeting) -> dict[str, Any]:
    """What receivers need to know which meeting, when and where (times in UTC, ISO 8601)."""
    return {
        "id": meeting.id,
        "slug": meeting.slug,
        "title": meeting.title,
        "region": meeting.region,
        "host": meeting.host,
        "city": meeting.city,
        "venue": meeting.venue,
        "starts_at": _utc(meeting.starts_at),
        "ends_at": _utc(meeting.ends_at),
        "capacity": meeting.capacity,
        "rsvp_by": meeting.rsvp_by.isoformat() if meeting.rsvp_by else None,
        "cancelled": meeting.cancelled_at is not None,
        "cancelled_at": _utc(meeting.cancelled_at),
        "sequence": meeting.sequence or 0,
        "series": meeting.series.slug if meeting.series else None,
    }


def meeting_changed(session: Session, meeting: Meeting, changed: list[str], change: str) -> int:
    """Queue meeting.changed (`change` is "edited" or "cancelled"; `changed` names the fields)."""
    return emit(
        session,
        MEETING_CHANGED,
        lambda: {"meeting": meeting_data(meeting), "change": change, "changed": list(changed)},
        meeting_id=meeting.id,
    )
