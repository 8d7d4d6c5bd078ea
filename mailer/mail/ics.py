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

END_EVENT = b"\r\nEND:VEVENT\r\n"  # a line of its own: in a value, a line break is escaped


class MeetingCalendar:
    """One meeting's entry, made once; each recipient's copy differs only in its link.

    Why: building the whole calendar with icalendar for every message cost as much as
    rendering the message. The entry without the link is serialised once; per recipient
    only the two properties that carry the link (DESCRIPTION, URL) are serialised, by
    icalendar too (it escapes and folds them), and put inside the event.
    """

    def __init__(self, meeting: Meeting, settings: Settings):
        self.meeting = meeting
        calendar = Calendar()
        calendar.add("prodid", "-//Ax mailer//SV")
        calendar.add("version", "2.0")
        cancelled = meeting.cancelled_at is not None
        calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
        event = Event()
        event.add("uid", f"meeting-{meeting.link_key}@{settings.mail_from.domain}")
        event.add("sequence", meeting.sequence or 0)
        if cancelled:
            event.add("status", "CANCELLED")
        event.add("dtstamp", utcnow())
        event.add("dtstart", meeting.starts_at)
        event.add("dtend", meeting.ends_at)
        event.add("summary", meeting.title)
        if meeting.place:
            event.add("location", meeting.place)
        calendar.add_component(event)
        whole: bytes = calendar.to_ical()
        head, _, self.tail = whole.rpartition(END_EVENT)
        self.head = head + b"\r\n"

    def for_link(self, url: str | None = None) -> bytes:
        """The entry, with the recipient's own link (the RSVP page) when given."""
        personal = Event()
        description = "\n\n".join(part for part in (self.meeting.host, self.meeting.description, url) if part)
        if description:
            personal.add("description", description)
        if url:
            personal.add("url", url)
        lines: bytes = personal.to_ical().split(b"\r\n", 1)[1]  # without BEGIN:VEVENT, ends with END:VEVENT
        return self.head + lines + self.tail


def meeting_ics(meeting: Meeting, settings: Settings, url: str | None = None) -> bytes:
    return MeetingCalendar(meeting, settings).for_link(url)
