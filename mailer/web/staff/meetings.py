"""Meetings: list, create and edit, with the browser's own date and time pickers.

The form has separate date and time fields (`<input type=date>`/`time`); they
are joined into the "YYYY-MM-DD HH:MM" text the meetings service takes, so the
rules (Stockholm time, clock changes, deadline before the meeting) stay there.
"""

from __future__ import annotations

import re
import unicodedata

from flask import Blueprint, redirect, request, url_for

from mailer.errors import render
from mailer.meetings.service import MeetingError, get_meeting, list_meetings
from mailer.regions import region_names
from mailer.signup.service import Target
from mailer.staff import meeting_actions
from mailer.staff.meeting_changes import cancel_meeting, count_concerned, edit_meeting
from mailer.staff.roles import STAFF, VIEWER
from mailer.web.staff.access import requires
from mailer.web.staff.common import db, flash_translated, page, settings, signed_in_staff, words
from mailer.web.staff.signup import panel as signup_panel

bp = Blueprint("meetings", __name__)
FIELDS = (
    "slug",
    "title",
    "region",
    "city",
    "host",
    "venue",
    "date",
    "start",
    "end",
    "capacity",
    "max_guests",
    "rsvp_by",
    "description",
)
# where the service's field names show up in the form
FORM_FIELD = {"starts": "start", "ends": "end"}


def suggest_slug(city: str, date: str) -> str:
    """ "Gävle" on 2027-09-14 -> "gavle-2027-09-14": readable, and unique enough for a meeting."""
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
        title=values["title"],
        region=values["region"],
        city=values["city"],
        host=values["host"],
        venue=values["venue"],
        starts=f"{date} {start}",
        ends=f"{date} {end}" if end else None,
        capacity=_number(values, "capacity", None),
        max_guests=_number(values, "max_guests", 1),
        rsvp_by=values["rsvp_by"].strip() or None,
        description=values["description"],
    )


def _form(
    values: dict,
    meeting=None,
    error: str | None = None,
    status: int = 200,
    error_text: str | None = None,
    concerned: int = 0,
    notify: bool = True,
):
    signup = signup_panel(Target(meeting, None)) if meeting is not None else None
    return page(
        "meeting_form.html",
        status,
        values=values,
        meeting=meeting,
        error=error,
        error_text=error_text,
        concerned=concerned,
        notify=notify,
        regions=region_names(),
        signup=signup,
    )


SAID_IN_FULL = ("start_in_past", "capacity_below_taken", "meeting_cancelled")  # more than "check this field"


def _refused(exc: MeetingError | FormError) -> tuple[str, str | None]:
    """The form field to mark, and the refusal in words where the field's hint does not say it."""
    field = FORM_FIELD.get(exc.field, exc.field)
    return field, render(exc, words().lang) if getattr(exc, "code", None) in SAID_IN_FULL else None


@bp.get("/meetings")
@requires(VIEWER)
def index():
    with db().reading() as session:
        meetings = list_meetings(session)
    return page("meetings.html", meetings=meetings, tz=settings().timezone)


@bp.route("/meetings/new", methods=["GET", "POST"])
@requires(STAFF)
def new():
    if request.method != "POST":
        return _form({name: "" for name in FIELDS} | {"max_guests": "1", "start": "18:00", "end": "20:00"})
    values = {name: request.form.get(name, "") for name in FIELDS}
    slug = values["slug"].strip() or suggest_slug(values["city"], values["date"])
    try:
        with db().transaction() as session:
            meeting_actions.create(
                session, settings().timezone, signed_in_staff().actor, slug=slug, **_arguments(values)
            )
    except (MeetingError, FormError) as exc:
        field, text = _refused(exc)
        return _form(values, error=field, status=422, error_text=text)
    flash_translated("meeting_saved")
    return redirect(url_for(".index"), code=303)


def _values_of(meeting) -> dict:
    tz = settings().timezone
    starts, ends = meeting.starts_at.astimezone(tz), meeting.ends_at.astimezone(tz)
    return {
        "slug": meeting.slug,
        "title": meeting.title,
        "region": meeting.region,
        "city": meeting.city,
        "host": meeting.host or "",
        "venue": meeting.venue or "",
        "date": starts.strftime("%Y-%m-%d"),
        "start": starts.strftime("%H:%M"),
        "end": ends.strftime("%H:%M"),
        "capacity": "" if meeting.capacity is None else str(meeting.capacity),
        "max_guests": str(meeting.max_guests),
        "rsvp_by": meeting.rsvp_by.isoformat() if meeting.rsvp_by else "",
        "description": meeting.description or "",
    }


@bp.route("/meetings/<slug>/edit", methods=["GET", "POST"])
@requires(STAFF)
def edit(slug: str):
    with db().transaction() as session:
        meeting = get_meeting(session, slug)  # an unknown one: the staff 404 page
        concerned = count_concerned(session, meeting)
        if request.method != "POST":
            return _form(_values_of(meeting), meeting, concerned=concerned)
        values = {name: request.form.get(name, "") for name in FIELDS} | {"slug": slug}
        notify = request.form.get("notify", "1") == "1"
        try:
            with session.begin_nested():
                change = edit_meeting(
                    session,
                    settings().timezone,
                    settings().language,
                    signed_in_staff().actor,
                    meeting,
                    notify=notify,
                    **_arguments(values),
                )
        except (MeetingError, FormError) as exc:
            field, text = _refused(exc)
            return _form(values, meeting, error=field, status=422, error_text=text, concerned=concerned, notify=notify)
    if change.notified:
        flash_translated("meeting_saved_notified", n=change.notified)
    else:
        flash_translated("meeting_saved")
    return redirect(url_for(".index"), code=303)


@bp.post("/meetings/<slug>/cancel")
@requires(STAFF)
def cancel(slug: str):
    """Call the meeting off; everyone with a yes or a waitlist place is mailed a cancellation."""
    try:
        with db().transaction() as session:
            change = cancel_meeting(session, signed_in_staff().actor, get_meeting(session, slug))
    except MeetingError as exc:
        flash_translated("action_failed", "error", reason=render(exc, words().lang))
        return redirect(url_for(".edit", slug=slug), code=303)
    flash_translated("meeting_cancelled_done", n=change.notified)
    return redirect(url_for(".index"), code=303)
