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
from mailer.web.staff.common import db, page, say, settings, signed_in_staff, words
from mailer.web.staff.signup import panel as signup_panel

bp = Blueprint("series", __name__)
FIELDS = ("slug", "title", "choice", "description")


def _index(values: dict, error: str | None = None, status: int = 200):
    with db().reading() as s:
        rows = [(series, len(series.sessions)) for series in list_series(s)]
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
        with db().transaction() as s:
            created = series_actions.create(s, signed_in_staff().actor, slug=values["slug"], title=values["title"],
                                            choice=values["choice"] or "one", description=values["description"])
            slug = created.slug
    except DomainError as exc:
        return _index(values, error=render(exc, words().lang), status=422)
    say("series_saved")
    return redirect(url_for(".show", slug=slug), code=303)


@bp.get("/series/<slug>")
@requires(VIEWER)
def show(slug: str):
    tz = settings().timezone
    with db().reading() as s:
        series = get_series(s, slug)  # an unknown one: the staff 404 page
        data = series_status(s, series)
        free = [m for m in list_meetings(s) if m.series_id is None and m.cancelled_at is None]
        return page("series.html", series=series, data=data, free=free, tz=tz,
                    signup=signup_panel(Target(None, series)))


@bp.post("/series/<slug>/sessions")
@requires(STAFF)
def add(slug: str):
    try:
        with db().transaction() as s:
            series_actions.add(s, signed_in_staff().actor, slug, request.form.get("meeting", ""))
    except DomainError as exc:
        say("action_failed", "error", reason=render(exc, words().lang))
    else:
        say("series_session_added")
    return redirect(url_for(".show", slug=slug), code=303)


@bp.post("/series/<slug>/sessions/<meeting>/remove")
@requires(STAFF)
def remove(slug: str, meeting: str):
    try:
        with db().transaction() as s:
            series_actions.remove(s, signed_in_staff().actor, slug, meeting)
    except DomainError as exc:
        say("action_failed", "error", reason=render(exc, words().lang))
    else:
        say("series_session_removed")
    return redirect(url_for(".show", slug=slug), code=303)
