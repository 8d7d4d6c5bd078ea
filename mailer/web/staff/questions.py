"""A meeting's or a series' own questions: list, add, move and remove them."""

from __future__ import annotations

from flask import Blueprint, redirect, request, url_for

from mailer.errors import DomainError, render
from mailer.meetings.models import Meeting
from mailer.staff import question_actions
from mailer.staff.roles import STAFF, VIEWER
from mailer.web.staff.access import requires
from mailer.web.staff.common import db, flash_translated, page, signed_in_staff, words

bp = Blueprint("questions", __name__)
OWNER = "/<any(meetings, series):owner>/<slug>/questions"
FIELDS = ("label_sv", "label_en", "kind", "options_sv", "options_en")


def _show(owner: str, slug: str, values: dict, error: str | None = None, status: int = 200):
    with db().reading() as session:
        try:
            found, questions = question_actions.questions(session, owner, slug)
        except LookupError:
            return page("message.html", 404, title_key="not_found_title", body_key="not_found_body")
        in_series = found.series if isinstance(found, Meeting) else None
        back = (
            url_for("staff.responses.index", slug=slug)
            if owner == "meetings"
            else url_for("staff.series.show", slug=slug)
        )
        return page(
            "questions.html",
            status,
            owner=owner,
            slug=slug,
            title=found.title,
            questions=questions,
            in_series=in_series,
            back=back,
            values=values,
            error=error,
        )


@bp.route(OWNER, methods=["GET", "POST"])
@requires(VIEWER, post=STAFF)
def index(owner: str, slug: str):
    if request.method == "GET":
        return _show(owner, slug, {"kind": "text"})
    values = {name: request.form.get(name, "") for name in FIELDS}
    required = request.form.get("required") == "1"
    try:
        with db().transaction() as session:
            question_actions.add(session, signed_in_staff().actor, owner, slug, required=required, **values)
    except LookupError:
        return page("message.html", 404, title_key="not_found_title", body_key="not_found_body")
    except DomainError as exc:
        return _show(owner, slug, {**values, "required": required}, error=render(exc, words().lang), status=422)
    flash_translated("question_added")
    return redirect(url_for(".index", owner=owner, slug=slug), code=303)


@bp.post(OWNER + "/<field>/remove")
@requires(STAFF)
def remove(owner: str, slug: str, field: str):
    try:
        with db().transaction() as session:
            question_actions.remove(session, signed_in_staff().actor, owner, slug, field)
    except DomainError as exc:
        flash_translated("action_failed", "error", reason=render(exc, words().lang))
    else:
        flash_translated("question_removed")
    return redirect(url_for(".index", owner=owner, slug=slug), code=303)


@bp.post(OWNER + "/<field>/move")
@requires(STAFF)
def move(owner: str, slug: str, field: str):
    step = -1 if request.form.get("step") == "up" else 1
    try:
        with db().transaction() as session:
            question_actions.move(session, signed_in_staff().actor, owner, slug, field, step)
    except DomainError as exc:
        flash_translated("action_failed", "error", reason=render(exc, words().lang))
    return redirect(url_for(".index", owner=owner, slug=slug), code=303)
