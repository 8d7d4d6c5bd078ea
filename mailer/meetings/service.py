"""Creating and listing meetings, with times entered in local (Stockholm) time."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.db import utcnow
from mailer.errors import DomainError, found
from mailer.identifiers import SLUG_RE
from mailer.meetings.models import Meeting
from mailer.meetings.questions import add_default_questions
from mailer.regions import canonical_region, suggest_region

DEFAULT_LENGTH = dt.timedelta(hours=2)
# Meetings, deadlines and send times are this century's or the next few: a year outside
# is a typo, and years 1 and 9999 overflow as soon as a time zone or a length is applied.
EARLIEST_YEAR, LATEST_YEAR = 2000, 2999
TEXT_LIMITS = {"title": 200, "region": 100, "city": 100, "host": 200, "venue": 300}  # the columns' sizes


class MeetingError(DomainError, ValueError):
    """Bad meeting input; `field` names the option or form field, the code says what is wrong."""

    prefix = "error.meeting."

    def __init__(self, field: str, code: str, /, **params: Any):
        super().__init__(code, **params)
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.render('en')}"


def _not_in_the_past(field: str, text: str, when: dt.datetime, now: dt.datetime | None = None) -> None:
    """Nobody can come to a meeting in the past, and invitations to one would go out at once."""
    if when < (now or utcnow()):
        raise MeetingError(field, "start_in_past", text=text.strip())


def parse_local(field: str, text: str, tz: ZoneInfo) -> dt.datetime:
    """'YYYY-MM-DD HH:MM' in the configured zone -> aware datetime; rejects DST gaps."""
    try:
        naive = dt.datetime.strptime(text.strip(), "%Y-%m-%d %H:%M")
    except ValueError:
        raise MeetingError(field, "not_datetime", text=text) from None
    _check_year(field, text, naive)
    local = naive.replace(tzinfo=tz)
    if local.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None) != naive:
        raise MeetingError(field, "clocks_change", text=text, zone=tz.key)
    return local


def parse_date(field: str, text: str) -> dt.date:
    try:
        value = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise MeetingError(field, "not_date", text=text) from None
    _check_year(field, text, value)
    return value


def _check_year(field: str, text: str, value: dt.date) -> None:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise MeetingError(field, "year_range", text=text, earliest=EARLIEST_YEAR, latest=LATEST_YEAR)


def _validated(
    tz: ZoneInfo,
    *,
    title: str,
    region: str,
    city: str,
    starts: str,
    ends: str | None,
    host: str | None,
    venue: str | None,
    capacity: int | None,
    max_guests: int,
    rsvp_by: str | None,
    description: str | None,
) -> dict[str, Any]:
    """Column values from user input; raises MeetingError naming the field."""
    for field, value in (("title", title), ("region", region), ("city", city)):
        if not value or not value.strip():
            raise MeetingError(field, "required")
    for field, text in (("title", title), ("region", region), ("city", city), ("host", host), ("venue", venue)):
        if text and len(text.strip()) > TEXT_LIMITS[field]:
            raise MeetingError(field, "too_long", limit=TEXT_LIMITS[field])
    canonical = canonical_region(region)
    if canonical is None:
        raise MeetingError("region", "not_region", value=region.strip(), suggestion=suggest_region(region) or "–")
    region = canonical
    starts_at = parse_local("starts", starts, tz)
    # Add the default length in UTC: aware arithmetic in a local zone is wall-clock
    # time and would give 1 or 3 hours on the nights the clocks change.
    if ends:
        ends_at = parse_local("ends", ends, tz)
    else:
        ends_at = (starts_at.astimezone(dt.UTC) + DEFAULT_LENGTH).astimezone(tz)
    if ends_at <= starts_at:
        raise MeetingError("ends", "ends_before_start")
    if capacity is not None and capacity < 1:
        raise MeetingError("capacity", "at_least_one")
    if max_guests < 0:
        raise MeetingError("max_guests", "negative")
    deadline = parse_date("rsvp_by", rsvp_by) if rsvp_by else None
    if deadline is not None and deadline > starts_at.astimezone(tz).date():
        raise MeetingError("rsvp_by", "deadline_after")
    return dict(
        title=title.strip(),
        region=region.strip(),
        city=city.strip(),
        host=(host or "").strip() or None,
        venue=(venue or "").strip() or None,
        starts_at=starts_at,
        ends_at=ends_at,
        capacity=capacity,
        max_guests=max_guests,
        rsvp_by=deadline,
        description=(description or "").strip() or None,
    )


def add_meeting(
    session: Session,
    tz: ZoneInfo,
    *,
    slug: str,
    title: str,
    region: str,
    city: str,
    starts: str,
    ends: str | None = None,
    host: str | None = None,
    venue: str | None = None,
    capacity: int | None = None,
    max_guests: int = 1,
    rsvp_by: str | None = None,
    description: str | None = None,
    now: dt.datetime | None = None,
) -> Meeting:
    """Validate everything before writing anything; raises MeetingError naming the field.

    `now` is the clock the start must not be before (default: the real one).
    """
    slug = slug.strip().lower()
    if not SLUG_RE.match(slug):
        raise MeetingError("slug", "bad_slug", slug=slug)
    values = _validated(
        tz,
        title=title,
        region=region,
        city=city,
        starts=starts,
        ends=ends,
        host=host,
        venue=venue,
        capacity=capacity,
        max_guests=max_guests,
        rsvp_by=rsvp_by,
        description=description,
    )
    if session.scalar(select(Meeting.id).where(Meeting.slug == slug)) is not None:
        raise MeetingError("slug", "slug_taken", slug=slug)
    _not_in_the_past("starts", starts, values["starts_at"], now)
    meeting = Meeting(slug=slug, **values)
    session.add(meeting)
    session.flush()
    add_default_questions(session, meeting)
    return meeting


def local_text(value: dt.datetime, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def validated_changes(tz: ZoneInfo, meeting: Meeting, **changes: Any) -> dict[str, Any]:
    """The meeting's column values with the changes given; the rest keep their values, and a moved
    start keeps the length. Changes nothing: the caller applies them (mailer.staff.meeting_changes).

    A field given as None is cleared (no capacity, no deadline, no venue); a required one is refused.
    A new start in the past is refused. Raises MeetingError naming the field.
    """
    current = dict(
        title=meeting.title,
        region=meeting.region,
        city=meeting.city,
        host=meeting.host,
        venue=meeting.venue,
        starts=local_text(meeting.starts_at, tz),
        ends=local_text(meeting.ends_at, tz),
        capacity=meeting.capacity,
        max_guests=meeting.max_guests,
        rsvp_by=meeting.rsvp_by.isoformat() if meeting.rsvp_by else None,
        description=meeting.description,
    )
    unknown = set(changes) - set(current)
    if unknown:
        raise MeetingError(sorted(unknown)[0], "not_changeable")
    if "starts" in changes and "ends" not in changes:
        length = meeting.ends_at - meeting.starts_at
        start = parse_local("starts", changes["starts"], tz)
        changes["ends"] = local_text((start.astimezone(dt.UTC) + length).astimezone(tz), tz)
    values = _validated(tz, **{**current, **changes})
    if "starts" in changes and values["starts_at"] != meeting.starts_at:
        _not_in_the_past("starts", changes["starts"], values["starts_at"])
    return values


def list_meetings(session: Session) -> list[Meeting]:
    return list(session.scalars(select(Meeting).order_by(Meeting.starts_at)))


def get_meeting(session: Session, slug: str) -> Meeting:
    return found(session.scalar(select(Meeting).where(Meeting.slug == slug)), "no_meeting", slug=slug)
