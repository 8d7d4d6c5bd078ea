"""The choose-your-session page /s/<token>: one link for a whole series.

As on the answer page (mailer/web/rsvp.py): GET and HEAD only log an open, since mail
scanners fetch every link; only a POST with a valid CSRF token records a choice.
Any bad token gets the same 404 page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from mailer.mail.context import codec, language_of, meeting_context
from mailer.mail.tokens import BadToken
from mailer.rsvp.questions import TEXT_LIMIT
from mailer.rsvp.series import SeriesPage, answer_series, open_series, view_series
from mailer.web.extensions import db_of, settings_of
from mailer.web.i18n import Words
from mailer.web.rsvp import not_found, posted_form, question_fields
from mailer.web.security import csrf_ok

bp = Blueprint("series", __name__, template_folder="templates")


@bp.route("/s/<token>", methods=["GET", "POST"])
def page(token: str):
    settings = settings_of(current_app)
    tokens, tz = codec(settings), settings.timezone
    posted = request.method == "POST"
    valid = posted and csrf_ok()
    answer, chosen = request.form.get("answer", ""), request.form.getlist("session")
    form = posted_form() if posted else None
    try:
        with db_of(current_app).transaction() as session:
            if not posted:
                return _render(open_series(session, tokens, token, tz), saved=request.args.get("saved") == "1")
            if not valid:
                return _render(view_series(session, tokens, token, tz), answer, chosen, form, expired=True), 400
            result = answer_series(session, tokens, token, answer, chosen, tz, form=form)
            if result is not None and result.error is not None:
                return _render(result, answer, chosen, form), 422
            if result is not None and result.tested:
                return _render(result, answer, chosen, form)
            if result is not None:  # every session closed
                return _render(result), 409
    except BadToken:
        return not_found()
    return redirect(url_for(".page", token=token, saved="1"), code=303)


def _render(
    result: SeriesPage,
    answer: str | None = None,
    chosen: list[str] | None = None,
    form: dict[str, Any] | None = None,
    saved: bool = False,
    expired: bool = False,
) -> str:
    """Called inside the transaction, while the ORM objects can still load what they need."""
    settings = settings_of(current_app)
    words = Words(language_of(result.contact, settings))
    errors = {}
    if result.error is not None:
        error = result.error
        key = f"error.question.{error.reason}" if error.question else f"error.{error.field}.{error.reason}"
        errors[error.field] = words(key, limit=error.limit)
    if chosen is None:
        chosen = [line.meeting.slug for line in result.sessions if line.chosen]
    if answer is None:
        answer = "no" if result.declined else "yes"
    sessions = [
        {
            **meeting_context(line.meeting, settings, words.lang),
            "slug": line.meeting.slug,
            "chosen": line.chosen,
            "waitlisted": line.waitlisted,
            "closed": line.closed,
            "places_left": line.places_left,
            "full": line.full,
            "cancelled": line.meeting.cancelled_at is not None,
        }
        for line in result.sessions
    ]
    return render_template(
        "public/series.html",
        t=words,
        lang=words.lang,
        series=result.series,
        several=result.several,
        sessions=sessions,
        chosen=set(chosen),
        answer=answer,
        declined=result.declined,
        answered=result.answered,
        closed=result.closed,
        errors=errors,
        saved=saved and result.answered,
        test_link=result.test,
        tested=result.tested,
        expired=expired,
        email=settings.mail_from.addr_spec,
        questions=question_fields(
            result.questions,
            form or {},
            None if form is not None else result.answers,
            language=words.lang,
            errors=errors,
        ),
        question_limit=TEXT_LIMIT,
    )
