"""Meetings: list, create and edit, with the browser's own date and time pickers.

The form has separate date and time fields (`<input type=date>`/`time`); they
are joined into the "YYYY-MM-DD HH:MM" text the meetings service takes, so the
rules (Stockholm time, clock changes, deadline before the meeting) stay there.
"""

from __future__ import annotations

import re
import unicodedata

from flask import Blueprint, redirect, request, url_for

from mailer.meetings.service import MeetingError, get_meeting, list_meetings
from mailer.staff import meeting_actions
from mailer.web.staff.common import db, me, page, say, settings
from mailer.staff.roles import STAFF, VIEWER
from mailer.web.staff.access import requires

bp = Blueprint("meetings", __name__)
FIELDS = ("slug", "title", "region", "city", "host", "venue", "date", "start", "end", "capacity", "max_guests",
          "rsvp_by", "description")
# where the service's field names show up in the form
FORM_FIELD = {"starts": "start", "ends": "end"}


def suggest_slug(city: str, date: str) -> str:
    """"Gävle" on 2027-09-14 -> "gavle-2027-09-14": readable, and unique enough for a meeting."""
    plain = unicodedata.normalize("NFKD", city).encode("ascii", "ignore").decode().lower()
    return "-".join(filter(None, [re.sub(r"[^a-z0-9]+", "-", plain).strip("-"), date.strip()]))


class FormError(ValueError):
    def __init__(self, field: str):
        super().__init__(field)
        self.field = field


def _number(values: dict, name: str, default: int | None) -> int | None:
    text = values.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit():
        raise FormError(name)
    return int(text)


def _arguments(values: dict) -> dict:
    """Form values -> keyword arguments of add_meeting/update_meeting (raises FormError)."""
    date, start, end = values["date"].strip(), values["start"].strip(), values["end"].strip()
    if not date:
        raise FormError("date")
    if not start:
        raise FormError("start")
    return dict(
        title=values["title"], region=values["region"], city=values["city"], host=values["host"],
        venue=values["venue"], starts=f"{date} {start}", ends=f"{date} {end}" if end else None,
        capacity=_number(values, "capacity", None), max_guests=_number(values, "max_guests", 1),
        rsvp_by=values["rsvp_by"].strip() or None, description=values["description"],
    )


def _form(values: dict, meeting=None, error: str | None = None, status: int = 200):
    return page("meeting_form.html", status, values=values, meeting=meeting, error=error)


@bp.get("/meetings")
@requires(VIEWER)
def index():
    with db().transaction() as s:
        meetings = list_meetings(s)
    return page("meetings.html", meetings=meetings, tz=settings().timezone)


@bp.route("/meetings/new", methods=["GET", "POST"])
@requires(STAFF)
def new():
    if request.method != "POST":
        return _form({name: "" for name in FIELDS} | {"max_guests": "1", "start": "18:00", "end": "20:00"})
    values = {name: request.form.get(name, "") for name in FIELDS}
    slug = values["slug"].strip() or suggest_slug(values["city"], values["date"])
    try:
        with db().transaction() as s:
            meeting_actions.create(s, settings().timezone, me().actor, slug=slug, **_arguments(values))
    except (MeetingError, FormError) as exc:
        return _form(values, error=FORM_FIELD.get(exc.field, exc.field), status=422)
    say("meeting_saved")
    return redirect(url_for(".index"), code=303)


def _values_of(meeting) -> dict:
    tz = settings().timezone
    starts, ends = meeting.starts_at.astimezone(tz), meeting.ends_at.astimezone(tz)
    return {"slug": meeting.slug, "title": meeting.title, "region": meeting.region, "city": meeting.city,
            "host": meeting.host or "", "venue": meeting.venue or "", "date": starts.strftime("%Y-%m-%d"),
            "start": starts.strftime("%H:%M"), "end": ends.strftime("%H:%M"),
            "capacity": "" if meeting.capacity is None else str(meeting.capacity),
            "max_guests": str(meeting.max_guests), "rsvp_by": meeting.rsvp_by.isoformat() if meeting.rsvp_by else "",
            "description": meeting.description or ""}


@bp.route("/meetings/<slug>/edit", methods=["GET", "POST"])
@requires(STAFF)
def edit(slug: str):
    with db().transaction() as s:
        try:
            meeting = get_meeting(s, slug)
        except LookupError:
            return page("message.html", 404, title_key="not_found_title", body_key="not_found_body")
        if request.method != "POST":
            return _form(_values_of(meeting), meeting)
        values = {name: request.form.get(name, "") for name in FIELDS} | {"slug": slug}
        try:
            with s.begin_nested():
                meeting_actions.update(s, settings().timezone, me().actor, meeting, **_arguments(values))
        except (MeetingError, FormError) as exc:
            return _form(values, meeting, error=FORM_FIELD.get(exc.field, exc.field), status=422)
    say("meeting_saved")
    return redirect(url_for(".index"), code=303)
