"""The evaluation form /e/<token>, linked from the thank-you mail after a meeting.

Like the answer page: GET never records anything (scanners open links first),
a POST with a valid CSRF token records, and any bad token gets the same 404.
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from mailer.contacts.models import is_test_person
from mailer.evaluations import service
from mailer.mail.context import codec, language_of, meeting_context
from mailer.mail.tokens import BadToken
from mailer.rsvp.service import resolve
from mailer.web.extensions import db_of, settings_of
from mailer.web.i18n import Words
from mailer.web.rsvp import not_found
from mailer.web.security import csrf_ok

bp = Blueprint("evaluation", __name__)
FIELDS = ("value", "knowledge", "cooperation", "comment")


@bp.route("/e/<token>", methods=["GET", "POST"])
def page(token: str):
    settings = settings_of(current_app)
    try:
        with db_of(current_app).transaction() as session:
            contact, meeting = resolve(session, codec(settings), "evaluation", token)
            if meeting is None:
                raise BadToken()
            words = Words(language_of(contact, settings))
            test = is_test_person(contact)  # a test mail's link: the form works, nothing is stored
            state = {
                "eligible": test or service.is_participant(session, contact, meeting),
                "answered": not test and service.has_answered(session, contact, meeting),
                "anonymous": meeting.evaluation_anonymous,
            }
            current = None if test else service.current_evaluation(session, contact, meeting)
            values = {"value": "", "knowledge": "", "cooperation": "", "comment": ""}
            if current is not None:
                values = {
                    "value": str(current.value),
                    "knowledge": str(current.knowledge),
                    "cooperation": "yes" if current.cooperation else "no",
                    "comment": current.comment or "",
                }
            context = dict(
                t=words,
                lang=words.lang,
                meeting=meeting_context(meeting, settings, words.lang),
                state=state,
                values=values,
                errors={},
                saved=request.args.get("saved") == "1",
                limit=service.COMMENT_MAX,
                test_link=test,
            )
            if request.method != "POST":
                return render_template("public/evaluation.html", **context)
            form = {name: request.form.get(name, "") for name in FIELDS}
            if not csrf_ok():
                return render_template("public/evaluation.html", **{**context, "values": form, "expired": True}), 400
            try:
                if test:
                    service.parse(form)
                    return render_template("public/evaluation.html", **{**context, "values": form, "tested": True})
                service.record_evaluation(session, contact, meeting, form)
            except service.EvaluationError as exc:
                errors = {exc.field: words(f"eval_error.{exc.field}")}
                return render_template("public/evaluation.html", **{**context, "values": form, "errors": errors}), 422
            except (service.NotEligible, service.AlreadyAnswered):
                return render_template("public/evaluation.html", **context), 409
    except BadToken:
        return not_found()
    return redirect(url_for(".page", token=token, saved="1"), code=303)
