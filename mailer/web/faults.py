"""A fault of the database or the instance's files met while answering a request (a full disk,
a read-only folder, a database server gone): a 503 that names it, never a bare 500.

Why: the CLI names these faults in one line (mailer.cli.FaultGroup), and the web must too. A
recipient whose answer could not be saved is told so and asked to try again (the transaction
was rolled back: nothing of that request is half-written, and nothing is lost silently). Only a
signed-in staff member or an authenticated API caller gets the fault's own text, with the place
and the fix; everyone else gets words without server paths. Anything else stays a 500.
"""

from __future__ import annotations

from flask import Flask, g, render_template, request
from sqlalchemy.exc import SQLAlchemyError

from mailer.operations.faults import InstanceFault, fault_from_error, sqlite_path
from mailer.web.extensions import db_of, settings_of
from mailer.web.i18n import LANGUAGES, Words

RETRY_AFTER_S = 60


def init_app(app: Flask) -> None:
    @app.errorhandler(SQLAlchemyError)
    @app.errorhandler(OSError)
    def _fault(exc: Exception):
        settings = settings_of(app)
        place = sqlite_path(settings.database_url) or db_of(app).engine.url.render_as_string(hide_password=True)
        fault = fault_from_error(exc, place)
        if fault is None:
            raise exc
        app.logger.error("%s %s: %s", request.method, request.path, fault.render("en"))
        return (*_reply(fault, settings.language), {"Retry-After": str(RETRY_AFTER_S)})


def _reply(fault: InstanceFault, default_language: str):
    from mailer.web.api import error_reply, is_api_request, language

    if is_api_request():
        known = g.get("api_caller") is not None
        return error_reply("fault", 503, message=fault.render(language()) if known else None)
    # "save" when something was sent, "show" when a page was only asked for
    action = "save" if request.method == "POST" else "show"
    if g.get("staff") is not None:
        words = Words(g.get("page_language") or default_language)
        title = words(f"fault_{action}_title")
        return render_template("public/message.html", lang=words.lang, title=title, body=fault.render(words.lang)), 503
    # a recipient: the page's language is not known before the database is read, so both are shown
    first = default_language
    sections = [Words(lang) for lang in (first, *[other for other in LANGUAGES if other != first])]
    return render_template(
        "public/fault.html",
        t=sections[0],
        lang=first,
        sections=sections,
        title=f"fault_{action}_title",
        body=f"fault_{action}",
    ), 503
