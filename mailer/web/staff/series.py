"""Series: list and create them, attach meetings as sessions, and see each session's answers."""

from __future__ import annotations

from flask import Blueprint, redirect, request, url_for

from mailer.errors import DomainError, render
from mailer.meetings.series import get_series, list_series
from mailer.meetings.service import list_meetings
from mailer.signup.service import Target
from mailer.staff import series_actions
from mailer.staff.roles import STAFF, VIEWER
from mailer.tracking.series import series_status
from mailer.web.staff.access import requires
from mailer.web.staff.common import db, flash_translated, page, settings, signed_in_staff, words
from mailer.web.staff.signup import panel as signup_panel

bp = Blueprint("series", __name__)
FIELDS = ("slug", "title", "choice", "description")


def _index(values: dict, error: str | None = None, status: int = 200):
    with db().reading() as session:
        rows = [(series, len(series.sessions)) for series in list_series(session)]
        return page("series_list.html", status, rows=rows, values=values, error=error)


@bp.get("/series")
@requires(VIEWER)
def index():
    return _index({"choice": "one"})


@bp.post("/series")
@requires(STAFF)
def create():
    values = {name: request.form.get(name, "") for name in FIELDS}
    try:
        with db().transaction() as session:
            created = series_actions.create(
                session,
                signed_in_staff().actor,
                slug=values["slug"],
                title=values["title"],
                choice=values["choice"] or "one",
                description=values["description"],
            )
            slug = created.slug
    except DomainError as exc:
        return _index(values, error=render(exc, words().lang), status=422)
    flash_translated("series_saved")
    return redirect(url_for(".show", slug=slug), code=303)


@bp.get("/series/<slug>")
@requires(VIEWER)
def show(slug: str):
    tz = settings().timezone
    with db().reading() as session:
        series = get_series(session, slug)  # an unknown one: the staff 404 page
        data = series_status(session, series)
        free = [
            meeting for meeting in list_meetings(session) if meeting.series_id is None and meeting.cancelled_at is None
        ]
        return page(
            "series.html", series=series, data=data, free=free, tz=tz, signup=signup_panel(Target(None, series))
        )


@bp.post("/series/<slug>/sessions")
@requires(STAFF)
def add(slug: str):
    try:
        with db().transaction() as session:
            series_actions.add(session, signed_in_staff().actor, slug, request.form.get("meeting", ""))
    except DomainError as exc:
        flash_translated("action_failed", "error", reason=render(exc, words().lang))
    else:
        flash_translated("series_session_added")
    return redirect(url_for(".show", slug=slug), code=303)


@bp.post("/series/<slug>/sessions/<meeting>/remove")
@requires(STAFF)
def remove(slug: str, meeting: str):
    try:
        with db().transaction() as session:
            series_actions.remove(session, signed_in_staff().actor, slug, meeting)
    except DomainError as exc:
        flash_translated("action_failed", "error", reason=render(exc, words().lang))
    else:
        flash_translated("series_session_removed")
    return redirect(url_for(".show", slug=slug), code=303)
