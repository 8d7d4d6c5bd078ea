"""A meeting as a plain calendar entry (METHOD:PUBLISH), or its cancellation (METHOD:CANCEL).

Not a meeting request: a REQUEST would make calendar clients send accept/decline
replies to our From address, which nobody reads; answers go through the RSVP page.
Every entry for a meeting has the same UID; its SEQUENCE rises with each change of time
or place and at cancellation, so a calendar replaces the entry it already has.
"""

from __future__ import annotations

from icalendar import Calendar, Event

from mailer.config import Settings
from mailer.db import utcnow
from mailer.meetings.models import Meeting


def meeting_ics(meeting: Meeting, settings: Settings, url: str | None = None) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//Ax mailer//SV")
    calendar.add("version", "2.0")
    cancelled = meeting.cancelled_at is not None
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
    event = Event()
    domain = settings.mail_from.domain
    event.add("uid", f"meeting-{meeting.link_key}@{domain}")
    event.add("sequence", meeting.sequence or 0)
    if cancelled:
        event.add("status", "CANCELLED")
    event.add("dtstamp", utcnow())
    event.add("dtstart", meeting.starts_at)
    event.add("dtend", meeting.ends_at)
    event.add("summary", meeting.title)
    if meeting.place:
        event.add("location", meeting.place)
    description = "\n\n".join(p for p in (meeting.host, meeting.description, url) if p)
    if description:
        event.add("description", description)
    if url:
        event.add("url", url)
    calendar.add_component(event)
    return calendar.to_ical()
