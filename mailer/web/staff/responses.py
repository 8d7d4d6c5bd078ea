"""A meeting's answers: table with filters, check-in at the door (phone-sized), evaluations, export."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, request, url_for

from mailer.staff.responses import (
    ANSWERS,
    attendee_file,
    checkin_rows,
    mark_arrived,
    responses_page,
    unmark_arrived,
    walk_in,
)
from mailer.staff.roles import STAFF, VIEWER
from mailer.web.staff.access import requires
from mailer.web.staff.common import db, flash_translated, page, settings, signed_in_staff, words

bp = Blueprint("responses", __name__)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _not_found():
    return page("message.html", 404, title_key="not_found_title", body_key="not_found_body")


@bp.get("/meetings/<slug>/responses")
@requires(VIEWER)
def index(slug: str):
    answer = request.args.get("answer") if request.args.get("answer") in ANSWERS else ""
    org = request.args.get("org", "")
    with db().reading() as session:
        try:
            data = responses_page(session, slug, answer or None, org or None, language=words().lang)
        except LookupError:
            return _not_found()
        return page("responses.html", data=data, answer=answer, org=org, answers=ANSWERS, tz=settings().timezone)


@bp.get("/meetings/<slug>/export.<any(csv, xlsx):kind>")
@requires(VIEWER)
def export(slug: str, kind: str):
    with db().reading() as session:
        try:
            body = attendee_file(session, slug, settings().timezone, words().lang, kind)
        except LookupError:
            return _not_found()
    return Response(
        body,
        mimetype="text/csv" if kind == "csv" else XLSX,
        headers={"Content-Disposition": f'attachment; filename="{slug}.{kind}"'},
    )


@bp.get("/meetings/<slug>/checkin")
@requires(STAFF)
def checkin(slug: str):
    query = request.args.get("q", "")
    with db().reading() as session:
        try:
            meeting, rows, walk_ins = checkin_rows(session, slug, query)
        except LookupError:
            return _not_found()
        return page(
            "checkin.html",
            meeting=meeting,
            rows=rows,
            query=query,
            walk_ins=walk_ins,
            arrived=sum(1 for row in rows if row.checked_in) + len(walk_ins),
        )


@bp.post("/meetings/<slug>/checkin")
@requires(STAFF)
def mark(slug: str):
    email, undo = request.form.get("email", ""), request.form.get("action") == "undo"
    with db().transaction() as session:
        try:
            done = (
                unmark_arrived(session, slug, email, signed_in_staff().actor)
                if undo
                else bool(mark_arrived(session, slug, email, signed_in_staff().actor).checked_in)
            )
        except LookupError:
            return _not_found()
    if done and undo:
        flash_translated("checked_out", email=email)
    elif done:
        flash_translated("checked_in", email=email)
    return redirect(url_for(".checkin", slug=slug, q=request.form.get("q") or None), code=303)


@bp.post("/meetings/<slug>/walk-in")
@requires(STAFF)
def add_walk_in(slug: str):
    name = request.form.get("name", "")
    with db().transaction() as session:
        try:
            walk_in(session, slug, name, request.form.get("organisation"), signed_in_staff().actor)
        except LookupError:
            return _not_found()
        except ValueError:
            flash_translated("walk_in_needs_name", "error")
            return redirect(url_for(".checkin", slug=slug), code=303)
    flash_translated("walk_in_added", name=" ".join(name.split()))
    return redirect(url_for(".checkin", slug=slug), code=303)
