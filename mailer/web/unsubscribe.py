"""/u/<token>: unsubscribe and subscribe again, including RFC 8058 one-click.

Mail clients POST `List-Unsubscribe=One-Click` without cookies and do not
follow redirects, so that POST needs no CSRF token (it can do nothing but
unsubscribe) and gets a plain 200. The page's own form is CSRF-protected,
since it can also subscribe the address again. Repeating any POST is harmless.
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from mailer.contacts.models import is_test_person
from mailer.logs import mask_email
from mailer.mail.context import codec, language_of
from mailer.mail.tokens import BadToken
from mailer.rsvp import service
from mailer.web.extensions import db_of, settings_of
from mailer.web.i18n import Words
from mailer.web.rsvp import not_found
from mailer.web.security import csrf_ok

bp = Blueprint("unsubscribe", __name__, template_folder="templates")


@bp.route("/u/<token>", methods=["GET", "POST"])
def page(token: str):
    settings = settings_of(current_app)
    tokens = codec(settings)
    one_click = request.method == "POST" and request.form.get("List-Unsubscribe") == "One-Click"
    action = request.form.get("action")
    try:
        with db_of(current_app).transaction() as session:
            if one_click:
                contact = service.unsubscribe(session, tokens, token)
                return _render(contact, unsubscribed=True)
            if request.method != "POST":
                return _render(*service.view_subscription(session, tokens, token))
            if action not in ("unsubscribe", "resubscribe") or not csrf_ok():
                return _render(*service.view_subscription(session, tokens, token)), 400
            if action == "unsubscribe":
                contact = service.unsubscribe(session, tokens, token)
                if is_test_person(contact):  # nothing was stored: nothing to redirect to
                    return _render(contact, unsubscribed=True)
            else:
                service.resubscribe(session, tokens, token)
    except BadToken:
        return not_found()
    return redirect(url_for(".page", token=token, done=action), code=303)


def _render(contact, unsubscribed: bool) -> str:
    settings = settings_of(current_app)
    words = Words(language_of(contact, settings))
    return render_template(
        "public/unsubscribe.html",
        t=words,
        lang=words.lang,
        unsubscribed=unsubscribed,
        welcome_back=not unsubscribed and request.args.get("done") == "resubscribe",
        test_link=is_test_person(contact),
        address=mask_email(contact.email, keep=2),
        sender=settings.mail_from.display_name or settings.mail_from.addr_spec,
    )
