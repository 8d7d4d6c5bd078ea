"""The public sign-up page /signup/<key> (a meeting's or a series' link key) and its confirmation.

Embeddable: the page may be shown in a frame by the sites listed in `signup_embed_origins`
(Content-Security-Policy frame-ancestors). It works without cookies, as a third-party frame
has none: instead of a CSRF token the form carries a signed time stamp (mailer.signup.guard),
which also refuses a form sent back faster than a person can fill it in. Sending the form is
rate limited per client address (`signup_rate_limit`). The confirmation link's GET only shows a
button: mail scanners open every link, and only the person's POST confirms.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, render_template, request

from mailer.errors import NotFound
from mailer.i18n import format_when
from mailer.mail.context import meeting_context
from mailer.signup import service
from mailer.signup.guard import HONEYPOT, Refused, check_form, form_token, network_of
from mailer.web.extensions import db_of, settings_of
from mailer.web.i18n import Words
from mailer.web.rsvp import not_found

bp = Blueprint("signup", __name__)
FIELDS = ("name", "email", "organisation", "consent")


@bp.after_request
def _frame_ancestors(response):
    """Before the app's public headers (which only fill in what is missing): framing allowed for the listed sites."""
    settings = settings_of(current_app)
    ancestors = " ".join(("'self'", *settings.signup_embed_origins))
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
        f"frame-ancestors {ancestors}; base-uri 'none'"
    )
    return response


def _language() -> str:
    return "en" if (request.values.get("lang") or "").lower() == "en" else settings_of(current_app).language


def _embedded_from() -> str | None:
    """The embedding site's origin, when the browser says the page is shown in a frame (Sec-Fetch-Dest)."""
    if request.headers.get("Sec-Fetch-Dest") != "iframe" or not request.referrer:
        return None
    parts = urlsplit(request.referrer)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    origin = f"{parts.scheme}://{parts.netloc.lower()}"
    return None if origin == _own_origin() else origin[:300]


def _own_origin() -> str:
    parts = urlsplit(settings_of(current_app).base_url)
    return f"{parts.scheme}://{parts.netloc.lower()}"


@bp.route("/signup/<key>", methods=["GET", "POST"])
def page(key: str):
    settings = settings_of(current_app)
    words = Words(_language())
    form = {name: request.form.get(name, "") for name in FIELDS} if request.method == "POST" else {}
    errors: dict[str, str] = {}
    refused = None
    status = 200
    embedded_from = None
    if request.method == "POST":
        try:
            embedded_from = check_form(
                settings.secret_key,
                settings.old_secret_keys,
                request.form.get("form", ""),
                request.form.get(HONEYPOT, ""),
                settings.signup_min_seconds,
            ).embedded_from
        except Refused as exc:
            refused, status = exc.reason, 400
    else:
        embedded_from = _embedded_from()
    database = db_of(current_app)
    try:
        with database.transaction() if request.method == "POST" else database.reading() as session:
            target = service.find_target(session, key)
            closed = target.closed_reason(settings.timezone)
            if request.method == "POST" and refused is None and not closed:
                where = service.Where(
                    f"{settings.base_url}/signup/{key}", embedded_from, network_of(request.remote_addr)
                )
                try:
                    service.request_signup(session, settings, target, form, words.lang, where)
                except service.SignupError as exc:
                    errors[exc.field] = words(f"signup.error.{exc.field}.{exc.reason}")
                    status = 422
                else:
                    return render_template("public/signup_sent.html", t=words, lang=words.lang, title=target.title)
            site = settings.mail_from.display_name or settings.mail_from.addr_spec
            meeting = meeting_context(target.meeting, settings, words.lang) if target.meeting is not None else None
            closes_at = format_when(target.closes_at, None, settings.timezone, words.lang) if target.closes_at else None
            return render_template(
                "public/signup.html",
                t=words,
                lang=words.lang,
                target=target,
                meeting=meeting,
                sessions=[meeting_context(meeting, settings, words.lang) for meeting in target.series.sessions]
                if target.series is not None
                else [],
                organisations=service.organisations(session),
                other=service.OTHER,
                values=form,
                errors=errors,
                refused=refused,
                closed=closed,
                closes_at=closes_at,
                consent_text=service.consent_text(words.lang, site),
                token=form_token(settings.secret_key, embedded_from),
                honeypot=HONEYPOT,
                other_lang="sv" if words.lang == "en" else "en",
            ), status
    except NotFound:
        return not_found()


@bp.route("/signup/confirm/<key>", methods=["GET", "POST"])
def confirm(key: str):
    settings = settings_of(current_app)
    with db_of(current_app).transaction() as session:
        try:
            if request.method != "POST":
                pending = service.pending(session, key)
                words = Words(pending.language)
                return render_template(
                    "public/signup_confirm.html",
                    t=words,
                    lang=words.lang,
                    name=pending.name,
                    title=(pending.meeting or pending.series).title,  # type: ignore[union-attr]
                )
            done = service.confirm(session, settings, key, network_of(request.remote_addr))
        except NotFound:
            words = Words(_language())
            return render_template(
                "public/message.html",
                lang=words.lang,
                title=words("signup.link_gone_title"),
                body=words("signup.link_gone"),
            ), 404
        words = Words(done.language)
        return render_template("public/signup_done.html", t=words, lang=words.lang, done=done, title=done.target.title)
