"""The choose-your-session page /s/<token>: one link for a whole series.

As on the answer page (mailer/web/rsvp.py): GET and HEAD only log an open, since mail
scanners fetch every link; only a POST with a valid CSRF token records a choice.
Any bad token gets the same 404 page.
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from mailer.mail.context import codec, language_of, meeting_context
from mailer.mail.tokens import BadToken
from mailer.rsvp.series import SeriesPage, answer_series, open_series, view_series
from mailer.web.extensions import db_of, settings_of
from mailer.web.i18n import Words
from mailer.web.rsvp import not_found
from mailer.web.security import csrf_ok

bp = Blueprint("series", __name__, template_folder="templates")


@bp.route("/s/<token>", methods=["GET", "POST"])
def page(token: str):
    settings = settings_of(current_app)
    tokens, tz = codec(settings), settings.timezone
    posted = request.method == "POST"
    valid = posted and csrf_ok()
    answer, chosen = request.form.get("answer", ""), request.form.getlist("session")
    try:
        with db_of(current_app).transaction() as session:
            if not posted:
                return _render(open_series(session, tokens, token, tz), saved=request.args.get("saved") == "1")
            if not valid:
                return _render(view_series(session, tokens, token, tz), answer, chosen, expired=True), 400
            result = answer_series(session, tokens, token, answer, chosen, tz)
            if result is not None and result.error is not None:
                return _render(result, answer, chosen), 422
            if result is not None and result.tested:
                return _render(result, answer, chosen)
            if result is not None:  # every session closed
                return _render(result), 409
    except BadToken:
        return not_found()
    return redirect(url_for(".page", token=token, saved="1"), code=303)


def _render(result: SeriesPage, answer: str | None = None, chosen: list[str] | None = None,
            saved: bool = False, expired: bool = False) -> str:
    """Called inside the transaction, while the ORM objects can still load what they need."""
    settings = settings_of(current_app)
    words = Words(language_of(result.contact, settings))
    errors = {}
    if result.error is not None:
        errors[result.error.field] = words(f"error.{result.error.field}.{result.error.reason}")
    if chosen is None:
        chosen = [line.meeting.slug for line in result.sessions if line.chosen]
    if answer is None:
        answer = "no" if result.declined else "yes"
    sessions = [{**meeting_context(line.meeting, settings, words.lang), "slug": line.meeting.slug,
                 "chosen": line.chosen, "waitlisted": line.waitlisted, "closed": line.closed,
                 "places_left": line.places_left, "full": line.full,
                 "cancelled": line.meeting.cancelled_at is not None} for line in result.sessions]
    return render_template(
        "public/series.html", t=words, lang=words.lang, series=result.series, several=result.several,
        sessions=sessions, chosen=set(chosen), answer=answer, declined=result.declined,
        answered=result.answered, closed=result.closed, errors=errors, saved=saved and result.answered,
        test_link=result.test, tested=result.tested, expired=expired, email=settings.mail_from.addr_spec,
    )
