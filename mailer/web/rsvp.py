"""The answer page /r/<token> and the meeting's calendar entry.

GET and HEAD only log an open: mail scanners fetch every link, `?answer=`
included, before the person reads the mail. Only a POST with a valid CSRF
token records an answer. Any bad token gets the same 404 page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for

from mailer.mail.context import codec, language_of, meeting_context
from mailer.mail.ics import meeting_ics
from mailer.mail.tokens import BadToken
from mailer.meetings.models import QuestionKind
from mailer.rsvp import service
from mailer.rsvp.answers import FIELDS, LIMITS
from mailer.rsvp.models import Answer
from mailer.rsvp.questions import TEXT_LIMIT, form_values_of
from mailer.web.extensions import db_of, settings_of
from mailer.web.i18n import LANGUAGES, Words
from mailer.web.security import csrf_ok

bp = Blueprint("rsvp", __name__, template_folder="templates")


def not_found() -> tuple[str, int]:
    """One page for every bad link, in both languages, saying nothing about why."""
    settings = settings_of(current_app)
    first = settings.language
    sections = [(lang, Words(lang)) for lang in (first, *[other for other in LANGUAGES if other != first])]
    return render_template(
        "public/not_found.html", t=sections[0][1], lang=first, sections=sections, email=settings.mail_from.addr_spec
    ), 404


@bp.route("/r/<token>", methods=["GET", "POST"])
def page(token: str):
    settings = settings_of(current_app)
    tokens, tz = codec(settings), settings.timezone
    # The CSRF check and the form are read before the transaction opens: on SQLite every
    # transaction holds the one write lock, and other answers wait for as long as it is held.
    form = posted_form() if request.method == "POST" and csrf_ok() else None
    try:
        with db_of(current_app).transaction() as session:
            if request.method != "POST":
                result = service.open_rsvp(session, tokens, token, tz)
                return _render(
                    result, _values_from(result, request.args.get("answer")), saved=request.args.get("saved") == "1"
                )
            if form is None:
                result = service.view_rsvp(session, tokens, token, tz)
                return _render(result, posted_form(), expired=True), 400
            refused = service.answer_rsvp(session, tokens, token, form, tz)  # None: saved
            if refused is not None and refused.error is not None:
                return _render(refused, form), 422
            if refused is not None and refused.tested is not None:  # a test link: shown, not saved
                return _render(refused, form)
            if refused is not None:  # answers closed
                return _render(refused, _values_from(refused, None)), 409
    except BadToken:
        return not_found()
    return redirect(url_for(".page", token=token, saved="1"), code=303)


@bp.get("/r/<token>/calendar.ics")
def calendar(token: str):
    settings = settings_of(current_app)
    try:
        with db_of(current_app).transaction() as session:
            contact, meeting = service.resolve_rsvp(session, codec(settings), token)
            lang = language_of(contact, settings)
            body = meeting_ics(meeting, settings, f"{settings.base_url}/r/{token}")
    except BadToken:
        return not_found()
    name = "traff.ics" if lang == "sv" else "meeting.ics"
    return Response(body, mimetype="text/calendar", headers={"Content-Disposition": f'attachment; filename="{name}"'})


def posted_form() -> dict[str, Any]:
    """The POSTed fields. The answer's own fields (answer, guests, comment) take their first value,
    as a browser sends each once; a question's field sent more than once (ticked boxes, or the
    empty hidden field beside the chosen option) keeps its values as a list, which the question's
    kind reads (mailer.rsvp.questions: a list for multi-choice, one value for the others).

    Read before the transaction opens, so the questions' kinds are not known here.
    """
    return {key: values if len(values) > 1 and key not in FIELDS else values[0] for key, values in request.form.lists()}


def question_fields(
    questions,
    values: dict[str, Any],
    answers: dict[int, Any] | None = None,
    language: str = "sv",
    errors: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """What the template needs of each question: its field, kind, texts and the value to show."""
    fields = []
    for question in questions:
        value = (
            values.get(question.field, "") if answers is None else form_values_of([question], answers)[question.field]
        )
        if question.kind is QuestionKind.MULTI:
            value = [v for v in (value if isinstance(value, list) else [value]) if v]
        elif isinstance(value, list):  # as parse_question_answers reads it: the first value given
            value = next((one for one in value if one), "")
        fields.append(
            {
                "field": question.field,
                "kind": question.kind.value,
                "label": question.label(language),
                "required": question.required,
                "options": question.option_labels(language),
                "value": value or ([] if question.kind is QuestionKind.MULTI else ""),
                "error": (errors or {}).get(question.field),
            }
        )
    return fields


def _values_from(result: service.RsvpPage, preselect: str | None) -> dict[str, Any]:
    """The form as the person left it, with `?answer=` from the mail's yes/no buttons on top."""
    response = result.response
    values: dict[str, Any] = {name: "" for name in FIELDS}
    values.update(form_values_of(result.questions, result.answers))
    if response is not None:
        values.update(answer=response.answer.value, guests=str(response.guests), comment=response.comment or "")
    if preselect in (Answer.YES.value, Answer.NO.value):
        values["answer"] = preselect
    return values


def _render(result: service.RsvpPage, values, saved: bool = False, expired: bool = False) -> str:
    """Called inside the transaction, while the ORM objects can still load what they need."""
    settings = settings_of(current_app)
    lang = language_of(result.contact, settings)
    words = Words(lang)
    meeting, response = result.meeting, result.response
    errors = {}
    if result.error is not None:
        error = result.error
        key = f"error.question.{error.reason}" if error.question else f"error.{error.field}.{error.reason}"
        errors[error.field] = words(key, limit=error.limit)
    current: dict[str, Any] | None = None
    if response is not None:
        current = {"answer": response.answer.value, "guests": response.guests, "waitlisted": response.waitlisted}
        if response.waitlisted and meeting.capacity is not None:  # "one place left", not "fully booked"
            current["places_left"] = service.places_left(meeting)
    return render_template(
        "public/rsvp.html",
        t=words,
        lang=words.lang,
        meeting=meeting_context(meeting, settings, words.lang),
        max_guests=meeting.max_guests,
        current=current,
        values={name: values.get(name, "") or "" for name in FIELDS},
        questions=question_fields(result.questions, values, language=words.lang, errors=errors),
        question_limit=TEXT_LIMIT,
        errors=errors,
        closed=result.closed,
        cancelled=meeting.cancelled_at is not None,
        saved=saved and current is not None,
        test_link=result.test,
        tested=result.tested is not None,
        expired=expired,
        limits=LIMITS,
        email=settings.mail_from.addr_spec,
        calendar_url=url_for(".calendar", token=(request.view_args or {})["token"]),
    )
